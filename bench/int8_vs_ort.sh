#!/usr/bin/env bash
# qat vs ONNX Runtime on the same int8 networks and weights, in one run: for every
# (network, batch, threads) row, `qat bench` and ORT (onnxruntime-node, ort_bench.mjs) run
# alternately ROUNDS times; the table shows the median over rounds of each tool's own median
# latency, and ratio = qat / ORT (the acceptance asks for <= 0.9).
#
#   bench/int8_vs_ort.sh [--qat build/qat] [--peers DIR] [--runs N] [--rounds R] [--quick]
#                        [--requant tflite|xnnpack|both] [--ort node|python]
#
# --requant picks qat's requantization (default both: one column each; the ratio uses xnnpack).
# ORT's QLinearConv requantizes in fp32 (float(acc) * scale, round to nearest even), which is
# qat's xnnpack mode bit for bit, so that column compares the same arithmetic; tflite is
# TFLite's fixed-point (gemmlowp) output stage, a little more work per output value.
#
# --peers defaults to $QAT_PEERS_DIR, then ~/.cache/qat-peers (see ../shared/peers/README.md).
# Models: DIR/data/models/{cnn,mbv1_100,mbv1_050}_b{1,64}.tflite for qat and the QDQ .onnx with
# the same weights for ORT. When no _b64.tflite exists (mbv1_100), qat's side is the _b1 model resized
# to batch 64: `qat bench --batch 64` (ResizeInputTensor; RESHAPE's constant [1, 1024] follows the
# batch, src/lite/ops/reshape.cpp), or int8_kernels_bench's BM_Model with an older qat.
# Without a working `qat bench`, qat's side falls back to int8_kernels_bench's BM_Model (the same
# interpreter, median wall time of 5 repetitions); --kbench PATH names that binary.
# --ort python times ORT with its Python package (bench/ort_bench.py: the same session settings,
# input and output line as ort_bench.mjs), for a machine with the onnxruntime wheel and no
# Node.js; the default is node, falling back to python when ort_bench.mjs or node is missing.
# Idle machine please; the CPU is printed with the table.
set -euo pipefail

QAT=""
KBENCH=""
PEERS="${QAT_PEERS_DIR:-$HOME/.cache/qat-peers}"
RUNS=50
ROUNDS=3
QUICK=0
REQUANT=both
ORT_RUNNER=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --qat) QAT="$2"; shift 2 ;;
    --kbench) KBENCH="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --requant) REQUANT="$2"; shift 2 ;;
    --ort) ORT_RUNNER="$2"; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "$QAT" ]]; then
  for c in "$ROOT"/build/qat "$ROOT"/build-*/qat; do [[ -x "$c" ]] && { QAT="$c"; break; }; done
fi
if [[ -z "$KBENCH" ]]; then
  for c in "$ROOT"/build/bench/int8_kernels_bench "$ROOT"/build-*/bench/int8_kernels_bench; do
    [[ -x "$c" ]] && { KBENCH="$c"; break; }
  done
fi
USE_KBENCH=0
if [[ -z "$QAT" ]] || ! "$QAT" --help 2>&1 | grep -qw bench; then
  [[ -x "$KBENCH" ]] || { echo "neither 'qat bench' nor int8_kernels_bench found (--qat / --kbench)" >&2; exit 1; }
  USE_KBENCH=1
fi
QAT_HAS_BATCH=0
[[ $USE_KBENCH == 0 ]] && "$QAT" bench --help 2>&1 | grep -q -- --batch && QAT_HAS_BATCH=1
MODELS="$PEERS/data/models"
NODE_DIR="$PEERS/node"
if [[ -z "$ORT_RUNNER" ]]; then
  ORT_RUNNER=node
  if [[ ! -f "$NODE_DIR/ort_bench.mjs" ]] || ! command -v node >/dev/null; then
    python3 -c 'import onnxruntime' 2>/dev/null && ORT_RUNNER=python
  fi
fi
case "$ORT_RUNNER" in
  node) [[ -f "$NODE_DIR/ort_bench.mjs" ]] || { echo "ort_bench.mjs not found under $NODE_DIR (--peers)" >&2; exit 1; } ;;
  python) python3 -c 'import onnxruntime' || { echo "--ort python: no onnxruntime module" >&2; exit 1; } ;;
  *) echo "--ort node|python, not $ORT_RUNNER" >&2; exit 2 ;;
esac

# Median latency (ms) of one `qat bench` run: reads its --json output, whatever the exact key
# spelling (median_ms / median / latency_ms.median), falling back to a "median ... ms" text line.
kbench_median() {
  local model="$1" batch="$2" threads="$3" idx
  case "$(basename "$model")" in cnn_*) idx=0 ;; mbv1_100_*) idx=1 ;; *) idx=2 ;; esac
  QAT_PEERS_DIR="$PEERS" "$KBENCH" --benchmark_filter="BM_Model/model:$idx/b:$batch/threads:$threads/mode:0/" \
    --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_format=json 2>/dev/null |
    python3 -c '
import json, sys
d = json.load(sys.stdin)
v = [b["real_time"] for b in d.get("benchmarks", []) if b.get("aggregate_name") == "median"]
print(v[0] if v else "nan")'
}

qat_median() {
  local model="$1" batch="$2" threads="$3" runs="$4" mode="$5" extra=(--requant "$5")
  if [[ $USE_KBENCH == 1 ]]; then kbench_median "$model" "$batch" "$threads"; return; fi
  if [[ "$batch" != 1 && "$model" == *_b1.tflite ]]; then
    # The batch-1 model resized: `qat bench --batch`, else BM_Model (an older qat without --batch).
    if [[ $QAT_HAS_BATCH == 0 && -x "$KBENCH" ]]; then kbench_median "$model" "$batch" "$threads"; return; fi
    extra+=(--batch "$batch")
  fi
  local out
  out="$("$QAT" bench "$model" --threads "$threads" --runs "$runs" --warmup 3 --json "${extra[@]}" 2>&1)" || {
    echo "qat bench failed: $(echo "$out" | tail -2 | tr '\n' ' ')" >&2; echo "nan"; return; }
  local res
  res="$(python3 - "$out" <<'PY'
import json, re, sys
text = sys.argv[1]
def find(o):
    if isinstance(o, dict):
        for k in ("median_ms", "median", "latency_median_ms"):
            if k in o and isinstance(o[k], (int, float)): return o[k]
        for v in o.values():
            r = find(v)
            if r is not None: return r
    return None
val = None
for line in reversed(text.splitlines()):
    line = line.strip()
    if line.startswith("{"):
        try:
            val = find(json.loads(line))
        except ValueError:
            pass
        if val is not None: break
if val is None:
    m = re.search(r"median[^0-9]*([0-9.]+)\s*ms", text)
    val = float(m.group(1)) if m else float("nan")
m = re.search(r'"min_ms":\s*([0-9.eE+-]+)', text)
print(val, m.group(1) if m else "nan")
PY
  )" || return
  echo "qat_$mode $(net_of "$model") $batch $threads $(cut -d' ' -f2 <<<"$res")" >>"$MINS"
  cut -d' ' -f1 <<<"$res"
}

ort_median() {
  local onnx="$1" batch="$2" threads="$3" runs="$4" line
  if [[ $ORT_RUNNER == python ]]; then
    line="$(python3 "$ROOT/bench/ort_bench.py" "$onnx" --batch "$batch" --threads "$threads" --runs "$runs" --warmup 3 \
      2>/dev/null | grep 'median' | tail -1)"
  else
    line="$( (cd "$NODE_DIR" && node ort_bench.mjs "$onnx" --batch "$batch" --threads "$threads" --runs "$runs" \
      --warmup 3 2>/dev/null) | grep 'median' | tail -1)"
  fi
  local mn
  mn="$(sed -n 's/.*(min \([0-9.]*\),.*/\1/p' <<<"$line")"
  echo "ort $(net_of "$onnx") $batch $threads ${mn:-nan}" >>"$MINS"
  sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' <<<"$line"
}

# The network of a model file: cnn_b64.tflite, cnn_qdq.onnx -> cnn.
net_of() { basename "$1" | sed -E 's/(_b[0-9]+)?\.tflite$//; s/_qdq\.onnx$//'; }

# Each run's fastest time (qat bench min_ms, ORT's "min"), one line per tool, network, batch,
# threads and round; summarised after the medians' table (the minimum over the rounds).
MINS="$(mktemp)"
trap 'rm -f "$MINS"' EXIT

median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:] if x not in ("nan","")]; print(f"{statistics.median(v):.3f}" if v else "nan")' "$@"; }

ROWS=("cnn 1" "cnn 64" "mbv1_100 1" "mbv1_100 64" "mbv1_050 1")
[[ $QUICK == 1 ]] && { ROWS=("cnn 1" "mbv1_050 1"); ROUNDS=1; RUNS=10; }
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) logical CPUs;" \
     "qat ISA: ${QAT_ISA:-auto}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $USE_KBENCH == 1 ]]; then echo "qat: $KBENCH (BM_Model)"; else echo "qat: $QAT bench"; fi
if [[ $ORT_RUNNER == python ]]; then
  echo "ORT: python onnxruntime $(python3 -c 'import onnxruntime; print(onnxruntime.__version__)') (bench/ort_bench.py)   runs/median=$RUNS rounds=$ROUNDS"
else
  echo "ORT: $NODE_DIR/ort_bench.mjs   runs/median=$RUNS rounds=$ROUNDS"
fi
MODES=(xnnpack tflite)
[[ $REQUANT != both ]] && MODES=("$REQUANT")
hdr=(network batch threads); for m in "${MODES[@]}"; do hdr+=("qat_${m}_ms"); done; hdr+=(ort_ms)
for m in "${MODES[@]}"; do hdr+=("ratio_$m"); done
printf '%-10s %5s %7s' "${hdr[@]:0:3}"; printf ' %16s' "${hdr[@]:3}"; echo
for row in "${ROWS[@]}"; do
  read -r net batch <<<"$row"
  tfl="$MODELS/${net}_b${batch}.tflite"
  [[ -f "$tfl" ]] || tfl="$MODELS/${net}_b1.tflite"
  onnx="$MODELS/${net}_qdq.onnx"
  runs=$RUNS
  [[ "$net" == mbv1_100 && "$batch" == 64 ]] && runs=$(( RUNS / 10 > 3 ? RUNS / 10 : 3 ))
  for threads in 1 2; do
    declare -A qs=(); o=()
    for ((r = 0; r < ROUNDS; r++)); do
      for m in "${MODES[@]}"; do qs[$m]+=" $(qat_median "$tfl" "$batch" "$threads" "$runs" "$m")"; done
      o+=("$(ort_median "$onnx" "$batch" "$threads" "$runs")")
    done
    om=$(median "${o[@]}")
    cols=(); ratios=()
    for m in "${MODES[@]}"; do
      # shellcheck disable=SC2086
      qm=$(median ${qs[$m]})
      cols+=("$qm")
      ratios+=("$(python3 -c "import sys; q,o=sys.argv[1:]; print('nan' if 'nan' in (q,o) else f'{float(q)/float(o):.3f}')" "$qm" "$om")")
    done
    unset qs
    printf '%-10s %5s %7s' "$net" "$batch" "$threads"; printf ' %16s' "${cols[@]}" "$om" "${ratios[@]}"; echo
  done
done

# On a machine shared with other tenants the medians move with the load (seen: +-50 % within a
# minute on a 16-vCPU VM); a run's fastest time is what the tool does when left alone, and the
# ratio of the two tools' fastest runs is the steadier comparison there.
echo
echo "Fastest run over all rounds (min ms; ratio = qat / ORT):"
python3 - "$MINS" "${MODES[@]}" <<'PY'
import sys
path, modes = sys.argv[1], sys.argv[2:]
best, order = {}, []
for line in open(path):
    tool, net, batch, threads, v = line.split()
    key = (net, batch, threads)
    if key not in order: order.append(key)
    try: v = float(v)
    except ValueError: continue
    best[(tool,) + key] = min(v, best.get((tool,) + key, float("inf")))
cols = [f"qat_{m}_min" for m in modes] + ["ort_min"] + [f"ratio_{m}" for m in modes]
print(f"{'network':10s} {'batch':>5s} {'threads':>7s}" + "".join(f" {c:>16s}" for c in cols))
for key in order:
    o = best.get(("ort",) + key, float("nan"))
    q = [best.get((f"qat_{m}",) + key, float("nan")) for m in modes]
    print(f"{key[0]:10s} {key[1]:>5s} {key[2]:>7s}" + "".join(f" {x:16.3f}" for x in q + [o]) +
          "".join(f" {x / o:16.3f}" for x in q))
PY
