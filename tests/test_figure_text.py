"""A figure's text must stay readable on the page: figures are scaled to the text column, so the
book refuses one whose text would show under 9 pt there (every figure of every chapter passes
through `glue_figure` when the smoke book executes)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from lrlab.book.page import COLUMN_IN, MIN_TEXT_PT, glue_figure, shown_text_sizes, too_small  # noqa: E402
from lrlab.errors import LrlabError  # noqa: E402


def _figure(width, fontsize):
    fig, ax = plt.subplots(figsize=(width, 3))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.set_xlabel("x label", fontsize=fontsize)
    ax.tick_params(labelsize=fontsize)
    ax.legend(fontsize=fontsize)
    return fig


def test_a_wide_figure_shrinks_its_text_by_the_column_over_its_width():
    fig = _figure(2 * COLUMN_IN, 12)
    sizes = dict(shown_text_sizes(fig))
    assert sizes["x label"] == pytest.approx(6.0) and sizes["a line"] == pytest.approx(6.0)
    assert {text for text, _ in too_small(fig)} >= {"x label", "a line"}


def test_a_figure_narrower_than_the_column_shows_its_text_at_its_own_size():
    fig = _figure(COLUMN_IN / 2, MIN_TEXT_PT)
    assert not too_small(fig)
    assert dict(shown_text_sizes(fig))["x label"] == pytest.approx(MIN_TEXT_PT)


def test_glue_figure_refuses_small_text_naming_it_and_glues_readable_figures(monkeypatch):
    glued = []
    monkeypatch.setattr("lrlab.book.page.glue", lambda name, fig, display: glued.append(name))
    with pytest.raises(LrlabError, match=r"figure fig_small: .* the smallest '[^']+' at 5\.9 pt"):
        glue_figure("fig_small", _figure(10, 7.5))
    glue_figure("fig_ok", _figure(COLUMN_IN, 10))
    assert glued == ["fig_ok"]


def test_tick_labels_outside_the_axes_do_not_count():
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_xticks([-5, 0, 1, 5])
    ax.set_xlim(0, 1)
    assert not {"−5", "5"} & {text for text, _ in shown_text_sizes(fig)}
