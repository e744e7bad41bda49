#!/usr/bin/env bash
# SmallCNN float training throughput: qat against PyTorch (torch_speed.py from the peers folder),
# run one after the other on the same cores, printing both images/s and the ratio.
#   bench/train_speed.sh [--build DIR] [--threads N] [--images N] [--step-bench] [--passive]
# --passive exports OMP_WAIT_POLICY=passive for both runs: on a machine shared with other work,
# OpenMP's spinning workers (qat's oneDNN / kernels and PyTorch alike) lose 3-8x to time slicing.
# qat's figure comes from `qat train --json` ("images_per_s"); when the CLI is missing or does not
# report it (or with --step-bench), from bench/smallcnn_step_bench, which chains the float kernels
# into a full forward + backward + SGD step with no graph engine (the kernel-level ceiling).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build THREADS=2 IMAGES=15360 FORCE_STEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --images) IMAGES="$2"; shift 2 ;;
    --step-bench) FORCE_STEP=1; shift ;;
    --passive) export OMP_WAIT_POLICY=passive; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "train_speed.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
PEERS="${QAT_PEERS_DIR:-/root/.cache/qat-peers}"
PY=/usr/bin/python3
json_field() {  # json_field FIELD LINE -> value or nothing
  "$PY" -c 'import json,sys
try: print(json.loads(sys.argv[2])[sys.argv[1]])
except Exception: pass' "$1" "$2"
}

qat_ips="" qat_src=""
if [ "$FORCE_STEP" = 0 ] && [ -x "$BUILD/qat" ]; then
  run_dir=$(mktemp -d)
  line=$("$BUILD/qat" train --model models/small_cnn.json --epochs 1 --batch 128 --train-limit "$IMAGES" \
         --test-limit 1000 --threads "$THREADS" --out "$run_dir/run" --json --quiet 2>/dev/null | tail -n 1) || line=""
  rm -rf "$run_dir"
  qat_ips=$(json_field images_per_s "$line")
  [ -n "$qat_ips" ] && qat_src="qat train --json (1 epoch of $IMAGES images)"
fi
if [ -z "$qat_ips" ]; then
  step="$BUILD/bench/smallcnn_step_bench"
  [ -x "$step" ] || { echo "train_speed.sh: neither $BUILD/qat train --json nor $step is usable" >&2; exit 1; }
  steps=$(( IMAGES / 128 ))
  [ "$steps" -ge 10 ] || steps=10
  line=$("$step" --threads "$THREADS" --steps "$steps" --json | tail -n 1)
  qat_ips=$(json_field images_per_s "$line")
  qat_src="smallcnn_step_bench (kernels only, no graph engine, $steps steps)"
fi

torch_ips=""
if [ -f "$PEERS/torch_speed.py" ]; then
  line=$("$PY" "$PEERS/torch_speed.py" --threads "$THREADS" --images "$IMAGES" 2>/dev/null | tail -n 1) || line=""
  torch_ips=$(json_field float_img_per_s "$line")
fi

echo "threads: $THREADS   load average: $(cut -d' ' -f1-3 /proc/loadavg)   OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}"
echo "qat:     $qat_ips images/s   [$qat_src]"
if [ -n "$torch_ips" ]; then
  echo "pytorch: $torch_ips images/s   [torch_speed.py float, $IMAGES images]"
  "$PY" -c 'import sys; print("ratio qat/pytorch: %.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$qat_ips" "$torch_ips"
else
  echo "pytorch: not available ($PEERS/torch_speed.py)"
fi
