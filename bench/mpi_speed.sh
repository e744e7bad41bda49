#!/usr/bin/env bash
# Data-parallel throughput (docs/distributed.md): `qat train` (SmallCNN float by default) as 1
# process with T threads against `mpirun -np N` processes with T/N threads each, same global
# batch and images. The two are run alternately R times (A B A B ...) so that a change of the
# machine's load hits both; prints images/s of every run (from `qat train --json`, training steps
# only: data + forward + backward + allreduces + update), the load average before each run, the
# medians and their ratio.
#   bench/mpi_speed.sh [--build DIR] [--np N] [--threads T] [--images N] [--batch B] [--repeat R]
#                      [--model FILE] [--passive] [-- EXTRA qat train FLAGS, e.g. --quantize]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build NP=2 THREADS=2 IMAGES=3840 MODEL=models/small_cnn.json BATCH=128 REPEAT=3
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --np) NP="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --images) IMAGES="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --passive) export OMP_WAIT_POLICY=passive; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "mpi_speed.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$BUILD/qat" ] || { echo "mpi_speed.sh: $BUILD/qat not built" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpi_speed.sh: mpirun not found (apt install openmpi-bin)" >&2; exit 1; }
PER=$(( THREADS / NP )); [ "$PER" -ge 1 ] || PER=1
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np "$NP" --bind-to none
        --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)
[ -n "${OMP_WAIT_POLICY:-}" ] && MPIRUN+=(-x OMP_WAIT_POLICY)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
args=(train --model "$MODEL" --epochs 1 --batch "$BATCH" --train-limit "$IMAGES" --test-limit 500 --json --quiet
      "${EXTRA[@]}")
ips() { python3 -c 'import json,sys; print("%.0f" % json.loads(sys.stdin.read().strip().splitlines()[-1])["images_per_s"])'; }
load() { cut -d' ' -f1 /proc/loadavg; }
echo "model $MODEL${EXTRA[*]:+ ${EXTRA[*]}}, global batch $BATCH, $IMAGES images, $(nproc) cores, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}"
ones=() manys=()
for i in $(seq "$REPEAT"); do
  l=$(load); one=$("$BUILD/qat" "${args[@]}" --threads "$THREADS" --out "$tmp/one" | ips)
  echo "run $i: 1 process x $THREADS threads:   $one images/s (load $l)"
  l=$(load); many=$("${MPIRUN[@]}" "$BUILD/qat" "${args[@]}" --threads "$PER" --out "$tmp/many" | ips)
  echo "run $i: $NP processes x $PER threads: $many images/s (load $l)"
  ones+=("$one") manys+=("$many")
done
python3 - "$NP" "${ones[*]}" "${manys[*]}" <<'EOF'
import statistics, sys
np_, ones, manys = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
a, b = statistics.median(ones), statistics.median(manys)
print("median: 1 process %.0f images/s, %s processes %.0f images/s, ratio (np %s / 1) %.2f" % (a, np_, b, np_, b / a))
EOF
