#!/usr/bin/env bash
# Towers throughput on SmallCNN: towers=1 against towers=2 run concurrently (one lane per tower)
# and sequentially (QAT_SEQUENTIAL_TOWERS=1), QAT and float, interleaved, images/s per run.
#   bench/towers_speed.sh [--build DIR] [--threads T] [--cores 0,1] [--images 6400] [--repeat 3]
#                         [--data-dir DIR] [--passive]
# --cores pins the runs with taskset (distinct physical cores give a clean figure). The last
# line is JSON with the medians and the load average.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="$here/build" threads=2 cores="" images=6400 repeat=3 data=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --cores) cores="$2"; shift 2 ;;
    --images) images="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --data-dir) data=(--data-dir "$2"); shift 2 ;;
    --passive) export OMP_WAIT_POLICY=passive; shift ;;
    *) echo "usage: $0 [--build DIR] [--threads T] [--cores LIST] [--images N] [--repeat R] [--data-dir DIR] [--passive]" >&2; exit 2 ;;
  esac
done
qat="$build/qat"
[ -x "$qat" ] || { echo "towers_speed: $qat not built (cmake --build $build --target qat_cli)" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
pin=(); [ -n "$cores" ] && pin=(taskset -c "$cores")
run() {
  "${pin[@]}" "$qat" train --model "$here/models/small_cnn.json" "${data[@]}" --epochs 1 --batch 128 \
    --train-limit "$images" --test-limit 100 --threads "$threads" --quiet --json "$@" --out "$tmp/run" |
    tail -1 | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_s"]))'
}
declare -A r
names=(qat_t1 qat_t2 qat_t2_seq float_t1 float_t2 float_t2_seq)
for ((i = 0; i < repeat; i++)); do
  r[qat_t1]+=" $(run --lr 0.005 --quantize --towers 1)"
  r[qat_t2]+=" $(run --lr 0.005 --quantize --towers 2)"
  r[qat_t2_seq]+=" $(QAT_SEQUENTIAL_TOWERS=1 run --lr 0.005 --quantize --towers 2)"
  r[float_t1]+=" $(run --towers 1)"
  r[float_t2]+=" $(run --towers 2)"
  r[float_t2_seq]+=" $(QAT_SEQUENTIAL_TOWERS=1 run --towers 2)"
  echo "rep $((i + 1)):$(for n in "${names[@]}"; do printf ' %s %s' "$n" "${r[$n]##* }"; done)"
done
args=(); for n in "${names[@]}"; do args+=("$n=${r[$n]}"); done
python3 - "$threads" "$(cut -d' ' -f1-3 /proc/loadavg)" "${OMP_WAIT_POLICY:-default}" "${args[@]}" <<'PY'
import json, statistics, sys
out = {"threads": int(sys.argv[1]), "load": sys.argv[2], "omp_wait_policy": sys.argv[3]}
for a in sys.argv[4:]:
    k, v = a.split("=", 1)
    vals = [int(x) for x in v.split()]
    out[k] = {"median": statistics.median(vals), "runs": vals}
print(json.dumps(out))
PY
