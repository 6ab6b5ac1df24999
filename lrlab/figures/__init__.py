"""The book's figures, one module per chapter: each function takes what the chapter's analysis
computed (frames, numbers) and returns a matplotlib figure, which the page lays out and glues
(`lrlab.book.page.glue_figure`). Nothing here reads records or decides a verdict."""


def label_log_decades(axis):
    """A log axis labelled at 1, 2 and 5 of each decade, as plain numbers: with labels at the decades only,
    a curve spanning one or two decades is read off two labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    axis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    axis.set_minor_formatter(NullFormatter())
