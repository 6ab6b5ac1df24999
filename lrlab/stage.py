"""Stage the git-ignored folder a bare GPU box needs beside the checkout.

The box has torch, numpy, pandas, matplotlib, torchvision, tqdm, pillow and pyyaml, no network and
no .git. So the folder carries the data sets with a SHA256SUMS to check them by, the wheels of the
two packages it lacks (`mup` for the muP chapter, `torch-lr-finder` for the range-test comparison)
and of their install-time dependencies it lacks, and the commit the tree came from, which
lrlab.env.git_commit() reads when git cannot say. The folder must be git-ignored: data sets and
wheels never belong in a commit; it travels as an ignored path a job names.

Layout:  <out>/data/{<CIFAR-10 source>, tinyshakespeare.txt, SHA256SUMS}
         <out>/wheels/{*.whl, SHA256SUMS}
         <out>/commit
"""
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lrlab.data import sha256_file
from lrlab.errors import LrlabError

WHEELS = {"mup": "1.0.0", "torch-lr-finder": "0.2.2"}
# Versions of the dependencies we checked, for the ones the box lacks; pip download needs a version.
DEPENDENCY_PINS = {"seaborn": "0.13.2"}
# The box's packages, and the hard dependencies they bring along (matplotlib's `packaging` is
# the one torch-lr-finder asks for), so none of these is carried.
BOX_HAS = frozenset({
    "torch", "numpy", "pandas", "matplotlib", "torchvision", "tqdm", "pillow", "pyyaml",
    "packaging", "pyparsing", "python-dateutil", "cycler", "kiwisolver", "fonttools", "contourpy",  # matplotlib's
    "pytz", "tzdata", "six",                                                                       # pandas'
    "filelock", "typing-extensions", "sympy", "networkx", "jinja2", "fsspec", "setuptools",       # torch's
})
PIP_DOWNLOAD = ("download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
                "--platform", "manylinux2014_x86_64", "--platform", "any")
SUMS = "SHA256SUMS"


def stage(out=".stage", data_root=None, wheels=True, log=print):
    """Build `out` afresh (in a temp folder beside it, swapped in at the end: an error leaves the
    old one as it was). With wheels=False, wheels staged before are kept; none are fetched."""
    from lrlab.data import data_root as resolve_data_root, find_cifar10
    out = Path(out).absolute()
    _check_ignored(out)
    cifar = find_cifar10(data_root)
    if cifar is None:
        raise LrlabError(f"no CIFAR-10 found in {resolve_data_root(data_root)}; point --data at a folder that "
                         "holds it (a cifar-10-batches-py folder, an image-folder tree or a .tar.xz/.tar.gz)")
    shakespeare = _find_tiny_shakespeare(data_root)
    commit = _commit(out)

    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        data = temp / "data"
        data.mkdir()
        _copy_cifar(cifar, data)
        shutil.copy2(shakespeare, data / shakespeare.name)
        if find_cifar10(data) is None:   # the box looks for it with the same rule
            raise LrlabError(f"staged CIFAR-10 from {cifar} is not found in {data}; stage a folder or archive")
        write_sums(data)
        if wheels:
            fetch_wheels(temp / "wheels", log)
            write_sums(temp / "wheels")
        elif (out / "wheels").is_dir():
            shutil.copytree(out / "wheels", temp / "wheels")
            log(f"kept the wheels staged before in {out / 'wheels'}")
        (temp / "commit").write_text(commit + "\n")
        _swap_in(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"staged {out} ({total / 2**20:.1f} MiB) at commit {commit}")
    return out


def verify_staged(data_dir):
    """Re-hash the files SHA256SUMS names; one-line LrlabError for a missing or changed file.
    Returns the number of files checked."""
    data_dir = Path(data_dir)
    sums = data_dir / SUMS
    if not sums.is_file():
        raise LrlabError(f"{sums} is missing; stage again with `lrlab stage`")
    checked = 0
    for number, line in enumerate(sums.read_text().splitlines(), 1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", line)
        if match is None or ".." in match[2].split("/") or match[2].startswith("/"):
            raise LrlabError(f"{sums}:{number} is not a sha256sum line with a relative path")
        path = data_dir / match[2]
        if not path.is_file():
            raise LrlabError(f"staged file {path} is missing (listed in {sums}); stage again")
        actual = sha256_file(path)
        if actual != match[1].lower():
            raise LrlabError(f"checksum mismatch for staged {path}: expected {match[1].lower()}, got {actual}; "
                             "stage again")
        checked += 1
    if not checked:
        raise LrlabError(f"{sums} lists no files; stage again")
    return checked


# ----------------------------------------------------------------------------- data

def write_sums(folder):
    """`sha256sum` format, paths relative to `folder`: `cd folder && sha256sum -c SHA256SUMS` works too."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() != SUMS)
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in files]
    (folder / SUMS).write_text("".join(lines))


def _find_tiny_shakespeare(root):
    """The file lrlab.data.load_tiny_shakespeare would read, without reading it."""
    from lrlab.data.paths import CORPUS_NAMES, data_root
    base = data_root(root)
    if base.is_file() and base.suffix != ".txt":
        base = base.parent
    candidates = [base] if base.is_file() else [base / name for name in CORPUS_NAMES]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise LrlabError(f"no Tiny Shakespeare found in {base}; put tinyshakespeare.txt there or point --data at it")
    return found


def _copy_cifar(source, data):
    if source.is_file():
        shutil.copy2(source, data / source.name)
        sidecar = source.with_name(source.name + ".sha256")   # lrlab.data checks it when present
        if sidecar.is_file():
            shutil.copy2(sidecar, data / sidecar.name)
    elif (source / "data_batch_1").is_file():   # found on the box only under this name
        shutil.copytree(source, data / "cifar-10-batches-py")
    else:
        shutil.copytree(source, data / source.name)


def _swap_in(temp, out):
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(temp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temp, out)


# ----------------------------------------------------------------------------- git

def _git(anchor, *args):
    try:
        return subprocess.run(["git", "-C", str(anchor), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise LrlabError(f"cannot run git: {e}; staging needs git") from None


def _existing_parent(path):
    while not path.exists():
        path = path.parent
    return path if path.is_dir() else path.parent


def _check_ignored(out):
    """`out` must be ignored by git: asked about a path inside it, since a pattern like `.stage/`
    matches only a folder and `out` may not exist yet."""
    result = _git(_existing_parent(out), "check-ignore", "-q", "--", str(out / "commit"))
    if result.returncode == 1:
        raise LrlabError(f"{out} is not git-ignored; add '{out.name}/' to .gitignore first "
                         "(staged data and wheels must never be committed)")
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["git check-ignore failed"])[-1]
        raise LrlabError(f"{out} must be a git-ignored folder inside a git checkout: {why}")


def _commit(out):
    """HEAD of the checkout that holds `out`, with `-dirty` when tracked files differ from it."""
    anchor = _existing_parent(out)
    head = _git(anchor, "rev-parse", "HEAD")
    if head.returncode != 0 or not head.stdout.strip():
        why = (head.stderr.strip().splitlines() or ["no commit"])[-1]
        raise LrlabError(f"cannot read the commit of the checkout at {anchor}: {why}")
    status = _git(anchor, "status", "--porcelain", "--untracked-files=no")
    if status.returncode != 0:
        raise LrlabError(f"git status failed in {anchor}: {status.stderr.strip()}")
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


# ----------------------------------------------------------------------------- wheels

def normalize(name):
    """PEP 503: `Torch_LR.Finder` and `torch-lr-finder` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line):
    """The project a Requires-Dist line names, or None for an extra's (we install no extras).
    Other markers count as met: at worst a wheel too many is carried."""
    requirement, _, marker = line.partition(";")
    if re.search(r"\bextra\b", marker):
        return None
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return normalize(match[1]) if match else None


def wheels_needed(requires_of):
    """{project: version} of the wheels to carry: WHEELS and, transitively, every install-time
    dependency the box lacks. `requires_of(project, version)` gives the Requires-Dist lines (from a
    downloaded wheel's METADATA when staging; from any metadata in tests)."""
    needed, queue = {}, list(WHEELS.items())
    while queue:
        name, version = queue.pop(0)
        name = normalize(name)
        if name in needed:
            continue
        needed[name] = version
        for line in requires_of(name, version):
            dependency = requirement_name(line)
            if dependency is None or dependency in BOX_HAS or dependency in needed:
                continue
            if dependency not in DEPENDENCY_PINS:
                raise LrlabError(f"{name} {version} needs {dependency}, which the GPU box lacks and which has no "
                                 "version in lrlab.stage.DEPENDENCY_PINS; add one")
            queue.append((dependency, DEPENDENCY_PINS[dependency]))
    return needed


def wheel_requires(wheel):
    """The Requires-Dist lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        if len(names) != 1:
            raise LrlabError(f"wheel {wheel} has no single .dist-info/METADATA")
        metadata = email.parser.Parser().parsestr(z.read(names[0]).decode("utf-8"))
    return metadata.get_all("Requires-Dist") or []


def is_pure_wheel(filename):
    """`name-version[-build]-py3-none-any.whl`: installs on any Python 3 and platform."""
    tags = filename[:-len(".whl")].split("-")
    return filename.endswith(".whl") and len(tags) >= 5 and tags[-2] == "none" and tags[-1] == "any"


def fetch_wheels(dest, log=print):
    """Download (or, for a project published as an sdist only, build) one pure-Python wheel per
    needed project into `dest`; return their paths."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    fetched = {}

    def requires_of(name, version):
        fetched[name] = _fetch_one(name, version, dest, log)
        return wheel_requires(fetched[name])

    wheels_needed(requires_of)
    for name, wheel in fetched.items():
        log(f"wheel {wheel.name} ({wheel.stat().st_size / 1024:.0f} KiB)")
    return list(fetched.values())


def _pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "-q"],
                          capture_output=True, text=True, timeout=600)


def _fetch_one(name, version, dest, log):
    spec = f"{name}=={version}"
    with tempfile.TemporaryDirectory() as temp:
        result = _pip(*PIP_DOWNLOAD, "-d", temp, spec)
        if result.returncode != 0:
            # mup 1.0.0 is published as an sdist only: build its wheel here (pure Python, so it fits the box)
            result = _pip("wheel", "--no-deps", "-w", temp, spec)
            if result.returncode != 0:
                why = ((result.stderr + result.stdout).strip().splitlines() or ["pip failed"])[-1]
                raise LrlabError(f"cannot fetch a wheel of {spec}: {why}")
            log(f"{spec}: no wheel on the index; built one from its sdist")
        wheels = [p for p in Path(temp).glob("*.whl") if normalize(p.name.split("-")[0]) == name]
        if len(wheels) != 1:
            raise LrlabError(f"pip gave {len(wheels)} wheels for {spec}; expected one")
        if not is_pure_wheel(wheels[0].name):
            raise LrlabError(f"{wheels[0].name} is not a pure-Python wheel (…-none-any.whl); the GPU box "
                             "cannot install it")
        return Path(shutil.move(str(wheels[0]), dest / wheels[0].name))
