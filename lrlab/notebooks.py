"""Execute each chapter's MyST source with papermill into book/_generated/ for Jupyter Book."""
import os
import pathlib

from lrlab.errors import LrlabError, check_choice

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
GENERATED = ROOT / "book" / "_generated"


def chapters():
    return {p.stem: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))}


def run_notebook(src, out_dir=GENERATED, parameters=None, timeout=None):
    """jupytext.read -> papermill -> out_dir/<stem>.ipynb, the injected parameters folded away."""
    import jupytext
    import nbformat
    import papermill as pm
    nb = jupytext.read(src)
    nb.metadata.pop("jupytext", None)   # else Jupyter would re-pair the output to a second .md page
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{pathlib.Path(src).stem}.ipynb"
    tmp = out.with_suffix(".partial.ipynb")   # never leave a half-executed page where the book reads
    nb = pm.execute_notebook(nb, str(tmp), parameters=parameters or {}, kernel_name="python3",
                             cwd=str(NOTEBOOKS), progress_bar=False, execution_timeout=timeout)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            cell.metadata["tags"] = tags + ["hide-input"]
    nbformat.write(nb, str(out))
    tmp.unlink(missing_ok=True)
    return out


def run_chapters(names, profile, results, allow_training=False, out_dir=GENERATED, log=print):
    if not NOTEBOOKS.is_dir():   # an installed (non-editable) lrlab carries the package, not the book's sources
        raise LrlabError(f"lrlab notebooks needs the book's sources, and {NOTEBOOKS} does not exist: run it "
                         "in a clone of the repository, installed with `pip install -e .`")
    available = chapters()
    for name in names or available:
        check_choice("chapter", name, available)
    outs = []
    for name in names or available:
        # relative to notebooks/, where the chapter runs: no local path lands in the book
        results_rel = os.path.relpath(pathlib.Path(results).resolve(), NOTEBOOKS)
        params = dict(profile=profile, results=results_rel, allow_training=allow_training)
        log(f"executing {name} (profile={profile})")
        try:
            outs.append(run_notebook(available[name], out_dir, params))
        except Exception as e:   # papermill's error carries the whole traceback; keep one line
            (pathlib.Path(out_dir) / f"{name}.partial.ipynb").unlink(missing_ok=True)
            last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise LrlabError(f"chapter {name} failed: {last}") from None
    return outs

