"""The `lrlab` command (also `python -m lrlab`). `sweep` and `bench` need only torch, numpy, pillow."""
import argparse
import os
import sys

from lrlab.errors import LrlabError


def _sweep(args):
    from lrlab.env import check_device
    from lrlab.sweep import sweep
    check_device(args.device)
    from lrlab.stacking import parse_stack
    from lrlab.compiling import parse_compile
    sweep(args.experiment, args.profile, args.results, args.device, args.data, parse_compile(args.compile),
          progress=not args.no_progress, jobs=args.jobs, stack=parse_stack(args.stack))


def _status(args):
    from lrlab.progress import status
    rows = status(args.results)
    cols = ("experiment", "profile", "declared", "done", "diverged", "missing", "corrupt")
    width = max(len(c) for c in [cols[0]] + [r["experiment"] for r in rows])
    print(f"{cols[0]:<{width}}  " + "  ".join(f"{c:>9}" for c in cols[1:]))
    for row in rows:
        print(f"{row['experiment']:<{width}}  " + "  ".join(f"{row[c]:>9}" for c in cols[1:]))
    corrupt = sum(r["corrupt"] for r in rows)
    if corrupt:
        raise LrlabError(f"{corrupt} corrupt record(s); `lrlab sweep` redoes them")


def _check_book(args):
    from lrlab.book.browser import check_book
    problems = check_book(args.html, only=args.pages or None, screenshots=args.screenshots)
    for problem in problems:
        print(problem)
    if problems:
        raise LrlabError(f"{len(problems)} problem(s) in the built book (listed above)")
    print(f"every page passed; a 1,400-px screenshot of each is in {args.screenshots}")


def _queue(args):
    from lrlab.queue import queue, stacking_note, table
    print(table(queue(args.profile, args.results, device_name=args.device_name, scenario=args.scenario)))
    print(stacking_note(args.results, args.device_name))


def _job(args):
    from lrlab.env import check_device
    from lrlab.job import check_deadline, exit_status, run_job
    deadline = check_deadline(args.deadline)
    check_device(args.device)
    from lrlab.stacking import parse_stack
    from lrlab.compiling import parse_compile
    record = run_job(deadline, args.chunks, args.profile, args.results, args.device, args.data,
                     parse_compile(args.compile), args.jobs, progress=not args.no_progress, stack=parse_stack(args.stack))
    return exit_status(record)


def _stage(args):
    from pathlib import Path
    from lrlab.stage import stage, verify_staged
    if args.verify:
        print(f"{verify_staged(Path(args.out) / 'data')} staged data file(s) match their sha256")
        return
    stage(args.out, args.data, wheels=not args.no_wheels)


def _pack(args):
    from lrlab.pack import pack
    pack(args.results, args.outdir, newer_than=args.newer_than)


def _unpack(args):
    from lrlab.pack import unpack
    unpack(args.files, args.results)


def _notebooks(args):
    from lrlab.notebooks import default_jobs, parse_value, run_chapters
    knobs = {key: parse_value(value) for key, value in args.parameter}
    jobs = default_jobs(args.allow_training) if args.jobs is None else args.jobs
    for out in run_chapters(args.names, args.profile, args.results, args.allow_training, knobs=knobs, jobs=jobs):
        print(f"wrote {out}")


def _data(args):
    from lrlab.data import load_cifar10, load_tiny_shakespeare
    cifar = load_cifar10(args.data, download=args.download)
    print(f"CIFAR-10: {len(cifar.train_labels)} train / {len(cifar.test_labels)} test images "
          f"from {cifar.source} (sha256 {cifar.sha256})")
    corpus = load_tiny_shakespeare(args.data, download=args.download)
    print(f"Tiny Shakespeare: {len(corpus.text)} characters, {len(corpus.vocab)} symbols "
          f"from {corpus.source} (sha256 {corpus.sha256})")


def _bench(args):
    from lrlab.bench import HEADER, MODES, bench, bench_sweep
    from lrlab.errors import check_choice
    from lrlab.env import check_device
    check_device(args.device)
    if args.command:
        from lrlab.bench import bench_command
        bench_command(args.command, args.label, args.out)
        return
    if args.sweep:
        try:
            jobs = [int(n) for n in args.jobs.split(",")]
        except ValueError:
            raise LrlabError(f"--jobs {args.jobs!r} is not a comma-separated list of whole numbers, e.g. 1,2") from None
        bench_sweep(args.sweep, args.profile, args.device, jobs, args.compile, args.data, args.out)
        return
    modes = list(MODES) if args.modes == "all" else args.modes.split(",")
    for mode in modes:
        check_choice("mode", mode, list(MODES) + ["all"])
    stack = None
    if args.stack is not None:
        try:
            stack = [int(k) for k in args.stack.split(",")]
        except ValueError:
            raise LrlabError(f"--stack {args.stack!r} is not a comma-separated list of whole numbers, e.g. 1,4,16") from None
    if args.fused_update and stack is None:
        raise LrlabError("--fused-update times stacks: give --stack too, e.g. --stack 8 --fused-update")
    print(HEADER)   # once the arguments are known good: a refused command prints only its error
    bench(args.models, args.batch_size, args.device, args.steps, modes, args.classic, args.out, stack=stack,
          label=args.label, fused_update=args.fused_update)


STACK_HELP = ("auto (default): runs that share a model shape train K at a time as one, K from this device's "
              "bench (`lrlab bench --stack`), alone where nothing is measured; off; or a whole number K")

COMPILE_HELP = ("auto (default): on a GPU, a run that trains alone uses torch.compile where this device's bench "
                "measured it faster, compilation included (`lrlab.compiling`); never on a CPU; on (also bare "
                "--compile) or off")

JOBS_HELP = ("runs to train at once, each in its own process with the same CPU threads (LRLAB_THREADS, default 1), "
             "so a run's numbers never depend on it; auto (default): one per core on a CPU, one on a GPU")


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes print one line naming the value and the choices, and exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser():
    from lrlab.experiments import EXPERIMENTS
    from lrlab.names import PROFILES
    p = OneLineParser(prog="lrlab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("sweep", help="train the missing runs of an experiment")
    s.add_argument("experiment", choices=list(EXPERIMENTS))
    s.add_argument("--profile", required=True, choices=PROFILES)
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    s.add_argument("--results", default="results", help="results folder (default: results)")
    s.add_argument("--data", default=None, help="data folder or archive (default: $LRLAB_DATA or ~/.cache/lrlab)")
    s.add_argument("--compile", nargs="?", const="on", default="auto", metavar="{auto,on,off}", help=COMPILE_HELP)
    s.add_argument("--jobs", default="auto", help=JOBS_HELP)
    s.add_argument("--stack", default="auto", help=STACK_HELP)
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(run=_sweep)

    s = sub.add_parser("queue", help="the book's GPU work as chunks in priority order, with states and minutes")
    s.add_argument("--profile", default="gpu", choices=PROFILES)
    s.add_argument("--results", default="results")
    s.add_argument("--device-name", default="H100", help="the GPU the minutes are for: H100 or H200")
    s.add_argument("--scenario", default="central", help="the step-time model's pessimistic, central or "
                   "optimistic parameters")
    s.set_defaults(run=_queue)

    s = sub.add_parser("job", help="train the next pending chunks (or those named) until a deadline")
    s.add_argument("chunks", nargs="*", help="experiment/chunk names from `lrlab queue` (default: every "
                   "pending chunk in queue order)")
    s.add_argument("--deadline", required=True, help="minutes from now; no run starts that would not finish "
                   "by then, and the run in flight checkpoints")
    s.add_argument("--profile", default="gpu", choices=PROFILES)
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    s.add_argument("--results", default="results")
    s.add_argument("--data", default=None, help="data folder or archive (default: $LRLAB_DATA or ~/.cache/lrlab)")
    s.add_argument("--compile", nargs="?", const="on", default="auto", metavar="{auto,on,off}", help=COMPILE_HELP)
    s.add_argument("--jobs", default="auto", help=JOBS_HELP)
    s.add_argument("--stack", default="auto", help=STACK_HELP)
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(run=_job)

    s = sub.add_parser("stage", help="make the git-ignored folder a bare GPU box needs: data, wheels, commit")
    s.add_argument("--out", default=".stage", help="the folder to make; must be git-ignored (default: .stage)")
    s.add_argument("--data", default=None, help="data folder or archive (default: $LRLAB_DATA or ~/.cache/lrlab)")
    s.add_argument("--no-wheels", action="store_true", help="fetch no wheels (keeps any staged before)")
    s.add_argument("--verify", action="store_true", help="instead: check the staged data against its sha256 sums")
    s.set_defaults(run=_stage)

    s = sub.add_parser("pack", help="pack new records, bench records, job logs, checkpoints and fine-tuning starts "
                       "into a few size-capped lrlab-pack-N.tgz")
    s.add_argument("outdir", help="folder for the packs; must hold none yet")
    s.add_argument("--results", default="results", help="results folder (default: results)")
    s.add_argument("--newer-than", default=None, metavar="FILE_OR_TIMESTAMP",
                   help="only files modified after this file was, or after this POSIX time (default: all)")
    s.set_defaults(run=_pack)

    s = sub.add_parser("unpack", help="check packs, then merge them into the results folder: all or nothing")
    s.add_argument("files", nargs="+", metavar="FILES", help="lrlab-pack-N.tgz files")
    s.add_argument("--results", default="results", help="results folder (default: results)")
    s.set_defaults(run=_unpack)

    s = sub.add_parser("status", help="done / missing / diverged runs per experiment and profile")
    s.add_argument("--results", default="results")
    s.set_defaults(run=_status)

    s = sub.add_parser("notebooks", help="execute chapters with papermill into book/_generated/")
    s.add_argument("names", nargs="*", help="chapters, e.g. 01_basics (default: all)")
    s.add_argument("--profile", default="auto", choices=("auto",) + PROFILES,
                   help="auto: full where all its runs are recorded, else quick")
    s.add_argument("--results", default="results")
    s.add_argument("--allow-training", action="store_true", help="train missing runs instead of failing")
    s.add_argument("--jobs", type=int, default=None,
                   help="pages executed at a time (default: one per core, at most 4; 1 with --allow-training)")
    s.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set another parameter of the pages, as papermill -p does (an exercise's, e.g. "
                   "-p exercise_curvature 100)")
    s.set_defaults(run=_notebooks)

    s = sub.add_parser("check-book", help="open every page of the built book in headless Chromium and list "
                       "what a reader would meet: console errors, broken images, links and anchors, error "
                       "outputs, glue placeholders, raw TeX, sideways scrolling at 390 px")
    s.add_argument("pages", nargs="*", help="pages relative to --html, e.g. book/_generated/01_basics.html "
                   "(default: all)")
    s.add_argument("--html", default="_build/html", help="the built book (default: _build/html)")
    s.add_argument("--screenshots", default="_build/screenshots",
                   help="folder for a 1,400-px shot of each page (default: _build/screenshots, git-ignored)")
    s.set_defaults(run=_check_book)

    s = sub.add_parser("data", help="find, verify and decode the data sets")
    s.add_argument("--data", default=None)
    s.add_argument("--download", action="store_true", help="download what is missing (needs network)")
    s.set_defaults(run=_data)

    s = sub.add_parser("bench", help="training images/s for a model, batch and device")
    s.add_argument("models", nargs="*", default=["resnet20", "resnet56"],
                   help="resnet8, resnet20, resnet32, resnet56, mlp-WIDTH, chargpt-WIDTH")
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--device", default="cpu")
    s.add_argument("--steps", type=int, default=10, help="timed steps (after as many warm-up steps)")
    s.add_argument("--modes", default="fp32", help="comma-separated: fp32, bf16, bf16+channels_last, "
                   "bf16+channels_last+compile; or all")
    s.add_argument("--classic", action="store_true", help="also time the classic DataLoader recipe")
    s.add_argument("--stack", default=None, metavar="K,K,...",
                   help="also train each model's runs stacked K at a time (e.g. 1,4,16,64) against one after another")
    s.add_argument("--fused-update", action="store_true",
                   help="with --stack: time each stack again with its optimizer's update compiled (torch.compile)")
    s.add_argument("--sweep", default=None, choices=list(EXPERIMENTS),
                   help="instead: time this experiment's whole sweep (into a scratch store) at each --jobs")
    s.add_argument("--profile", default="quick", choices=PROFILES, help="the sweep's profile (default: quick)")
    s.add_argument("--jobs", default="1,2", help="runs at once to time the sweep with (default: 1,2)")
    s.add_argument("--compile", action="store_true", help="the sweep compiles its models")
    s.add_argument("--command", default=None, help="instead: time this shell command (e.g. 'make test')")
    s.add_argument("--label", default=None, help="with --command: the command's name in the record (default: the command); "
                   "otherwise the record's file name, <device>-<label>.json (default: <device>.json)")
    s.add_argument("--data", default=None, help="data folder for the sweep (default: $LRLAB_DATA or ~/.cache/lrlab)")
    s.add_argument("--out", default=None, help="also write the table as a record in this folder "
                   "(the book reads results/bench)")
    s.set_defaults(run=_bench)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        status = args.run(args)
    except LrlabError as e:
        print(f"lrlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lrlab: interrupted; finished runs are saved, rerun to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:   # `lrlab status | head`: the reader has gone, so has the need to print
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no second error at exit's flush
        return 141
    return status or 0
