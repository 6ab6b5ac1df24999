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
    nb.cells = _parameters_into_rerun_box(nb.cells, pathlib.Path(src).stem, {**_defaults(nb), **(parameters or {})})
    nbformat.write(nb, str(out))
    tmp.unlink(missing_ok=True)
    return out


PARAMETER_TAGS = ("parameters", "injected-parameters")


def _defaults(nb):
    """The parameters cell's own values, as the page would run with no -p."""
    import ast
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            return {t.id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body
                    if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    return {}


def _python_literal(value):
    return f'"{value}"' if isinstance(value, str) else repr(value)


def rerun_box(name, parameters):
    """A collapsed box that says how to rerun the page `name` (a notebooks/ stem), with these parameters."""
    import shlex
    said = ", ".join(f"`{k} = {_python_literal(v)}`" for k, v in parameters.items())
    flags = " ".join(f"-p {k} {shlex.quote(str(v))}" for k, v in parameters.items())
    profile = parameters.get("profile", "auto")
    return f""":::{{admonition}} Rerun this page
:class: dropdown

This page ran with {said}: its parameters (the code is in `notebooks/{name}.md`).
From the repository root, with `.venv` active:

```bash
# this page again, from the records
lrlab notebooks {name} --profile {profile}
# at the small scale, training on a laptop's CPU whatever quick runs are missing
lrlab notebooks {name} --profile quick --allow-training
```

or with jupytext and papermill directly, which take the same parameters:

```bash
jupytext --to ipynb --output - notebooks/{name}.md | \\
  papermill - book/_generated/{name}.ipynb --cwd notebooks \\
    {flags}
```

[Reproducing a chapter](../reproduce.md) has the profiles and the data; the
{{ref}}`cost page <ch-cost>` has each chapter's time at each profile.
:::"""


def _parameters_into_rerun_box(cells, name, parameters):
    """The page without its parameters cells (papermill's injected one too), and the rerun box where
    they stood: a reader meets prose first, a student still finds the knobs."""
    import nbformat
    kept, boxed = [], False
    for cell in cells:
        if set(cell.metadata.get("tags", [])) & set(PARAMETER_TAGS):
            if not boxed:
                kept.append(nbformat.v4.new_markdown_cell(rerun_box(name, parameters)))
                boxed = True
            continue
        kept.append(cell)
    return kept


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

