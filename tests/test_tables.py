"""A glued table fits the text column: its sentences wrap and its numbers stay on one line, so a
reader of "the paper beside ours" sees our number and the verdict without scrolling the table
(`lrlab check-book` fails a page whose table hides columns at 1,400 px)."""
import re

import pandas as pd

from lrlab.book import page


def _glued_html(monkeypatch, frame, **kwargs):
    glued = {}
    monkeypatch.setattr(page, "glue", lambda name, value, display: glued.update({name: value}))
    page.glue_table("t", frame, **kwargs)
    return glued["t"].to_html()


def _classes_of(html, text):
    return re.search(r'<td[^>]*class="([^"]*)"[^>]*>' + re.escape(text), html).group(1).split()


def test_sentence_columns_wrap_and_numbers_and_short_names_stay_on_one_line(monkeypatch):
    frame = pd.DataFrame({"claim": ["one cycle 0.1-3-0.1, 10k iterations", "budget"],
                          "paper": ["92.4% (text); 92.44% (authors' log)", "89.7% to 92.7%"],
                          "ours": [86.41, 85.81], "verdict": ["not resolved", "confirmed"]},
                         index=[3, 3])   # a repeated index, as a filtered frame may have
    assert page.prose_columns(frame) == ["claim", "paper"]
    html = _glued_html(monkeypatch, frame, formats={"ours": "{:.2f}"})
    assert "prose" in _classes_of(html, "budget") and "prose" in _classes_of(html, "89.7% to 92.7%")
    assert "prose" not in _classes_of(html, "86.41") and "prose" not in _classes_of(html, "confirmed")


def test_a_table_without_sentences_has_no_wrapping_cells(monkeypatch):
    frame = pd.DataFrame({"batch": [128, 256], "lr": [0.1, 0.2], "mode": ["bf16+channels_last+compile", "fp32"],
                          "verdict": ["not resolved", "confirmed"]})
    assert page.prose_columns(frame) == []
    assert "prose" not in _glued_html(monkeypatch, frame)


def test_a_cells_text_reaches_the_page_as_written_not_as_markup(monkeypatch):
    # the cost page's "25,861 (<0.1%)" was raw HTML; so would be "λ < 0.1" or "A & B" in a claim
    frame = pd.DataFrame({"share <of peak>": ["25,861 (<0.1%)"], "claim": ["SGD & SGDW <b>"], "lr": [0.12345]})
    html = _glued_html(monkeypatch, frame, formats={"lr": "{:.2f}"})
    assert "25,861 (&lt;0.1%)" in html and "SGD &amp; SGDW &lt;b&gt;" in html and "share &lt;of peak&gt;" in html
    assert ">0.12<" in html and "<b>" not in html


def test_a_numpy_number_is_glued_as_the_python_number_myst_nb_can_format(monkeypatch):
    import numpy as np
    glued = {}
    monkeypatch.setattr(page, "glue", lambda name, value, display: glued.update({name: value}))
    page.glue_values(threshold=np.float64(0.118), count=np.int64(3), words="as written")
    assert repr(glued["threshold"]) == "0.118" and type(glued["count"]) is int and glued["words"] == "as written"
