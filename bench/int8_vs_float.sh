#!/usr/bin/env bash
# qat int8 vs qat float on the same network (issue 6, acceptance 3: int8 at least 2.5x faster than
# qat's own float on mbv1_100). The float side is the float twin of the peers' int8 model
# (`qat convert M/NET_b1.tflite --out NET_float.tflite`: the same graph with the float weights the
# int8 model dequantizes to), the int8 side the model itself in both requantization modes
# (`--requant xnnpack`: fp32 rounding; `--requant tflite`: TFLite's fixed point, qat's default).
# For every (network, batch, threads) row the three run alternately ROUNDS times, each a
# `qat bench` median of RUNS runs; every round is printed with its ratios (float / int8), then the
# median over rounds of each time and the ratio of those medians.
#
#   bench/int8_vs_float.sh [--qat build/qat] [--peers DIR] [--runs N] [--rounds R] [--nets "mbv1_100 mbv1_050"]
#                          [--batches "1 64"] [--threads "1 2"] [--inputs N] [--quick]
#
# --inputs N: every `qat bench` cycles through N different random inputs (default 1: one input
# repeated, as TFLite's benchmark_model does; the int8 kernels adapt to the first inputs they see).
# Defaults: mbv1_100, batch 1, 1 thread, 50 runs, 6 rounds. --peers defaults to $QAT_PEERS_DIR,
# then ~/.cache/qat-peers. Idle machine please; the CPU and the load are printed with the table.
set -euo pipefail

QAT=""
PEERS="${QAT_PEERS_DIR:-$HOME/.cache/qat-peers}"
RUNS=50
ROUNDS=6
NETS="mbv1_100"
BATCHES="1"
THREADS="1"
INPUTS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --qat) QAT="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --nets) NETS="$2"; shift 2 ;;
    --batches) BATCHES="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --inputs) INPUTS="$2"; shift 2 ;;
    --quick) RUNS=10; ROUNDS=2; shift ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "$QAT" ]]; then
  for c in "$ROOT"/build/qat "$ROOT"/build-*/qat; do [[ -x "$c" ]] && { QAT="$c"; break; }; done
fi
[[ -x "$QAT" ]] || { echo "qat not found (--qat)" >&2; exit 1; }
MODELS="$PEERS/data/models"
[[ -d "$MODELS" ]] || { echo "no peer models under $MODELS (--peers; ../shared/peers/setup.sh installs them)" >&2; exit 1; }
TWINS="$(mktemp -d "${TMPDIR:-/tmp}/qat-float-twins.XXXXXX")"
trap 'rm -rf "$TWINS"' EXIT

# qat_median MODEL BATCH THREADS [--requant MODE]: the median ms of RUNS timed runs.
qat_median() {
  local model="$1" batch="$2" threads="$3"; shift 3
  local runs="$RUNS" extra=("$@")
  [[ "$batch" != 1 ]] && { extra+=(--batch "$batch"); runs=$(( RUNS / 10 > 3 ? RUNS / 10 : 3 )); }
  # Captured first, then parsed: a python3 started in the same pipe would compete with qat's threads
  # for the CPUs during its first runs (on 2 CPUs it made 2-thread runs of small models up to 1.7x slower).
  local out
  out="$("$QAT" bench "$model" --threads "$threads" --runs "$runs" --warmup 3 --inputs "$INPUTS" --json "${extra[@]}" 2>/dev/null)" || true
  printf '%s\n' "$out" |
    python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        v = json.loads(line).get("median_ms"); print("nan" if v is None else f"{v:.3f}"); break
else:
    print("nan")'
}
median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:] if x not in ("nan","")]; print(f"{statistics.median(v):.3f}" if v else "nan")' "$@"; }
ratio() { python3 -c "import sys; f,q=sys.argv[1:]; print('nan' if 'nan' in (f,q) else f'{float(f)/float(q):.2f}')" "$1" "$2"; }

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) logical CPUs;" \
     "qat ISA: ${QAT_ISA:-auto}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "qat: $QAT bench; float: the float twin; runs/median=$RUNS (batch > 1: RUNS/10, at least 3) rounds=$ROUNDS inputs=$INPUTS"
summary=()
for net in $NETS; do
  model="$MODELS/${net}_b1.tflite"
  [[ -f "$model" ]] || { echo "missing $model" >&2; exit 1; }
  twin="$TWINS/${net}_float.tflite"
  "$QAT" convert "$model" --out "$twin" >/dev/null
  for batch in $BATCHES; do
    for threads in $THREADS; do
      echo "$net batch $batch, $threads thread(s): round  float_ms  xnnpack_ms (float/int8)  tflite_ms (float/int8)"
      f=(); x=(); t=()
      for ((r = 1; r <= ROUNDS; r++)); do
        f+=("$(qat_median "$twin" "$batch" "$threads")")
        x+=("$(qat_median "$model" "$batch" "$threads" --requant xnnpack)")
        t+=("$(qat_median "$model" "$batch" "$threads" --requant tflite)")
        printf '  %5d %9s %11s (%s) %10s (%s)\n' "$r" "${f[-1]}" "${x[-1]}" "$(ratio "${f[-1]}" "${x[-1]}")" \
               "${t[-1]}" "$(ratio "${f[-1]}" "${t[-1]}")"
      done
      fm=$(median "${f[@]}"); xm=$(median "${x[@]}"); tm=$(median "${t[@]}")
      summary+=("$(printf '%-10s %5s %7s %10s %11s %11s %13s %12s' "$net" "$batch" "$threads" "$fm" "$xm" "$tm" \
                   "$(ratio "$fm" "$xm")" "$(ratio "$fm" "$tm")")")
    done
  done
done
echo
echo "Medians over the rounds (ratio = float / int8; acceptance 3 asks >= 2.5 on mbv1_100):"
printf '%-10s %5s %7s %10s %11s %11s %13s %12s\n' network batch threads float_ms xnnpack_ms tflite_ms ratio_xnnpack ratio_tflite
printf '%s\n' "${summary[@]}"
