"""Execute each chapter's MyST source with papermill into book/_generated/ for Jupyter Book."""
import os
import pathlib
import re
import tempfile

from lrlab.errors import LrlabError, check_choice, check_int

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
GENERATED = ROOT / "book" / "_generated"


def chapters():
    return {p.stem: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))}


def run_notebook(src, out_dir=GENERATED, parameters=None, timeout=None, cwd=None):
    """jupytext.read -> papermill -> out_dir/<stem>.ipynb, the injected parameters folded away; the
    page runs in `cwd` (default notebooks/)."""
    import jupytext
    import nbformat
    import papermill as pm
    nb = jupytext.read(src)
    nb.metadata.pop("jupytext", None)   # else Jupyter would re-pair the output to a second .md page
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{pathlib.Path(src).stem}.ipynb"
    tmp = out.with_suffix(".partial.ipynb")   # never leave a half-executed page where the book reads
    with tempfile.TemporaryDirectory(prefix="lrlab-kernel-") as sockets:
        nb = pm.execute_notebook(nb, str(tmp), parameters=parameters or {}, kernel_name="python3",
                                 cwd=str(cwd or NOTEBOOKS), progress_bar=False, execution_timeout=timeout,
                                 kernel_manager_class=_ipc_kernel_manager(sockets))
    defaults = _defaults(nb)
    changed = {k: v for k, v in (parameters or {}).items() if k not in OWN_OPTIONS and v != defaults.get(k)}
    nb.cells = _parameters_into_rerun_box(nb.cells, pathlib.Path(src).stem, {**defaults, **(parameters or {})},
                                          changed)
    nbformat.write(nb, str(out))
    tmp.unlink(missing_ok=True)
    return out


def _ipc_kernel_manager(folder):
    """A kernel manager whose kernel talks over Unix sockets in `folder`, not TCP ports: a local kernel
    needs no network, and ipykernel warns about unencrypted TCP once per page otherwise."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IpcKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self):
            return "ipc"

        @default("ip")
        def _default_ip(self):
            return os.path.join(folder, "kernel")
    return IpcKernelManager


PARAMETER_TAGS = ("parameters", "injected-parameters")


def _defaults(nb):
    """The parameters cell's own values, as the page would run with no -p."""
    import ast
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            return {t.id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body
                    if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    return {}


def page_parameters(name):
    """The parameters of chapter `name` (a notebooks/ stem) and their values in the book."""
    import jupytext
    available = chapters()
    return _defaults(jupytext.read(available[check_choice("chapter", name, available)]))


def parse_value(text):
    """A -p value as the page's Python would read it: 100 -> 100, 1e-2 -> 0.01, True, "cosine" (a
    word that is not a Python literal stays a string, as with papermill -p)."""
    import ast
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


OWN_OPTIONS = {"profile": "--profile", "results": "--results", "allow_training": "--allow-training"}


def check_knobs(name, knobs):
    """`knobs` ({parameter: value}) for chapter `name`, each a parameter of its page and of the type
    its value in the book has (an int where a float is expected is fine)."""
    defaults = page_parameters(name)
    for key, value in knobs.items():
        if key in OWN_OPTIONS:
            raise LrlabError(f"parameter {key} is set by lrlab notebooks' own option {OWN_OPTIONS[key]}, not -p")
        check_choice(f"parameter of {name}", key, [k for k in defaults if k not in OWN_OPTIONS])
        want = type(defaults[key])
        fits = isinstance(value, want) or (want is float and isinstance(value, int) and not isinstance(value, bool))
        if not fits:
            raise LrlabError(f"parameter {key} of {name} takes a {want.__name__} (the book's value is "
                             f"{defaults[key]!r}), got {value!r}")
    return {k: float(v) if isinstance(defaults[k], float) else v for k, v in knobs.items()}


def _python_literal(value):
    return f'"{value}"' if isinstance(value, str) else repr(value)


def rerun_box(name, parameters, changed=None):
    """A collapsed box that says how to rerun the page `name` (a notebooks/ stem), with these parameters
    (`changed`: those not at the book's values besides profile, results and allow_training)."""
    import shlex
    said = ", ".join(f"`{k} = {_python_literal(v)}`" for k, v in parameters.items())
    flags = " ".join(f"-p {k} {shlex.quote(str(v))}" for k, v in parameters.items())
    knobs = "".join(f" -p {k} {shlex.quote(str(v))}" for k, v in (changed or {}).items())
    profile = parameters.get("profile", "auto")
    return f""":::{{admonition}} Rerun this page
:class: dropdown

This page ran with {said}: its parameters (the code is in `notebooks/{name}.md`).
From the repository root, with `.venv` active:

```bash
# this page again, from the records
lrlab notebooks {name} --profile {profile}{knobs}
# at the small scale, training on a laptop's CPU whatever quick runs are missing
lrlab notebooks {name} --profile quick --allow-training{knobs}
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


def _parameters_into_rerun_box(cells, name, parameters, changed=None):
    """The page without its parameters cells (papermill's injected one too), and the rerun box where
    they stood: a reader meets prose first, a student still finds the knobs."""
    import nbformat
    kept, boxed = [], False
    for cell in cells:
        if set(cell.metadata.get("tags", [])) & set(PARAMETER_TAGS):
            if not boxed:
                kept.append(nbformat.v4.new_markdown_cell(rerun_box(name, parameters, changed)))
                boxed = True
            continue
        kept.append(cell)
    return kept


def run_chapters(names, profile, results, allow_training=False, out_dir=GENERATED, log=print, knobs=None, jobs=1):
    """Execute chapters `names` (all when empty) at `profile`, `jobs` pages at a time; `knobs`
    ({parameter: value}, papermill's -p, or a function of a page's name that gives its own) set other
    parameters of the pages, such as an exercise's, checked against each page's own. Returns the
    written notebooks in the order of `names`; a page that fails is named in one line, once the pages
    running beside it have ended."""
    if not NOTEBOOKS.is_dir():   # an installed (non-editable) lrlab carries the package, not the book's sources
        raise LrlabError(f"lrlab notebooks needs the book's sources, and {NOTEBOOKS} does not exist: run it "
                         "in a clone of the repository, installed with `pip install -e .`")
    check_int("jobs", jobs)
    available = chapters()
    names = list(names or available)
    knobs_of = knobs if callable(knobs) else (lambda name: knobs or {})
    # relative to notebooks/, where the chapter runs: no local path lands in the book
    results_rel = os.path.relpath(pathlib.Path(results).resolve(), NOTEBOOKS)
    pages = {}   # every page's name and knobs checked before any page runs
    for name in names:
        params = dict(profile=profile, results=results_rel, allow_training=allow_training,
                      **check_knobs(check_choice("chapter", name, available), knobs_of(name)))
        pages[name] = (available[name], out_dir, str(NOTEBOOKS), params)
    outs = {}
    for wave in _waves(names, allow_training):
        if jobs == 1 or len(wave) == 1:
            for name in wave:
                log(f"executing {name} (profile={profile})")
                outs[name] = _run_page(name, *pages[name])
            continue
        # papermill changes the working directory of its whole process while a page runs, so pages side
        # by side each need a process of their own (threads would start kernels in each other's folder)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        log(f"executing {', '.join(wave)} (profile={profile}), {min(jobs, len(wave))} at a time")
        with ProcessPoolExecutor(min(jobs, len(wave)), mp_context=multiprocessing.get_context("spawn")) as pool:
            outs.update(zip(wave, pool.map(_run_page, wave, *zip(*(pages[name] for name in wave)))))
    return [outs[name] for name in names]


def _run_page(name, src, out_dir, cwd, params):
    """run_notebook for chapter `name`; a failure is one line naming it, and leaves no partial page."""
    try:
        return run_notebook(src, out_dir, params, cwd=cwd)
    except Exception as e:   # papermill's error carries the whole traceback; keep one line
        (pathlib.Path(out_dir) / f"{name}.partial.ipynb").unlink(missing_ok=True)
        last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise LrlabError(f"chapter {name} failed{_failing_line(e)}: {last}") from None


def _failing_line(error):
    """' at `runs = ...`': the page's own line that raised, from papermill's traceback (its first '---->'
    line is in the cell; later ones are in the code it called), or '' where there is none."""
    for frame in getattr(error, "traceback", None) or []:
        found = re.search(r"^-+> *\d+ (.+)$", re.sub(r"\x1b\[[0-9;]*m", "", frame), re.M)
        if found:
            return f" at `{found.group(1).strip()}`"
    return ""


def _waves(names, allow_training):
    """The pages in the order they may run side by side. Pages that train their chapter's missing runs
    (a chapter's page: its stem names an experiment) run before the pages that read every chapter (the
    scorecard, the landing page), so that no run is trained by two pages at once."""
    if not allow_training:
        return [names]
    from lrlab.experiments import EXPERIMENTS
    own = [n for n in names if n.split("_", 1)[1] in EXPERIMENTS]
    return [wave for wave in (own, [n for n in names if n not in own]) if wave]


def default_jobs(allow_training):
    """Pages at a time for `lrlab notebooks`: one per core (at most 4), or one when the pages may train
    (a training run uses every core itself)."""
    return 1 if allow_training else max(1, min(4, os.cpu_count() or 1))
