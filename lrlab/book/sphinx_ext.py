"""The book's own touches to its theme, as a Sphinx extension (`_config.yml`, sphinx.extra_extensions).

- Its stylesheet (static/lrlab.css): tables from glued DataFrames styled like the theme's and kept
  inside the text column: their cells of words wrap (glue_table marks them), so at 1,400 px no
  column hides behind a scroll bar; on a phone a table scrolls in its own box, never the page.
- The light theme by default: the figures are drawn on white. pydata-sphinx-theme 0.17 with no
  default mode logs a console error on every first visit ("Got invalid theme mode").
- One search box (the sidebar's), not a second in pydata's header bar above the page.
- Each script once: sphinx-thebe 0.3.1 registers its inline configuration script once per reading
  of the sources, so pages carried it twice and the second copy failed ("Identifier 'THEBE_JS_URL'
  has already been declared"). The browser check (lrlab.book.browser) found all four.
- The references' labels, author and year (lrlab.book.bibstyle).
"""
import pathlib

STATIC = pathlib.Path(__file__).parent / "static"


def _configure(app, config):
    config.html_static_path.append(str(STATIC))
    config.html_context.setdefault("default_mode", "light")   # pydata-sphinx-theme reads it from the context
    # one search box, the sidebar's: pydata-sphinx-theme 0.17 also puts one in a header bar above it
    config.html_theme_options.setdefault("navbar_persistent", [])


def _each_script_once(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # an inline script's filename is None when added, '' once Sphinx has copied the list: the same
        key = (getattr(script, "filename", str(script)) or "", getattr(script, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique   # in place: it is the builder's own list, where later handlers (MathJax) add theirs


def setup(app):
    from lrlab.book.bibstyle import register
    register()   # the references' author-year labels (bibtex_default_style: lrlab)
    app.connect("config-inited", _configure)
    app.add_css_file("lrlab.css")
    # early: a handler that returns a template name ends the event (emit_firstresult) before later ones
    app.connect("html-page-context", _each_script_once, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
