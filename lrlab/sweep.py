"""Train what an experiment declares and the store lacks; skip the done; resume the partial.

With jobs > 1, that many runs train at once in worker processes (spawned, so CUDA is safe), each with
the CPU threads of a run alone (`lrlab.runner.run_threads`: a run's numbers never depend on jobs); the
parent alone writes records, each as its run finishes.
Small runs leave a GPU (or a CPU) mostly idle between kernels; several at once fill it. A run that
fails is reported and the others go on; the sweep then exits non-zero naming it.
"""
from lrlab import experiments
from lrlab.errors import LrlabError
from lrlab.progress import plan
from lrlab.results import Store


def sweep(name, profile, results=None, device="cpu", data_root=None, compile=False, progress=True,
          log=print, jobs="auto", stack="auto"):
    """Run every missing (or corrupt) run of `name` at `profile`, `jobs` at a time ("auto": one per core
    on a CPU, one on a GPU); returns the number trained. Failed runs raise one LrlabError at the end,
    after every other run is saved. `stack`: "auto" (runs stack as this device's bench says pays), None
    (never), or a StackSizes. `compile`: True, False, or "auto" (on a GPU, a run alone compiles where
    this device's bench rows say it pays: `lrlab.compiling`)."""
    from lrlab.compiling import resolve
    from lrlab.runner import check_jobs, train_runs
    jobs = check_jobs(jobs, device)
    store = Store(results)
    compile = resolve(compile, device, store.root)
    if stack == "auto":
        from lrlab.env import device_name
        from lrlab.stacking import StackSizes
        stack = StackSizes.measured(store.root, device_name(device))
    todo = [(c, s) for c, s in plan(name, profile, store) if s in ("missing", "corrupt")]
    total = len(experiments.runs(name, profile))
    log(f"{name}/{profile}: {total - len(todo)} of {total} runs done, {len(todo)} to train on {device}"
        + (f", {jobs} at a time" if jobs > 1 else ""))
    for config, state in todo:
        if state == "corrupt":
            log(f"redoing corrupt record {store.path(profile, name, config.id)}")
    outcomes = train_runs([(name, profile, c) for c, _ in todo], store, device, data_root, compile, jobs,
                          progress, log=log, stacking=stack)
    failed = [o for o in outcomes if o.state == "failed"]
    if failed:
        raise LrlabError(f"{len(failed)} of {len(todo)} runs failed, the others are saved (first: run "
                         f"{failed[0].config.id}: {failed[0].error}); rerun to retry them")
    return len(todo)

