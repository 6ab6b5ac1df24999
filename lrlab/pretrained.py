"""Fine-tuning's starting point: the final weights of the run that a config names in `init_from`.

A fine-tuned run's config holds its start's config, so the fine-tuned run's id says where it starts.
The start is an ordinary run of the one loop (`lrlab.train`), trained the first time a fine-tuned run
needs it, on that run's device; its weights are kept, filed by its id, the device type and torch's
version, so that the other runs starting from it (every rate and seed of a sweep) load them instead of
training it again, and a run never starts from weights made on another kind of device or torch. A sweep
or job keeps them beside its checkpoints (`Store.starts_dir`): a GPU job packs them with those, and the
next job, on a bare machine that carries them, does not train the start again; `train` called on its
own keeps them in the cache folder.
The start's own result goes into each fine-tuned run's record (`started_from`), with whether that run
trained it (`trained_here`: its time is then the device's too). The cost page counts that time with the
run that trained it, or once with its first run where no record says so (a job killed in between).
"""
import json
from pathlib import Path

import torch

from lrlab.config import RunConfig
from lrlab.data.paths import cache_dir
from lrlab.errors import LrlabError
from lrlab.files import write_atomically


def head_prefix(model_name):
    """The state-dict prefix of a model's output layer: the new task's head, which fine-tuning draws afresh."""
    return "fc." if model_name.startswith("resnet") else "readout."


def start_config(config):
    """The RunConfig of the run a fine-tuned `config` starts from (`init_from`)."""
    return RunConfig.from_dict(config.init_from)


def start_path(start, device, folder=None):
    """The file of `start`'s weights trained on `device`'s type, in `folder` (default: the cache)."""
    folder = Path(folder) if folder else cache_dir() / "pretrained"
    return folder / f"start-{start.id}-{torch.device(device).type}-torch{torch.__version__}.pt"


def _cached(path):
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return saved["model"], json.loads(saved["summary"])
    except (OSError, RuntimeError, KeyError, ValueError, EOFError):   # none yet, or a broken file
        return None


def start_weights(config, device, data=None, data_root=None, stop_at=None, folder=None):
    """(state dict on the CPU, summary) of the run `config.init_from` declares: from `folder` (default: the
    cache), else trained now and kept there; the summary's `trained_here` says which, and the time a start
    trained here took is its `wall_s`. Workers that need the same start wait for the one training it (a file
    lock) rather than train it twice.
    A start that diverged is no starting point: LrlabError. Past a GPU job's deadline (`stop_at`) the start
    stops untrained, and the fine-tuned run with it (DeadlineReached: both start again in the next job)."""
    import fcntl

    from lrlab.train import DeadlineReached, train   # the one loop trains the start, and imports this module
    start = start_config(config)
    path = start_path(start, device, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _cached(path)
        if found:
            return found[0], {**found[1], "trained_here": False}
        try:
            body = train(start, device, data=data, data_root=data_root, progress=False, keep_weights=True,
                         stop_at=stop_at)
        except DeadlineReached as stopped:
            raise DeadlineReached(config.id, 0, config.epochs, checkpointed=False) from stopped
        if body["status"] != "completed":
            raise LrlabError(f"run {start.id}, the start that init_from names, {body['status']} at step "
                             f"{body['diverged_at_step']}: fine-tune from a run that trains")
        state = body.pop("weights")
        summary = dict(id=start.id, test_acc=body["final"]["test_acc"], test_loss=body["final"]["test_loss"],
                       wall_s=body["wall_s"])
        write_atomically(path, lambda f: torch.save(dict(model=state, summary=json.dumps(summary)), f))
    return state, {**summary, "trained_here": True}


def load_body(model, state, model_name):
    """Load every weight of `state` into `model` but the head's, which keeps the new task's init."""
    head = head_prefix(model_name)
    body = {k: v for k, v in state.items() if not k.startswith(head)}
    missing, unexpected = model.load_state_dict(body, strict=False)
    if unexpected or any(not k.startswith(head) for k in missing):
        raise LrlabError(f"the start's weights do not fit this network: missing {missing}, unexpected {unexpected}")
