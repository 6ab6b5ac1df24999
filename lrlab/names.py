"""The names a run may use, one home each. `RunConfig` validates against them without importing
the modules that implement them (no torch, no PIL to build a config); each implementing module
imports its list from here, and its tests check every name is implemented."""

TASKS = ("cifar10", "shakespeare")
MODELS = ("resnet8", "resnet20", "resnet32", "resnet56", "mlp", "chargpt")
MODEL_LABELS = {"resnet8": "ResNet-8", "resnet20": "ResNet-20", "resnet32": "ResNet-32", "resnet56": "ResNet-56",
                "mlp": "MLP", "chargpt": "character GPT"}   # how the book's prose names them
PARAMETERIZATIONS = ("sp", "mup")
INITS = ("default", "lecun")             # "lecun": N(0, 1/fan_in), zero biases
OPTIMIZERS = ("sgd", "sgdw", "adam", "adamw", "lion")
SCHEDULES = (                            # in the gallery's order
    "constant", "step", "multistep", "exponential", "cosine", "cosine_warm_restarts", "warmup_cosine",
    "triangular", "one_cycle", "one_cycle_fastai", "reduce_on_plateau", "polynomial", "linear",
    "warmup_stable_decay", "inverse_sqrt", "warmup_multistep")
AUGMENTATIONS = ("none", "flip", "crop+flip")
# the GPT's attention logit scale: muP's 1/d_head is for a head size that grows with width; with
# the head size fixed, 1/sqrt(d_head) under both keeps SP and muP equal at the base width
ATTN_SCALES = ("1/sqrt(d_head)", "1/d_head")
PRECISIONS = ("auto", "fp32", "bf16")
RUNNERS = ("lrlab", "torch-lr-finder")
PROFILES = ("smoke", "quick", "gpu", "full")   # gpu: what the book publishes from short GPU jobs
