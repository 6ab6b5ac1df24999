#!/usr/bin/env bash
# A GPU job rehearsed on this CPU, with the device's Python and packages, before the one device call:
#
#   bash gpu/rehearse.sh [CHUNK ...]
#
# The device runs gpu/job.sh under its own image (KINDS.md: Python 3.12, torch 2.11.0, torchvision
# 0.26.0, numpy 2.5.2), not under this machine's torch, so an API this machine's torch has and the
# device's lacks would crash there first. This script keeps a virtual environment with the device's
# versions (built once, ~5 GB, in ~/.cache/lrlab; LRLAB_DEVICE_PYTHON names another python instead),
# copies what the device call copies (the files git tracks or does not ignore, .stage and
# results/.checkpoints) into a temporary folder, and there runs gpu/job.sh on the CPU twice:
#   1. every chunk at profile smoke: every code path a job takes on a CPU, each run to its end;
#   2. the named gpu chunks (default: the queue's next) for REHEARSE_GPU_MINUTES (default 1.5):
#      the gpu profile's configs, the deadline, the checkpoint of the run in flight and the pack;
# then unpacks both jobs' tar files with this machine's Python into a second copy, as after a device
# call. It fails (exit 1, its last line saying why) if a job failed, skipped a package or packed
# nothing. Your working tree and results/ are not touched. CUDA-only paths (graphs, stacking,
# compilation) need the device itself.
set -euo pipefail
DEVICE_PYTHON_VERSION=3.12 DEVICE_TORCH=2.11.0 DEVICE_TORCHVISION=0.26.0 DEVICE_NUMPY=2.5.2
GPU_MINUTES=${REHEARSE_GPU_MINUTES:-1.5}
HERE=$PWD
fail() { echo "gpu/rehearse.sh: $*" >&2; exit 1; }
[ -d .stage ] || fail "no .stage in $HERE: run \`lrlab stage\` first (the device call carries it)"
[ -x .venv/bin/python ] || fail "no .venv in $HERE: run \`make .venv/.installed\` first (it unpacks the jobs)"

PY=${LRLAB_DEVICE_PYTHON:-}
if [ -z "$PY" ]; then
  VENV=${XDG_CACHE_HOME:-$HOME/.cache}/lrlab/device-python$DEVICE_PYTHON_VERSION-torch$DEVICE_TORCH
  if [ ! -f "$VENV/.installed" ]; then
    BASE=python3
    for candidate in "python$DEVICE_PYTHON_VERSION" "$HOME"/.pyenv/versions/"$DEVICE_PYTHON_VERSION".*/bin/python3; do
      if "$candidate" -V >/dev/null 2>&1; then BASE=$candidate; break; fi
    done
    [ "$BASE" != python3 ] || echo "gpu/rehearse.sh: no Python $DEVICE_PYTHON_VERSION here; using $(python3 -V)"
    echo "== the device's packages, into $VENV (once)"
    rm -rf "$VENV" && "$BASE" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q "torch==$DEVICE_TORCH" "torchvision==$DEVICE_TORCHVISION" \
      "numpy==$DEVICE_NUMPY" pandas matplotlib tqdm pillow pyyaml 2>&1 | { grep -v "^WARNING: Location" || true; } \
      || fail "the device's packages did not install into $VENV (pip's message above)"
    touch "$VENV/.installed"
  fi
  PY=$VENV/bin/python
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/bin"
# gpu/job.sh calls python3, as on the device (a wrapper, not a link: a venv's python must keep its own path)
# (absolute, for the jobs run from the copy; -s keeps the venv's path rather than its interpreter's)
printf '#!/bin/sh\nexec "%s" "$@"\n' "$(realpath -s "$(command -v "$PY")")" > "$WORK/bin/python3"
chmod +x "$WORK/bin/python3"
# the device call's copy (repo), and this machine's checkout as it stands before the packs come back (back)
for tree in repo back; do
  mkdir -p "$WORK/$tree"
  git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null \
    | tar -xf - -C "$WORK/$tree"
  if [ -d results/.checkpoints ]; then
    mkdir -p "$WORK/$tree/results" && cp -r results/.checkpoints "$WORK/$tree/results/"
  fi
done
cp -r .stage "$WORK/repo/"
cd "$WORK/repo"
"$WORK/bin/python3" -c "import platform, torch
print(f'rehearsing with Python {platform.python_version()}, torch {torch.__version__}')"

job() {   # profile minutes [chunk ...]: gpu/job.sh on the CPU, then its log and pack checked
  local profile=$1 minutes=$2 before status
  shift 2
  before=$(ls results/jobs 2>/dev/null | wc -l)
  echo "== gpu/job.sh at profile $profile, $minutes min${*:+: $*}"
  status=0
  PATH="$WORK/bin:$PATH" LRLAB_DEVICE=cpu LRLAB_PROFILE=$profile bash gpu/job.sh "$WORK/out-$profile" "$minutes" "$@" \
    > "$WORK/$profile.log" 2>&1 || status=$?
  grep -v '^\[' "$WORK/$profile.log" | sed -n '/^== data/,/^== what/p' || true   # not the table of chunks
  [ "$status" -eq 0 ] || fail "the $profile job exited $status"
  [ "$(ls results/jobs | wc -l)" -gt "$before" ] || fail "the $profile job wrote no job log"
  # a failed run already makes the exit non-zero; runs skipped for a package the device lacks do not
  "$WORK/bin/python3" - "$(ls -t results/jobs/*.json | head -n 1)" <<'PY' || fail "the $profile job skipped runs"
import json, sys
skipped = json.load(open(sys.argv[1])).get("skipped_packages") or {}
print("\n".join(f"{n} run(s) skipped for want of {p}" for p, n in skipped.items()), file=sys.stderr)
sys.exit(1 if skipped else 0)
PY
  compgen -G "$WORK/out-$profile/*.tgz" >/dev/null || fail "the $profile job packed nothing"
}

job smoke 8
job gpu "$GPU_MINUTES" "$@"
echo "== lrlab unpack, with this machine's Python, into a copy of the checkout as it was"
cd "$WORK/back"
"$HERE/.venv/bin/python" -m lrlab unpack "$WORK"/out-*/*.tgz | tail -n 5 || fail "lrlab unpack refused the jobs' packs"
echo "gpu/rehearse.sh: both jobs ran, packed and unpacked with Python $("$WORK/bin/python3" -V 2>&1 | cut -d' ' -f2)"
