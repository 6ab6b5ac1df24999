"""The built book as a reader's browser shows it: every page opened in headless Chromium and checked.

A page fails on a console error or uncaught exception, an image that does not load, an internal link
or #anchor that resolves to nothing, an error or stderr output block, a glue placeholder (an object's
repr where a number or figure belongs), raw TeX that MathJax left unrendered, a table that hides
columns behind its own scroll bar at 1,400 px (a reader of "the paper beside ours" must see ours and
the verdict), or sideways scrolling at a phone's width (390 px). Each page is also shot at 1,400 px for a person to look at.

Playwright drives the browser (the `browser` extra); the browser is the system's Chromium (Debian's
package), found on PATH or named by $LRLAB_CHROMIUM, so nothing is downloaded.
"""
import os
import pathlib
import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from lrlab.errors import LrlabError

PHONE, DESKTOP = 390, 1400
# What a reader must never see in a page's text: TeX that did not render, and glued objects' reprs.
RAW_TEX = re.compile(r"\\[()\[\]]|\$\$|\\(?:frac|times|eta|alpha|lambda|mu|sqrt|cdot|approx|le|ge|mathrm|text)\b")
GLUE_PLACEHOLDERS = re.compile(r"<Figure size [^>]*>|<(?:matplotlib|IPython|pandas|lrlab)\.[\w.]+ object at 0x|"
                               r"\{glue:?\w*\}|glue key .* not found")
# Output blocks of a failed or noisy cell, as myst-nb marks them.
ERROR_OUTPUTS = ".output.stderr, .output.traceback, .output.error"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SKIPPED = {"genindex.html", "search.html"}   # Sphinx's generated lists; their links are Sphinx's own


@dataclass(frozen=True)
class Problem:
    page: str
    kind: str
    detail: str

    def __str__(self):
        return f"{self.page}: {self.kind}: {self.detail}"


def find_chromium():
    """The Chromium binary to drive, or a one-line error saying how to get one."""
    named = os.environ.get("LRLAB_CHROMIUM")
    if named:
        if not pathlib.Path(named).is_file():
            raise LrlabError(f"LRLAB_CHROMIUM={named} is not a file; name a Chromium binary or unset it")
        return named
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise LrlabError(f"no Chromium found (looked for {', '.join(BROWSERS)} on PATH and $LRLAB_CHROMIUM); "
                     f"install Debian's `chromium` package")


def pages(html_root):
    """The book's pages under a built html folder, as paths relative to it."""
    root = pathlib.Path(html_root)
    if not (root / "index.html").is_file():
        raise LrlabError(f"{root} holds no built book (no index.html); run `make book` first")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(root).parts)
                  and p.name not in SKIPPED)


class _Anchors(HTMLParser):
    """The ids a page's links can point at, and its own links (href attributes)."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.redirect = set(), [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":   # the book's index.html
            self.redirect = True
            self.links.append(re.sub(r"^\s*\d+\s*;\s*url=", "", attrs.get("content") or "", flags=re.I))


def _parse(path, cache):
    if path not in cache:
        parser = _Anchors()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = parser
    return cache[path]


def broken_links(html_root, page, cache=None):
    """Internal links of `page` whose file or #anchor does not exist in the build."""
    root, cache = pathlib.Path(html_root), {} if cache is None else cache
    here = root / page
    problems = []
    for href in _parse(here, cache).links:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
            continue   # the world outside the build: not ours to check offline
        target = (here.parent / unquote(parts.path)).resolve() if parts.path else here
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(Problem(page, "broken link", href))
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target, cache).ids:
            problems.append(Problem(page, "missing anchor", href))
    return problems


# Run in the page once it has settled: what the checks need from the live DOM.
_INSPECT = """async (errorOutputs) => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)
                      .map(i => i.getAttribute('src'));
  const errors = Array.from(document.querySelectorAll(errorOutputs))
                      .map(e => e.innerText.trim().split('\\n')[0].slice(0, 120));
  const main = document.querySelector('main') || document.body || document.documentElement;
  const copy = main.cloneNode(true);
  // rendered formulas and code go; TeX that MathJax left as text (span.math unrendered) stays, to be caught
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight, .cell_input, textarea')
      .forEach(e => e.remove());
  return {images, errors, text: copy.innerText};
}"""

_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const over = document.documentElement.scrollWidth - width;
  if (over <= 1) { return null; }
  // what pushes the page wide: elements past the right edge that no scrolling box of their own holds
  const clipped = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') { return true; } } return false; };
  const wide = Array.from(document.querySelectorAll('body *')).filter(e => {
    const r = e.getBoundingClientRect(); return r.right > width + 1 && r.width > 0 && !clipped(e);
  });
  let outermost = wide.filter(e => !wide.includes(e.parentElement));
  if (!outermost.length) {   // no box sticks out: text spills from one (a long line with overflow visible)
    outermost = Array.from(document.querySelectorAll('body *')).filter(e => e.scrollWidth > e.clientWidth + 1
      && e.clientWidth > 0 && getComputedStyle(e).overflowX === 'visible' && !clipped(e)).slice(-3);
  }
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                    + (e.classList.length ? '.' + Array.from(e.classList).slice(0, 2).join('.') : '');
  return {over, elements: outermost.slice(0, 3).map(name)};
}"""


# Tables that scroll inside their own box at the desktop width: columns a reader does not see.
_HIDDEN_COLUMNS = """() => Array.from(document.querySelectorAll('main table')).filter(t => t.clientWidth > 0
    && t.scrollWidth > t.clientWidth + 1).map(t => {
  const box = t.getBoundingClientRect();
  const hidden = Array.from(t.querySelectorAll('thead th')).filter(h => h.getBoundingClientRect().left >= box.right - 1)
                      .map(h => h.innerText.trim() || '(unnamed)');
  const heading = Array.from(document.querySelectorAll('main h1, main h2, main h3, main h4'))
                       .filter(h => h.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
  return {over: t.scrollWidth - t.clientWidth, hidden: hidden.slice(0, 4),
          under: heading ? heading.innerText.replace(/#$/, '').trim() : ''};
})"""


def check_page(browser, html_root, page, screenshots=None):
    """The problems a reader would meet on one page, at 1,400 px and at 390 px."""
    url = (pathlib.Path(html_root).resolve() / page).as_uri()
    problems = []
    context = browser.new_context(viewport={"width": DESKTOP, "height": 900})
    try:
        tab = context.new_page()
        tab.on("console", lambda m: m.type == "error" and problems.append(Problem(page, "console error", m.text)))
        tab.on("pageerror", lambda e: problems.append(Problem(page, "script error", str(e))))
        tab.on("requestfailed", lambda r: problems.append(Problem(page, "failed to load", r.url)))
        tab.goto(url, wait_until="load")
        found = tab.evaluate(_INSPECT, ERROR_OUTPUTS)
        problems += [Problem(page, "image not loaded", src) for src in found["images"]]
        problems += [Problem(page, "error output", text) for text in found["errors"]]
        for match in sorted(set(RAW_TEX.findall(found["text"]))):
            problems.append(Problem(page, "raw TeX", match))
        for match in sorted(set(GLUE_PLACEHOLDERS.findall(found["text"]))):
            problems.append(Problem(page, "glue placeholder", match))
        for table in tab.evaluate(_HIDDEN_COLUMNS):
            problems.append(Problem(page, f"table hides columns at {DESKTOP} px",
                                    f"{table['over']} px too wide under \"{table['under']}\"; "
                                    f"out of sight: {', '.join(table['hidden']) or 'part of the last column'}"))
        if screenshots:
            shot = pathlib.Path(screenshots) / (page.replace("/", "__").removesuffix(".html") + ".png")
            shot.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(shot), full_page=True)
        tab.set_viewport_size({"width": PHONE, "height": 844})
        tab.wait_for_timeout(100)   # let the theme re-lay the page out for a phone
        overflow = tab.evaluate(_OVERFLOW)
        if overflow:
            problems.append(Problem(page, f"scrolls sideways at {PHONE} px",
                                    f"{overflow['over']} px too wide: {', '.join(overflow['elements'])}"))
    finally:
        context.close()
    return problems


def check_book(html_root="_build/html", only=None, screenshots=None, log=print):
    """Every page of the built book checked in headless Chromium; the problems, worst page first."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise LrlabError("the browser check needs playwright: pip install -e '.[browser]' (make installs it) "
                         "(it drives the system's Chromium; no browser download)") from None
    chromium = find_chromium()
    names = pages(html_root)
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise LrlabError(f"no page {unknown[0]} in {html_root}; pages: {', '.join(names)}")
        names = [n for n in names if n in only]
    problems, cache = [], {}
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            for name in names:
                found = broken_links(html_root, name, cache)
                if not _parse(pathlib.Path(html_root) / name, cache).redirect:   # a redirect has only its link
                    found += check_page(browser, html_root, name, screenshots)
                log(f"{name}: {len(found)} problem(s)" if found else f"{name}: ok")
                problems += found
        finally:
            browser.close()
    return problems
