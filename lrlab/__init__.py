"""lrlab: the learning-rate experiments behind the book, on one GPU or a laptop CPU."""
__version__ = "0.1.0"
