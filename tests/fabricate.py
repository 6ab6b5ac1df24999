"""Made-up records for tests of the book layer only: valid by the schema, plausible in shape (accuracy
peaks at one LR, loss falls), never written anywhere but a test's temporary store. Real results come
from lrlab.train alone."""
import math
import random

from lrlab.results import Store


def _steps_per_epoch(config):
    if config.steps_per_epoch:
        return config.steps_per_epoch
    n_train = 10 * config.train_per_class if config.train_per_class else 50_000
    return max(1, n_train // config.batch_size)


def fake_record(experiment, profile, config, device="NVIDIA H100 80GB HBM3 (made up)", diverged=False):
    """`diverged`: the run blows up a third of the way in, as a real diverged record reads (its history
    stops there, its final loss is huge, its accuracy chance)."""
    rng = random.Random(config.id)
    quality = math.exp(-((math.log2(config.lr) + 5) / 4) ** 2)   # best near LR 2^-5
    history = []
    for epoch in range(1, config.epochs + 1):
        progress = epoch / config.epochs
        acc = min(0.99, 0.1 + 0.8 * quality * progress + rng.uniform(0, 0.02))
        loss = 2.3 * (1 - acc) + rng.uniform(0, 0.01)
        history.append(dict(epoch=epoch, lr=config.lr, train_loss=loss * 0.9, train_acc=acc + 0.01,
                            test_loss=loss, test_acc=acc, seconds=1.0))
    steps = config.epochs * _steps_per_epoch(config)
    record = dict(id=config.id, experiment=experiment, profile=profile, config=config.to_dict(),
                  status="completed", diverged_at_step=None, history=history,
                  final=dict(test_acc=history[-1]["test_acc"], test_loss=history[-1]["test_loss"],
                             train_loss=history[-1]["train_loss"], steps=steps),
                  env=dict(device=device, device_type="cuda", torch="made up", lrlab="test", python="3",
                           git="0" * 40, precision="bf16", compile=False),
                  wall_s=1.0)
    if diverged:
        kept = max(1, config.epochs // 3)
        history = history[:kept]
        history[-1].update(train_loss=40.0, test_loss=1e15, test_acc=0.1, train_acc=0.1)
        record.update(status="diverged", diverged_at_step=max(1, steps // 3), history=history,
                      final=dict(test_acc=0.1, test_loss=1e15, train_loss=40.0, steps=max(1, steps // 3) + 2))
    if config.trace_every:   # a range test: the loss falls, then blows up
        args, trace = config.schedule_args, []
        for step in range(1, steps + 1, config.trace_every):
            lr = (config.lr * args["gamma"] ** (step - 1) if config.schedule == "exponential"
                  else config.lr * (args["start_ratio"] + (args["end_ratio"] - args["start_ratio"]) * (step - 1) / steps))
            row = dict(step=step, lr=lr, train_loss=2.3 - 1.2 * step / steps + 3 * max(0, step / steps - 0.8))
            if config.trace_test:
                row.update(test_loss=row["train_loss"], test_acc=max(0.1, 0.6 - abs(step / steps - 0.5)))
            trace.append(row)
        record["trace"] = trace
    if config.noise_scale_every:
        record["noise_scale"] = [dict(epoch=e, step=e * _steps_per_epoch(config), b_simple=500.0 + 50 * e,
                                      grad_sq=1.0, trace_sigma=500.0 + 50 * e, small_batch=128,
                                      big_batch=1024, big_batches=config.noise_scale_batches, loss=2.0)
                                 for e in range(0, len(history) + 1, config.noise_scale_every)]
    return record


def fake_runs(results, experiment, profile, configs, diverges=lambda config: False):
    """Made-up records of `configs`; those `diverges` picks (a function of the config) diverged."""
    store = Store(results)
    for config in configs:
        store.save(fake_record(experiment, profile, config, diverged=diverges(config)))
