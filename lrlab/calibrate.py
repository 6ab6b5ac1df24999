"""The queue's first chunk: every CUDA path at smoke size, then the bench of each model at its batch.

Nothing in the book has run on a GPU before this: bf16 autocast, channels_last, torch.compile
(muP models too), runs in worker processes, the noise scale, traced range tests, torch-lr-finder and
the GPT's attention. Each path runs at smoke size into a scratch store, and whether it worked (or
the one line it failed with) is recorded. Then `lrlab bench` times each model at the batch its
`gpu` profile trains with; those rows replace the step-time model's guesses in `lrlab queue` and
`lrlab job`. The record, results/bench/<device>-calibration-<time>.json, marks the chunk done once whole.
Last, as far as time allows (a shape skipped for the deadline does not make the record incomplete),
stacked training: each grid shape's runs trained K at a time (K = 1, 4, 16, 64), its speed-up over
one after another and its memory, from which the sweep and the job choose how many runs to stack.
"""
import tempfile
import time

from lrlab import experiments
from lrlab.errors import LrlabError
from lrlab.results import Store

# (experiment, chunk) at smoke size: together they touch every code path the gpu profile uses
SMOKE_CHUNKS = (("basics", "momentum_shift"), ("super_convergence", "range_tests"),
                ("linear_scaling", "elbow_and_rules"), ("weight_decay", "coarse"),
                ("lr_vs_width", "mlp"), ("lr_vs_width", "gpt"))
BENCH_MODE = "bf16+channels_last"   # what a run on CUDA uses (channels_last applies to the ResNets only)
BENCH_STEPS = 30
MARGIN_S = 20.0                     # stop starting new paths this close to the deadline
STACK_STEPS = 10                    # timed steps of a stacked bench (after as many warm-up steps)
MIN_STACK = 4                       # a shape is benched stacked when the gpu profile has this many runs to stack
COMPILE_S = 150.0                   # what a cold torch.compile may take on a fresh machine (audit: 0.5-1.5 min)


def bench_shapes(profile="gpu"):
    """Each (model spec, batch) the profile trains: the batch a step's forward sees (its micro-batch)."""
    from lrlab.stacking import bench_shape
    shapes = []
    for name in experiments.EXPERIMENTS:
        for config in experiments.runs(name, profile):
            shape = bench_shape(config)
            if shape not in shapes:
                shapes.append(shape)
    return shapes


def stack_shapes(profile="gpu", configs=None):
    """Each (model spec, batch) with at least MIN_STACK runs of the profile (or of `configs`) that could
    share one stack, the shapes with the most such runs first (what stacking would save most on)."""
    from lrlab.stacking import bench_shape, stack_key
    if configs is None:
        configs = [config for name in experiments.EXPERIMENTS for config in experiments.runs(name, profile)]
    counts = {}
    for config in configs:
        key = stack_key(config)
        if key is not None:
            shape = bench_shape(config)
            counts.setdefault(shape, {}).setdefault(key, 0)
            counts[shape][key] += 1
    stackable = {shape: sum(n for n in keys.values() if n >= MIN_STACK) for shape, keys in counts.items()}
    return sorted((shape for shape, n in stackable.items() if n), key=lambda shape: -stackable[shape])


def lone_shapes(configs, device):
    """Each (model spec, batch) of `configs` with runs that could stack but too few to fill a stack (not
    among `stack_shapes`), where `device` replays a stack's steps from CUDA graphs: each of those runs
    may train faster as a stack of one (`lrlab.stacking.LONE_STACK_MIN`), which only a bench can say."""
    from lrlab.stack_step import graphs_wanted
    from lrlab.stacking import bench_shape, stack_key
    full = set(stack_shapes(configs=configs))
    shapes = []
    for config in configs:
        shape = bench_shape(config)
        if (stack_key(config) is not None and shape not in full and shape not in shapes
                and graphs_wanted(device, config.model)):
            shapes.append(shape)
    return shapes


def _compile_configs():
    """A ResNet and the two muP models at smoke size, for torch.compile (muP under compile is the risk)."""
    runs = {c.model + ("-mup" if c.parameterization == "mup" else ""): c
            for name in ("basics", "lr_vs_width", "super_convergence") for c in experiments.runs(name, "smoke")}
    return [runs[key] for key in ("resnet8", "mlp-mup", "chargpt-mup") if key in runs]


def _stacked_configs():
    """The same three models for stacked training (BatchNorm side by side; muP and attention under vmap)."""
    return _compile_configs()


def calibrate(device="cuda", results=None, data_root=None, stop_at=None, shapes=None, steps=BENCH_STEPS,
              log=print, stacked_shapes=None, stack_sizes=None):
    """Run every path, bench every shape, write the record; returns it. `shapes`, `steps`,
    `stacked_shapes` and `stack_sizes` shrink it for tests. Stops starting new work MARGIN_S before
    `stop_at`; the record then says incomplete (unless only stacked shapes were left)."""
    from lrlab.bench import STACK_SIZES, _write_record, bench_one, bench_stacked
    from lrlab.stacked import train_stacked
    from lrlab.env import run_env
    from lrlab.runner import train_runs
    from lrlab.train import train

    store = Store(results)
    paths, rows, complete = [], [], True

    def time_left(needed=MARGIN_S):
        return stop_at is None or time.time() < stop_at - needed

    def attempt(name, work):
        started = time.time()
        try:
            detail = work() or {}
            paths.append(dict(name=name, ok=not detail.get("failed"), seconds=time.time() - started, **detail))
        except Exception as exc:   # noqa: BLE001 - a broken path is the finding, not the end of calibration
            from lrlab.errors import error_line
            paths.append(dict(name=name, ok=False, seconds=time.time() - started, error=error_line(exc)))
        log(f"calibrate: {name}: {'ok' if paths[-1]['ok'] else 'FAILED ' + str(paths[-1].get('error'))} "
            f"({paths[-1]['seconds']:.1f} s)")

    def smoke(items, jobs=1):
        with tempfile.TemporaryDirectory() as scratch:
            outcomes = train_runs(items, Store(scratch), device, data_root, jobs=jobs, log=lambda m: None)
        failed = [o for o in outcomes if o.state == "failed"]
        return dict(runs=len(outcomes), failed=len(failed), error=failed[0].error if failed else None)

    # in order of what the queue needs most: the paths, then the speeds, then compile (slow to start)
    for experiment, chunk_name in SMOKE_CHUNKS:
        if not time_left():
            complete = False
            break
        chunk = next(c for c in experiments.chunks(experiment, "smoke") if c.name == chunk_name)
        attempt(f"smoke {experiment}/{chunk_name}", lambda: smoke([(experiment, "smoke", c) for c in chunk.runs]))
    for spec, batch in (shapes if shapes is not None else bench_shapes()):
        if not time_left():
            complete = False
            break
        try:
            rows.append(bench_one(spec, batch, device, steps, BENCH_MODE))
            log(f"calibrate: bench {spec} @ {batch}: {rows[-1]['per_s']:.0f} {rows[-1]['unit']}/s")
        except Exception as exc:   # noqa: BLE001 - e.g. out of memory at one shape
            from lrlab.errors import error_line
            paths.append(dict(name=f"bench {spec} @ {batch}", ok=False, error=error_line(exc)))
            log(f"calibrate: bench {spec} @ {batch}: FAILED {paths[-1]['error']}")
    if time_left():
        basics = experiments.chunks("basics", "smoke")[0].runs
        attempt("2 runs at once (spawned workers)", lambda: smoke([("basics", "smoke", c) for c in basics], jobs=2))
    else:
        complete = False
    if time_left():   # the stacked path, bf16: BatchNorm side by side; muP and attention under vmap
        def stacked_smoke():
            for config in _stacked_configs():
                train_stacked([config, config.replace(seed=config.seed + 1, lr=config.lr / 2)], device=device,
                              data_root=data_root, progress=False)
        attempt("stacked training (ResNet, muP MLP, muP GPT)", stacked_smoke)
    else:
        complete = False
    for config in _compile_configs():
        if not time_left(COMPILE_S):   # a cold compile cannot be stopped half-way
            complete = False
            break
        label = config.model + (" muP" if config.parameterization == "mup" else "")
        attempt(f"compile {label}", lambda: {"compile_s": train(config, device=device, data_root=data_root,
                                                                compile=True, progress=False).get("compile_s")})
    skipped = []
    for spec, batch in (stacked_shapes if stacked_shapes is not None else stack_shapes()):
        if not complete or not time_left():
            skipped.append(f"{spec} @ {batch}")
            continue
        single = next((r for r in rows if (r["model"], r["batch_size"]) == (spec, batch)), None)
        try:
            found = bench_stacked(spec, stack_sizes or STACK_SIZES, batch, device, STACK_STEPS, "bf16", single,
                                  stop_at=None if stop_at is None else stop_at - MARGIN_S)
        except Exception as exc:   # noqa: BLE001 - a shape that cannot stack is a finding too
            from lrlab.errors import error_line
            paths.append(dict(name=f"stacked bench {spec} @ {batch}", ok=False, error=error_line(exc)))
            log(f"calibrate: stacked bench {spec} @ {batch}: FAILED {paths[-1]['error']}")
            continue
        rows += found
        log(_stacked_line(spec, batch, found))
    if not complete:
        log("calibrate: stopped for the deadline; the record says incomplete and the chunk stays pending")
    record = dict(kind="calibration", complete=complete, env=run_env(device), paths=paths, rows=rows,
                  stacked_skipped=skipped)
    # named by its time too: a later calibration (after an incomplete one) never collides with it
    path = _write_record(store.root / "bench", f"calibration {time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}", record)
    log(f"wrote {path}")
    if not paths and not rows:
        raise LrlabError("calibration did nothing: the deadline left no time")
    return record


def _stacked_line(spec, batch, found):
    return f"calibrate: stacked {spec} @ {batch}: " + ", ".join(
        f"K={r['members']} {r['stacked_over_sequential']:.1f}x" if "error" not in r else f"K={r['members']} {r['error']}"
        for r in found)


def bench_unmeasured_stacks(configs, device, results=None, stop_at=None, log=print, sizes=None):
    """Before a job trains `configs`: bench stacked each of their shapes that would stack but has no
    stacked row of this device yet (the calibration skipped it for time, or the stack failed there and
    has been fixed since), or only rows from before a change to the stacked path
    (stacking.stack_path_changes), so that the job stacks them at a measured K; and, where the device
    replays graphs, a stack of one of each shape whose runs are too few to stack (`lone_shapes`), so
    that a lone run trains graphed where that measured faster. Writes one bench record with the rows
    and any failure; returns the rows."""
    from lrlab.bench import STACK_SIZES, _write_record, bench_stacked
    from lrlab.env import run_env
    from lrlab.errors import error_line
    from lrlab.stacking import is_stack_row, measures_todays_stacks
    store, env = Store(results), run_env(device)
    measured = {(row.get("model"), row.get("batch_size"))
                for record in store.bench_records(kinds=("bench", "calibration"))
                if record["env"]["device"] == env["device"]
                for row in record["rows"]
                if is_stack_row(row) and measures_todays_stacks(row.get("model"), record["created"],
                                                                gpu=record["env"].get("device_type") == "cuda")}
    rows, failed = [], []
    wanted = [(shape, sizes or STACK_SIZES) for shape in stack_shapes(configs=configs)]
    wanted += [(shape, (1,)) for shape in lone_shapes(configs, device)]
    for (spec, batch), stack_sizes in wanted:
        if (spec, batch) in measured:
            continue
        if stop_at is not None and time.time() > stop_at - 2 * MARGIN_S:
            break
        try:
            found = bench_stacked(spec, stack_sizes, batch, device, STACK_STEPS, "bf16",
                                  stop_at=None if stop_at is None else stop_at - MARGIN_S)
        except Exception as exc:   # noqa: BLE001 - the runs then train alone, as they would have
            failed.append(dict(name=f"stacked bench {spec} @ {batch}", ok=False, error=error_line(exc)))
            log(f"calibrate: stacked bench {spec} @ {batch}: FAILED {failed[-1]['error']}")
            continue
        rows += found
        log(_stacked_line(spec, batch, found))
    if rows or failed:
        _write_record(store.root / "bench", f"stacks {time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}",
                      dict(kind="bench", env=env, rows=rows, paths=failed))
    return rows


# HBM bytes a step's update moves per stacked parameter (float32): as written, each kernel reads and writes
# its tensors in full (SGD with decay and momentum: 4 kernels; Adam: about 10; Lion: 5); compiled, each
# parameter, gradient and state tensor is read once and the parameter and state written once.
UPDATE_BYTES = {"sgd": (40, 20), "adam": (96, 28), "lion": (52, 20)}


def update_could_pay(config, k, stack_per_s, device_key):
    """Whether compiling a stack's update could save a tenth of its step (`compiling.COMPILE_MIN`), by the
    HBM bytes it would no longer move at the lowest bandwidth the cost model allows on `device_key`
    (H100, H200): a ResNet's update is a sliver of its step, a wide MLP's most of it. `stack_per_s`: the
    stack's examples (tokens) a second, as benched."""
    from lrlab import cost
    from lrlab.compiling import COMPILE_MIN
    from lrlab.stacked_optim import FAMILIES
    written, fused = UPDATE_BYTES[FAMILIES[config.optimizer]]
    bandwidth = cost.SCENARIOS["pessimistic"].bandwidth * cost.DEVICES[device_key].bandwidth_scale
    saved_s = (written - fused) * k * cost.shape_cost(config).params / bandwidth
    step_s = k * config.batch_size * (config.block_size if config.model == "chargpt" else 1) / stack_per_s
    return saved_s >= (COMPILE_MIN - 1) * step_s


def bench_unmeasured_fused_updates(configs, device, results=None, stop_at=None, log=print, predict=None,
                                   sizes=None, device_key="H100"):
    """Before a job trains `configs`: for each shape they stack (at the K `sizes`, a StackSizes, chose),
    time its stack of K again with the optimizer update compiled (`lrlab.stacked_optim.FusedUpdate`),
    where this device has no such row yet and the shape's stacks are predicted (`predict(config)`,
    seconds alone, over the stack's speed-up) to take at least `compiling.BENCH_WORTH_S` (a compilation
    costs seconds to a minute) and whose update could be a large enough share of a step on `device_key`
    (`update_could_pay`: a wide MLP's, not a ResNet's). The compilation lands in torch's on-disk cache,
    for the job's stacks of the shape. The speed-up is over the same run alone as the shape's stack row
    without it. Writes one bench record; returns the rows."""
    from lrlab.bench import _write_record, bench_stacked
    from lrlab.compiling import BENCH_WORTH_S
    from lrlab.env import run_env
    from lrlab.errors import error_line
    from lrlab.stacking import bench_shape, stack_groups
    if sizes is None or predict is None:
        return []
    store, env = Store(results), run_env(device)
    totals = {}
    for group in stack_groups(configs, sizes):
        if not group.stacked or len(group.positions) < 2:
            continue
        first = configs[group.positions[0]]
        k = sizes.choose(first)[0]
        key = bench_shape(first) + (k,)
        if key in sizes.fused or key not in sizes.single_per_s:
            continue
        stack_per_s = sizes.single_per_s[key] * sizes.choose(first)[1]
        predicted = [predict(configs[i]) for i in group.positions]
        if None not in predicted and update_could_pay(first, k, stack_per_s, device_key):
            totals[key] = totals.get(key, 0.0) + sum(predicted) / group.speedup
    rows, failed = [], []
    for (spec, batch, k), total in totals.items():
        if total < BENCH_WORTH_S:
            continue
        if stop_at is not None and time.time() > stop_at - COMPILE_S - 2 * MARGIN_S:
            log(f"calibrate: fused update {spec} @ {batch}: not benched, too close to the deadline")
            break
        try:
            found = bench_stacked(spec, [k], batch, device, STACK_STEPS, "bf16", fused_update=True, cold_cache=False,
                                  single=dict(per_s=sizes.single_per_s[(spec, batch, k)]))
        except Exception as exc:   # noqa: BLE001 - the stacks then update as written, as they would have
            failed.append(dict(name=f"fused update bench {spec} @ {batch}", ok=False, error=error_line(exc)))
            log(f"calibrate: fused update {spec} @ {batch}: FAILED {failed[-1]['error']}")
            continue
        rows += found
        for row in found:
            log(f"calibrate: fused update {spec} @ {batch}, K={k}: " + (
                row["error"] if "error" in row else
                f"{row['stacked_over_sequential']:.1f}x (as written: {sizes.best[(spec, batch)][1]:.1f}x), compiled in "
                f"{row['update_compile_s']:.1f} s" if row["fused_update"] is True else f"{row['fused_update']}")
                + f" ({total:.0f} s of stacks to repay it)")
    if rows or failed:
        _write_record(store.root / "bench", f"fused updates {time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}",
                      dict(kind="bench", env=env, rows=rows, paths=failed))
    return rows


def bench_unmeasured_compiles(configs, device, results=None, stop_at=None, log=print, predict=None,
                              lone_speedups=None):
    """Before a job trains `configs` (its runs that train alone): time eager and compiled each of their
    shapes that has no compile rows of this device yet and whose runs are predicted (`predict(config)`,
    seconds, over their `lone_speedups` where they would train as graphed stacks of one) to take at least
    `compiling.BENCH_WORTH_S`: what compiling could save, at most, must repay a cold compilation. The
    compilation lands in torch's on-disk cache, which the job's runs of the shape then load. Writes one
    bench record with the rows and any failure; returns the rows."""
    from lrlab.bench import _write_record, bench_one
    from lrlab.compiling import BENCH_WORTH_S, COMPILED_MODE, EAGER_MODE, CompileSpeeds, compilable
    from lrlab.env import run_env
    from lrlab.errors import error_line
    from lrlab.stacking import bench_shape
    store, env = Store(results), run_env(device)
    have = CompileSpeeds.measured(store.root, env["device"]).speeds
    lone_speedups = lone_speedups or [None] * len(configs)
    totals = {}
    for config, lone in zip(configs, lone_speedups):
        predicted = predict(config) if predict and compilable(config) else None
        if predicted is not None:
            totals[bench_shape(config)] = totals.get(bench_shape(config), 0.0) + predicted / (lone or 1.0)
    rows, failed = [], []
    for (spec, batch), total in totals.items():
        if (spec, batch) in have or total < BENCH_WORTH_S:
            continue
        if stop_at is not None and time.time() > stop_at - COMPILE_S - 2 * MARGIN_S:
            log(f"calibrate: compile {spec} @ {batch}: not benched, too close to the deadline")
            break
        try:
            eager = bench_one(spec, batch, device, BENCH_STEPS, EAGER_MODE)
            compiled = bench_one(spec, batch, device, BENCH_STEPS, COMPILED_MODE, cold_cache=False)
        except Exception as exc:   # noqa: BLE001 - the runs then train eager, as they would have
            failed.append(dict(name=f"compile bench {spec} @ {batch}", ok=False, error=error_line(exc)))
            log(f"calibrate: compile {spec} @ {batch}: FAILED {failed[-1]['error']}")
            continue
        rows += [eager, compiled]
        log(f"calibrate: compile {spec} @ {batch}: {compiled['per_s'] / eager['per_s']:.2f}x eager's speed, "
            f"compilation {compiled['compile_s']:.1f} s cold, {compiled['compile_cached_s']:.1f} s from disk "
            f"({total:.0f} s of runs to repay it)")
    if rows or failed:
        _write_record(store.root / "bench", f"compiles {time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}",
                      dict(kind="bench", env=env, rows=rows, paths=failed))
    return rows


# Small stacks that touch what a captured step holds, one per model family: BatchNorm, grouped
# convolutions and accumulated micro-batches (ResNet-8, SGD); batched matmuls (an MLP); the stacked
# attention operator, embeddings, AdamW and clipping (a GPT). Their one-cycle schedules move every
# member's LR (and momentum) every step, so a value a graph had kept from its capture instead of
# reading the optimizer's table would show in the losses.
GRAPH_CHECK = {"resnet": ("resnet8", 32, dict(lr=0.4, micro_batch=16)), "mlp": ("mlp-64", 32, dict(lr=0.2)),
               "chargpt": ("chargpt-32", 16, dict(lr=1e-2, grad_clip=0.5))}
GRAPH_CHECK_STEPS = 6                # an epoch; the second is replayed from its first step
GRAPH_TOLERANCE = 1e-3               # relative, on each epoch's train and test loss; the same kernels agree to rounding


def check_cuda_graphs(device, log=print, families=None, make_graphs=None):
    """Before a job stacks runs on a GPU: for each model family (default: all), a GRAPH_CHECK stack trained
    with its steps replayed from CUDA graphs (`make_graphs()`, default lrlab.stack_step.CudaGraphs) and
    as written must agree to GRAPH_TOLERANCE. A family whose capture fails or whose losses differ trains
    as written for the rest of the job: LRLAB_CUDA_GRAPHS is set to the families that passed (0 if none).
    Returns what the job log keeps: {family: {ok, worst (largest relative difference), error}}."""
    import os

    from lrlab.bench import bench_config, synthetic_data
    from lrlab.errors import error_line
    from lrlab.stack_step import GRAPH_FAMILIES, CudaGraphs
    from lrlab.stacked import train_stacked
    make_graphs = make_graphs or (lambda: CudaGraphs(device))
    verdicts = {}
    for family in families or GRAPH_FAMILIES:
        spec, batch, changes = GRAPH_CHECK[family]
        worst, error = 0.0, None
        try:
            config = bench_config(spec, batch, GRAPH_CHECK_STEPS, "bf16").replace(schedule="one_cycle", **changes)
            members = [config, config.replace(seed=1, lr=config.lr / 3)]
            data = synthetic_data(config)
            as_written = train_stacked(members, device, data, progress=False, graphs=None)
            graphed = train_stacked(members, device, data, progress=False, graphs=make_graphs())
            if graphed[0]["env"]["cuda_graph"] is not True:
                raise LrlabError(f"the {spec} stack did not replay from a graph: {graphed[0]['env']['cuda_graph']}")
            worst = max(abs(a[key] - b[key]) / max(abs(b[key]), 1e-12)
                        for x, y in zip(graphed, as_written) for a, b in zip(x["history"], y["history"])
                        for key in ("train_loss", "test_loss"))
        except Exception as exc:  # noqa: BLE001 - a failed check is a finding: the family trains as written
            error = error_line(exc)
        verdicts[family] = dict(ok=error is None and worst <= GRAPH_TOLERANCE, worst=worst, error=error)
        log(f"calibrate: CUDA graphs for {family} stacks: " + (
            f"replayed steps match steps as written (largest difference {worst:.1e})" if verdicts[family]["ok"]
            else "off for this job: " + (error or f"replayed losses differ by {worst:.1e} relative "
                                                  f"(allowed {GRAPH_TOLERANCE:g})")))
    passed = [family for family, verdict in verdicts.items() if verdict["ok"]]
    if len(passed) < len(verdicts):
        os.environ["LRLAB_CUDA_GRAPHS"] = ",".join(passed) or "0"
    return verdicts
