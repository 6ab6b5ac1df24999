"""The browser check finds each kind of problem a reader would meet, and passes a clean page."""
import base64

import pytest

from lrlab.errors import LrlabError

pytest.importorskip("playwright", reason="the browser check needs playwright (the browser extra)")
from lrlab.book import browser  # noqa: E402

try:
    browser.find_chromium()
except LrlabError as e:   # .ci/run installs Debian's chromium; a laptop without one skips
    pytest.skip(str(e), allow_module_level=True)

PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
PAGE = """<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width">{head}</head>
<body><main>{body}</main></body></html>"""


@pytest.fixture
def site(tmp_path):
    (tmp_path / "pixel.png").write_bytes(PIXEL)
    (tmp_path / "index.html").write_text(PAGE.format(head="", body=(
        '<h1 id="top">A clean page</h1><p>Rate 0.1, <a href="book/bad.html#fine">a link</a>, '
        '<a href="#top">an anchor</a>, <a href="https://example.org/x">the world</a>.</p>'
        '<img src="pixel.png" alt="a pixel"><pre style="overflow-x: auto">code may say \\eta and be wide ' + "x" * 300 + '</pre>')))
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "bad.html").write_text(PAGE.format(
        head="<script>console.error('boom');</script>",
        body=('<p id="fine">A formula left as text: <span class="math">\\(\\eta = 0.1\\)</span></p>'
              '<img src="missing.png" alt="gone"><a href="nowhere.html">broken</a> '
              '<a href="../index.html#no-such-id">no anchor</a>'
              '<div class="output stderr"><pre>UserWarning: something</pre></div>'
              '<p>&lt;Figure size 640x480 with 1 Axes&gt;</p>'
              '<div style="width: 800px">too wide for a phone</div>'
              '<table style="display: block; max-width: 300px; overflow-x: auto"><thead><tr><th>claim</th>'
              '<th>ours</th></tr></thead><tbody><tr><td style="white-space: nowrap">' + 'wide ' * 60 + '</td>'
              '<td>0.1</td></tr></tbody></table>')))
    (tmp_path / "moved.html").write_text('<meta http-equiv="Refresh" content="0; url=index.html" />')
    return tmp_path


def test_each_kind_of_problem_is_found_on_its_page_and_a_clean_page_passes(site, tmp_path_factory):
    shots = tmp_path_factory.mktemp("shots")
    problems = browser.check_book(site, screenshots=shots, log=lambda m: None)
    kinds = {p.kind for p in problems if p.page == "book/bad.html"}
    assert {"console error", "image not loaded", "broken link", "missing anchor", "raw TeX", "error output",
            "glue placeholder", f"scrolls sideways at {browser.PHONE} px",
            f"table hides columns at {browser.DESKTOP} px"} <= kinds
    assert not [p for p in problems if p.page != "book/bad.html"]
    assert any("nowhere.html" in p.detail for p in problems if p.kind == "broken link")
    assert any("#no-such-id" in p.detail for p in problems if p.kind == "missing anchor")
    hidden, = [p.detail for p in problems if p.kind.startswith("table hides")]
    assert "out of sight: ours" in hidden
    assert {s.name for s in shots.iterdir()} == {"index.png", "book__bad.png"}   # not the redirect


def test_a_folder_without_a_built_book_or_an_unknown_page_is_a_one_line_error(site, tmp_path):
    with pytest.raises(LrlabError, match="no built book"):
        browser.check_book(tmp_path / "nothing")
    with pytest.raises(LrlabError, match="no page nope.html.*pages: book/bad.html, index.html, moved.html"):
        browser.check_book(site, only=["nope.html"])
