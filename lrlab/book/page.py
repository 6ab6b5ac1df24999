"""What a chapter page does with its numbers: glue them for the prose, in one style.

Every value the prose quotes is glued (myst-nb), so the text always says what the records say.
The figure helper lays a figure out, glues it and closes it, the pattern every figure follows.
"""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from lrlab.errors import LrlabError
from lrlab.experiments import train_images
from lrlab.names import MODEL_LABELS

# A figure fills the text column (about 760 px wide in a 1,400-px window; `max-width: 100%`), so its
# text shows at (font pt) x (COLUMN_IN / figure width): a 10-inch figure shrinks 10-pt labels to 8 pt.
# Figures are drawn at FIGURE_DPI, twice the column's 96 px/in, so they stay sharp on dense screens.
COLUMN_IN = 760 / 96
FIGURE_DPI = 200
MIN_TEXT_PT = 9.0
PROSE_CHARS = 14   # a table cell of words longer than this may wrap (see prose_columns)
STYLE = {"figure.dpi": FIGURE_DPI, "axes.spines.top": False, "axes.spines.right": False,
         "font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10, "xtick.labelsize": 9.5,
         "ytick.labelsize": 9.5, "legend.fontsize": 9.5, "figure.titlesize": 11}


def images_words(per_class, classes=10):
    """"all 50,000" or "5,000": how many CIFAR-10 training images a run with `per_class` of each of its
    `classes` saw."""
    n = train_images(per_class, classes)
    return f"all {n:,}" if n == train_images(None, classes) else f"{n:,}"


def use_style():
    plt.rcParams.update(STYLE)


def model_label(model):
    return MODEL_LABELS.get(model, model)


def glue_values(**values):
    """Glue each value under its name, for {glue:text} in the prose. A numpy scalar is glued as the Python
    number it holds: myst-nb formats the glued repr, and 'np.float64(0.12)' is no number to it."""
    for name, value in values.items():
        glue(name, value.item() if isinstance(value, np.generic) else value, display=False)


def glue_markdown(**texts):
    """Glue each text as Markdown, for {glue:md} (bold, links; no $...$ maths in glued Markdown)."""
    for name, text in texts.items():
        glue(name, Markdown(text), display=False)


def prose_columns(frame):
    """The columns of words rather than numbers or names: any cell of text with a space and longer than
    PROSE_CHARS. The book's stylesheet lets these wrap (the browser wraps them only where the table
    would not fit otherwise); every other cell stays on one line. So a table of claims, numbers and
    verdicts fits the text column instead of hiding its last columns behind a scroll bar."""
    def words(v):
        return isinstance(v, str) and " " in v.strip() and len(v) > PROSE_CHARS
    return [c for c in frame.columns if frame[c].map(words).any()]


def glue_table(name, frame, formats=None, na_rep=None):
    """Glue a DataFrame as a table without its index; `formats` as pandas' Styler.format takes them."""
    frame = frame.reset_index(drop=True)   # hidden anyway; a repeated index would confuse the cell classes
    style = frame.style
    prose = prose_columns(frame)
    if prose:
        classes = pd.DataFrame("", index=frame.index, columns=frame.columns)
        classes[prose] = "prose"
        style = style.set_td_classes(classes)
    # cells and headers are text, never markup: "<0.1%" or "a < b" must reach the page as written
    style = style.format(formats, na_rep=na_rep, escape="html").format_index(escape="html", axis=1)
    glue(name, style.hide(axis="index"), display=False)


def shown_text_sizes(fig):
    """[(text, pt)]: every visible text of `fig` and the size it shows at on the page, where the
    figure is scaled to the column's width (never up: a narrow figure shows at its own size)."""
    from matplotlib.text import Text
    scale = min(1.0, COLUMN_IN / fig.get_figwidth())
    fig.canvas.draw()   # tick labels exist once drawn
    return [(t.get_text(), t.get_fontsize() * scale) for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and _on_canvas(t)]


def _on_canvas(text):
    """Tick labels outside the axes' limits are kept but never drawn."""
    box = text.get_window_extent()
    w, h = text.figure.canvas.get_width_height()
    return box.x1 > 0 and box.y1 > 0 and box.x0 < w and box.y0 < h


def too_small(fig, minimum=MIN_TEXT_PT):
    """The texts of `fig` that would show under `minimum` points on the page."""
    return [(text, round(pt, 1)) for text, pt in shown_text_sizes(fig) if pt < minimum - 1e-9]


def glue_figure(name, fig):
    """Lay the figure out (unless it has its own layout engine), glue it under `name` and close it.
    A figure whose text would show under MIN_TEXT_PT on the page is refused, naming the text."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    small = too_small(fig)
    if small:
        plt.close(fig)
        text, pt = min(small, key=lambda s: s[1])
        raise LrlabError(f"figure {name}: {len(small)} text(s) would show under {MIN_TEXT_PT:g} pt on the page, "
                         f"the smallest {text!r} at {pt} pt ({fig.get_figwidth():g} in wide, scaled to the "
                         f"{COLUMN_IN:.1f}-in column): enlarge the text or narrow the figure")
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
