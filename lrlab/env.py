"""Where a run ran: every record carries the device's own name, versions, commit and data."""
import os
import pathlib
import platform
import subprocess

import torch

import lrlab


def device_name(device):
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:  # the CPU's model name, e.g. "AMD EPYC 7B13"
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or "cpu"


def git_commit():
    """The commit the code came from; LRLAB_GIT_COMMIT wins, then git. A tree copied to a GPU box
    has no .git: there the commit `lrlab stage` wrote, $LRLAB_STAGE/commit (default .stage/commit,
    relative to the checkout), says it."""
    if os.environ.get("LRLAB_GIT_COMMIT"):
        return os.environ["LRLAB_GIT_COMMIT"]
    root = pathlib.Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        staged = (root / (os.environ.get("LRLAB_STAGE") or ".stage") / "commit").read_text().split()
    except (OSError, UnicodeDecodeError):
        staged = []
    return staged[0] if staged else "unknown"


def run_env(device, data=None, **extra):
    env = dict(device=device_name(device), device_type=torch.device(device).type,
               torch=torch.__version__, lrlab=lrlab.__version__, python=platform.python_version(),
               git=git_commit(), threads=torch.get_num_threads())   # CPU float sums depend on it
    if data is not None:
        env["data"] = dict(source=data.source, sha256=data.sha256)
    env.update(extra)
    return env


def check_device(name):
    """A device string torch understands and this machine has; else a one-line LrlabError."""
    from lrlab.errors import LrlabError
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise LrlabError(f"unknown device {name!r}; valid: cpu, cuda, cuda:N, mps") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        have = ", ".join(k for k, ok in available.items() if ok)
        raise LrlabError(f"device {name!r} is not available on this machine; available: {have}")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise LrlabError(f"device {name!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
    return device
