"""What the chapters share when they describe their own data (the book layer; it reads, never trains)."""
from lrlab import experiments


def profile_note(name, profile, n_runs, devices, small_scale=""):
    """The note at the top of a chapter: which profile it shows, on what, and how it departs from
    the paper's protocol; `small_scale` says what a CPU profile shrinks."""
    shown = f"This page shows the **{profile}** profile: {n_runs} runs on {devices}."
    if profile == "full":
        return shown
    if profile == "gpu":
        changes = "; ".join(experiments.get(name).GPU_CHANGES)
        return f"{shown} It is sized for short GPU jobs and changes the paper's protocol as follows: {changes}."
    return (f"{shown} {small_scale} The GPU-scale runs are pending: `lrlab queue` lists them as chunks and "
            "`bash gpu/job.sh` trains them in short GPU jobs (see *Reproducing a chapter*).").replace("  ", " ")
