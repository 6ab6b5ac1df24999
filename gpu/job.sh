#!/usr/bin/env bash
# One GPU job, the whole of it, on a bare machine that keeps nothing:
#
#   bash gpu/job.sh OUTDIR [MINUTES] [CHUNK ...]
#
# installs the staged wheels into a temporary folder, prints the device, driver and versions,
# verifies the staged data's sha256, runs `lrlab job` (the named chunks, or the queue's next
# pending ones) so that everything ends MINUTES after this script started, packs the new records,
# job log, bench records, checkpoints and fine-tuning starts into OUTDIR (at most 6 tar files of
# 15 MiB), and prints what it did last. Stage first, on your own machine: `lrlab stage` fills
# .stage/ (data, wheels, commit); the call carries .stage and results/.checkpoints. Bring the tar
# files back and run `lrlab unpack OUTDIR/*.tgz`. LRLAB_DEVICE (default cuda) and LRLAB_PROFILE
# (default gpu) exist so the exact script can be tried on a CPU first.
set -uo pipefail        # not -e: whatever the job did, the pack step must run
OUT=${1:?usage: bash gpu/job.sh OUTDIR [MINUTES] [CHUNK ...]}
MINUTES=${2:-8.5}
shift $(( $# < 2 ? $# : 2 ))
STAGE=${LRLAB_STAGE:-.stage}
DEVICE=${LRLAB_DEVICE:-cuda}
PROFILE=${LRLAB_PROFILE:-gpu}
PACK_RESERVE_S=30      # what packing and the closing table need after the job's deadline
START=$(date +%s)
mkdir -p "$OUT"
MARKER=$(mktemp)        # files newer than this are what the job made
export PYTHONUNBUFFERED=1 LRLAB_STAGE="$STAGE" LRLAB_DATA="${LRLAB_DATA:-$STAGE/data}"

if compgen -G "$STAGE/wheels/*.whl" >/dev/null; then
  SITE=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$STAGE"/wheels/*.whl \
    && export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" || echo "gpu/job.sh: the staged wheels did not install"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi here"
python3 - <<'PY'
import platform, torch
cuda = torch.cuda.is_available()
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"device {torch.cuda.get_device_name() if cuda else 'cpu'}")
PY

echo "== data"
python3 -m lrlab stage --verify --out "$STAGE" && python3 -m lrlab data --data "$LRLAB_DATA"
DATA_OK=$?

echo "== job"
JOB_STATUS=2
if [ "$DATA_OK" -eq 0 ]; then
  LEFT=$(python3 -c "import time; print(max(0.1, ($START + $MINUTES * 60 - $PACK_RESERVE_S - time.time()) / 60))")
  python3 -m lrlab job "$@" --deadline "$LEFT" --device "$DEVICE" --profile "$PROFILE" --no-progress
  JOB_STATUS=$?
fi

echo "== pack"
python3 -m lrlab pack "$OUT" --newer-than "$MARKER"
PACK_STATUS=$?

echo "== what this job did (job exit $JOB_STATUS, pack exit $PACK_STATUS, $(( $(date +%s) - START )) s)"
python3 -m lrlab queue --profile "$PROFILE" --device-name "$(python3 -c "
import torch; n = torch.cuda.get_device_name() if torch.cuda.is_available() else ''
print('H200' if 'H200' in n else 'H100')")" | tail -n 40
exit $(( JOB_STATUS != 0 ? JOB_STATUS : PACK_STATUS ))
