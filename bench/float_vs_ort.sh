#!/usr/bin/env bash
# qat float vs ONNX Runtime float on the same networks and weights, in one run. qat's side is the
# float twin of the peers' int8 model (`qat convert M/NET_b1.tflite --out NET_float.tflite`, the
# float weights the int8 model dequantizes to), ORT's side the peers' NET_float.onnx. For every
# (network, batch, threads) row `qat bench` and ORT (onnxruntime-node, ort_bench.mjs) run
# alternately ROUNDS times; the table shows the median over rounds of each tool's own median
# latency and ratio = qat / ORT (issue 6 asks for <= 1.0). Then, with --mediapipe, every MediaPipe
# float model of the peers (data/npm) in qat and, converted by bench/tflite_to_onnx.py (same
# weights, NCHW), in ORT, 1 and 2 threads.
# --cpu (1-thread rows): also the CPU time per run of each tool, (cpu(N+W) - cpu(W)) / N from two
# processes with W and N+W runs (GNU time, 10 ms ticks), which a machine shared with other jobs
# disturbs far less than wall time (cache sharing aside). Not for 2 threads: qat's workers spin.
#
#   bench/float_vs_ort.sh [--qat build/qat] [--peers DIR] [--runs N] [--rounds R] [--quick] [--mediapipe]
#                         [--only-mediapipe] [--check] [--cpu] [--float-math exact|fused]
# --only-mediapipe: the MediaPipe rows alone; --check: first the same random input through qat and
# the converted model in ORT (bench/onnx_vs_qat_check.py), largest output difference printed.
#
# --float-math: qat's float arithmetic (qat bench --float-math; default fused, the interpreter's default:
# FMA on AVX-512 CPUs, as ORT; exact: the reference's multiply-then-add values).
# --peers defaults to $QAT_PEERS_DIR, then ~/.cache/qat-peers. Twins are written to $TMPDIR (or /tmp).
# Idle machine please; the CPU and the load are printed with the table.
set -euo pipefail

QAT=""
PEERS="${QAT_PEERS_DIR:-$HOME/.cache/qat-peers}"
RUNS=50
ROUNDS=3
QUICK=0
MEDIAPIPE=0
ONLY_MEDIAPIPE=0
CHECK=0
CPU=0
FLOAT_MATH=fused
while [[ $# -gt 0 ]]; do
  case "$1" in
    --qat) QAT="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --mediapipe) MEDIAPIPE=1; shift ;;
    --only-mediapipe) MEDIAPIPE=1; ONLY_MEDIAPIPE=1; shift ;;
    --check) CHECK=1; shift ;;
    --cpu) CPU=1; shift ;;
    --float-math) FLOAT_MATH="$2"; shift 2 ;;
    -h|--help) sed -n 2,20p "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "$QAT" ]]; then
  for c in "$ROOT"/build/qat "$ROOT"/build-*/qat; do [[ -x "$c" ]] && { QAT="$c"; break; }; done
fi
[[ -x "$QAT" ]] || { echo "qat not found (--qat)" >&2; exit 1; }
QAT="$(cd "$(dirname "$QAT")" && pwd)/$(basename "$QAT")"
MODELS="$PEERS/data/models"
NODE_DIR="$PEERS/node"
[[ -f "$NODE_DIR/ort_bench.mjs" ]] || { echo "ort_bench.mjs not found under $NODE_DIR (--peers)" >&2; exit 1; }
TWINS="$(mktemp -d "${TMPDIR:-/tmp}/qat-float-twins.XXXXXX")"
trap 'rm -rf "$TWINS"' EXIT

qat_median() {
  local model="$1" batch="$2" threads="$3" runs="$4" extra=(--float-math "$FLOAT_MATH")
  [[ "$batch" != 1 ]] && extra+=(--batch "$batch")
  # Captured first, then parsed: a python3 started in the same pipe would compete with qat's threads
  # for the CPUs during its first runs (on 2 CPUs it made 2-thread runs of small models up to 1.7x slower).
  local out
  out="$("$QAT" bench "$model" --threads "$threads" --runs "$runs" --warmup 3 --json "${extra[@]}" 2>/dev/null)" || true
  printf '%s\n' "$out" |
    python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        d = json.loads(line); print(d.get("median_ms", "nan")); break
else:
    print("nan")'
}

ort_median() {
  local onnx="$1" batch="$2" threads="$3" runs="$4"
  (cd "$NODE_DIR" && node ort_bench.mjs "$onnx" --batch "$batch" --threads "$threads" --runs "$runs" --warmup 3 2>/dev/null) |
    sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' | tail -1
}

# CPU ms per run of a command whose run count is the word RUNS: two processes, 5 and 5 + N runs.
cpu_per_run() {
  local n="$1"; shift
  local a b
  a=$(cpu_of 5 "$@"); b=$(cpu_of $((5 + n)) "$@")
  python3 -c "import sys; a,b,n=map(float,sys.argv[1:]); print(f'{(b-a)*1000/n:.2f}')" "$a" "$b" "$n"
}
cpu_of() {
  local k="$1"; shift
  local args=("${@//RUNS/$k}")
  (cd "$NODE_DIR" && /usr/bin/time -f "%U %S" "${args[@]}" 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}')
}

median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:] if x not in ("nan","")]; print(f"{statistics.median(v):.3f}" if v else "nan")' "$@"; }

ROWS=("mbv1_100 1" "mbv1_050 1" "cnn 1" "cnn 64")
[[ $QUICK == 1 ]] && { ROWS=("mbv1_100 1" "cnn 1"); ROUNDS=1; RUNS=10; }
[[ $ONLY_MEDIAPIPE == 1 ]] && ROWS=()
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) logical CPUs;" \
     "qat ISA: ${QAT_ISA:-auto}; qat float math: $FLOAT_MATH; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "qat: $QAT bench (float twins of the int8 models)   ORT: $NODE_DIR/ort_bench.mjs (NET_float.onnx)"
echo "runs/median=$RUNS rounds=$ROUNDS"
printf '%-10s %5s %7s %12s %12s %8s\n' network batch threads qat_ms ort_ms ratio
for row in "${ROWS[@]}"; do
  read -r net batch <<<"$row"
  twin="$TWINS/${net}_float.tflite"
  [[ -f "$twin" ]] || "$QAT" convert "$MODELS/${net}_b1.tflite" --out "$twin" >/dev/null
  onnx="$MODELS/${net}_float.onnx"
  for threads in 1 2; do
    q=(); o=()
    for ((r = 0; r < ROUNDS; r++)); do
      q+=("$(qat_median "$twin" "$batch" "$threads" "$RUNS")")
      o+=("$(ort_median "$onnx" "$batch" "$threads" "$RUNS")")
    done
    qm=$(median "${q[@]}"); om=$(median "${o[@]}")
    ratio=$(python3 -c "import sys; q,o=sys.argv[1:]; print('nan' if 'nan' in (q,o) else f'{float(q)/float(o):.3f}')" "$qm" "$om")
    printf '%-10s %5s %7s %12s %12s %8s\n' "$net" "$batch" "$threads" "$qm" "$om" "$ratio"
  done
  if [[ $CPU == 1 ]]; then
    extra=(--float-math "$FLOAT_MATH")
    [[ "$batch" != 1 ]] && extra+=(--batch "$batch")
    # Enough runs for about 2 s of CPU per process (the clock ticks every 10 ms).
    n=$(python3 -c "import math,sys; q=float(sys.argv[1]); print(max(int(sys.argv[2]), math.ceil(2000 / q)) if q == q else int(sys.argv[2]))" "$qm" "$RUNS")
    qc=$(cpu_per_run "$n" "$QAT" bench "$twin" --threads 1 --runs RUNS --warmup 0 "${extra[@]}")
    oc=$(cpu_per_run "$n" node ort_bench.mjs "$onnx" --batch "$batch" --threads 1 --runs RUNS --warmup 0)
    ratio=$(python3 -c "import sys; q,o=map(float,sys.argv[1:]); print(f'{q/o:.3f}')" "$qc" "$oc")
    printf '%-10s %5s %7s %12s %12s %8s   (CPU ms per run)\n' "$net" "$batch" 1 "$qc" "$oc" "$ratio"
  fi
done

if [[ $MEDIAPIPE == 1 ]]; then
  # The same networks in ORT: bench/tflite_to_onnx.py writes each model as NCHW ONNX with the same
  # float weights (fp16 constants folded; a model it cannot convert, e.g. DENSIFY, gets no ORT column).
  echo
  echo "MediaPipe float models: qat bench vs ORT on the same network (bench/tflite_to_onnx.py), median ms over"
  echo "$ROUNDS alternating rounds of $RUNS runs; ratio = qat / ORT"
  printf '%-36s %7s %10s %10s %8s\n' model threads qat_ms ort_ms ratio
  while IFS= read -r m; do
    base=$(basename "$m" .tflite)
    onnx="$TWINS/$base.onnx"
    /usr/bin/python3 "$ROOT/bench/tflite_to_onnx.py" "$m" "$onnx" >/dev/null 2>&1 || onnx=""
    [[ -n "$onnx" && $CHECK == 1 ]] && /usr/bin/python3 "$ROOT/bench/onnx_vs_qat_check.py" "$m" "$onnx" "$QAT" "$NODE_DIR"
    for threads in 1 2; do
      q=(); o=()
      for ((r = 0; r < ROUNDS; r++)); do
        q+=("$(qat_median "$m" 1 "$threads" "$RUNS")")
        [[ -n "$onnx" ]] && o+=("$(ort_median "$onnx" 1 "$threads" "$RUNS")")
      done
      qm=$(median "${q[@]}")
      om=nan
      [[ -n "$onnx" ]] && om=$(median "${o[@]}")
      ratio=$(python3 -c "import sys; q,o=sys.argv[1:]; print('nan' if 'nan' in (q,o) else f'{float(q)/float(o):.3f}')" "$qm" "$om")
      printf '%-36s %7s %10s %10s %8s\n' "$base" "$threads" "$qm" "$om" "$ratio"
    done
  done < <(find "$PEERS/data/npm" -name '*.tflite' | sort)
fi
