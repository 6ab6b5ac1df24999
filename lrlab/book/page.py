"""What a chapter page does with its numbers: glue them for the prose, in one style.

Every value the prose quotes is glued (myst-nb), so the text always says what the records say.
The figure helper lays a figure out, glues it and closes it, the pattern every figure follows.
"""
import matplotlib.pyplot as plt
from IPython.display import Markdown
from myst_nb import glue

from lrlab.experiments import CIFAR10_TRAIN_IMAGES, train_images
from lrlab.names import MODEL_LABELS

STYLE = {"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False}


def images_words(per_class):
    """"all 50,000" or "5,000": how many CIFAR-10 training images a run with `per_class` saw."""
    n = train_images(per_class)
    return f"all {n:,}" if n == CIFAR10_TRAIN_IMAGES else f"{n:,}"


def use_style():
    plt.rcParams.update(STYLE)


def model_label(model):
    return MODEL_LABELS.get(model, model)


def glue_values(**values):
    """Glue each value under its name, for {glue:text} in the prose."""
    for name, value in values.items():
        glue(name, value, display=False)


def glue_markdown(**texts):
    """Glue each text as Markdown, for {glue:md} (bold, links; no $...$ maths in glued Markdown)."""
    for name, text in texts.items():
        glue(name, Markdown(text), display=False)


def glue_table(name, frame, formats=None, na_rep=None):
    """Glue a DataFrame as a table without its index; `formats` as pandas' Styler.format takes them."""
    style = frame.style
    if formats is not None or na_rep is not None:
        style = style.format(formats, na_rep=na_rep)
    glue(name, style.hide(axis="index"), display=False)


def glue_figure(name, fig):
    """Lay the figure out (unless it has its own layout engine), glue it under `name` and close it."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    glue(name, fig, display=False)
    plt.close(fig)


def glue_header(chapter, small_scale, parts=(), sources=None, note_prefix=""):
    """What the top of every chapter glues: `profile`, `devices`, `n_runs` (of `parts`, all when none
    is named), `profile_note` (the chapter's note, `small_scale` saying what the quick profile shrinks)
    and one `source_<name>` caption sentence per entry of `sources` (name -> parts; "" glues `source`).
    It also sets the book's figure style."""
    use_style()
    glue_values(profile=chapter.label, devices=chapter.devices(*parts), n_runs=len(chapter.records(*parts)))
    glue_markdown(profile_note=note_prefix + chapter.note(small_scale))
    glue_markdown(**{f"source_{name}" if name else "source": chapter.source(*figure_parts)
                     for name, figure_parts in (sources or {}).items()})
