#!/usr/bin/env bash
# Data-parallel throughput (docs/distributed.md): SmallCNN float training, 1 process with T
# threads against `mpirun -np N` processes with T/N threads each, same global batch and images,
# run one after the other; prints images/s of both (from `qat train --json`) and the ratio.
#   bench/mpi_speed.sh [--build DIR] [--np N] [--threads T] [--images N] [--model FILE] [--passive]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build NP=2 THREADS=2 IMAGES=3840 MODEL=models/small_cnn.json BATCH=128
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --np) NP="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --images) IMAGES="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --passive) export OMP_WAIT_POLICY=passive; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "mpi_speed.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$BUILD/qat" ] || { echo "mpi_speed.sh: $BUILD/qat not built" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpi_speed.sh: mpirun not found (apt install openmpi-bin)" >&2; exit 1; }
PER=$(( THREADS / NP )); [ "$PER" -ge 1 ] || PER=1
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np "$NP" --bind-to none
        --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo -x OMP_WAIT_POLICY)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
args=(train --model "$MODEL" --epochs 1 --batch "$BATCH" --train-limit "$IMAGES" --test-limit 500 --json --quiet)
ips() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["images_per_s"])'; }
one=$("$BUILD/qat" "${args[@]}" --threads "$THREADS" --out "$tmp/one" | ips)
many=$("${MPIRUN[@]}" "$BUILD/qat" "${args[@]}" --threads "$PER" --out "$tmp/many" | ips)
echo "model $MODEL, global batch $BATCH, $IMAGES images, $(nproc) cores"
echo "1 process x $THREADS threads:   $one images/s"
echo "$NP processes x $PER threads: $many images/s"
python3 -c 'import sys; print("ratio (np %s / 1): %.2f" % (sys.argv[1], float(sys.argv[2]) / float(sys.argv[3])))' "$NP" "$many" "$one"
