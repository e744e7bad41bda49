#!/usr/bin/env bash
# The checks that need a CPU this VM lacks (AVX-512 VNNI), run from a pack made by
# scripts/device_pack.sh on a machine without qat's build dependencies:
#
#   scripts/device_check.sh PACK.tar.xz OUTDIR [section ...]
#
# Sections (default: all, in this order; each under its own time limit, logs in OUTDIR):
#   cpu     the CPU model, ISA flags, topology, onnxruntime version
#   tests   qat_kernels_tests with the default ISA and with QAT_ISA=avx2; qat_lite_tests (the peer
#           models against LiteRT's and TFLite 2.2's outputs; LiteRT.js needs Node.js, so the
#           single-op and MediaPipe peer tests are filtered out) with both
#   kbench  int8_kernels_bench on one core: the vpdpbusd / vpmaddwd peaks, BM_Conv's large 1x1 and
#           3x3 layers on the AVX2 and VNNI paths (issue 6, acceptance 2), BM_FullyConnected
#   ort     bench/int8_vs_ort.sh with the onnxruntime Python package (acceptance 1)
#   profile qat bench --profile on mbv1_100 b1 (1 thread) with the default ISA and QAT_ISA=avx2
#   float   bench/int8_vs_float.sh on mbv1_100 (acceptance 3)
#   pairs   mbv1_100 b1 on 2 threads over several pairs of logical CPUs; the fastest becomes PAIR
#   chunk   the VNNI GEMM's pixel chunk (QAT_VNNI_CHUNK_KB 256 / 16 / 32) on BM_Conv's large
#           layers and BM_FullyConnected, row by row, variants alternating, 3 rounds
#   profile2  qat bench --profile on mbv1_100 b1, 1 thread and 2 (PAIR)
#   kpeak   BM_Conv's VNNI rows 5 times each: median and best fraction of the vpdpbusd peak
#   stage   the VNNI tile's short / FMA output stages vs the 64-bit one (QAT_NO_KSHORT=1), A/B
#   ab      each VNNI change against its switch (QAT_NO_KSHORT, QAT_NO_VNNI_IM2COL, QAT_NO_DPWSSD,
#           QAT_NO_VNNI_RUN, QAT_NO_DW_ZMM_STAGE, QAT_ISA=avx2) on mbv1_100 b1, both modes, and the
#           kernel rows they touch
# (pairs, chunk, profile2, kpeak, stage and ab are not in the default list.)
# The benches run on two CPUs of different physical cores (taskset), the kernel bench on one.
set -uo pipefail
PACK="$1"; OUTD="$2"; shift 2
SECTIONS=("$@"); [[ ${#SECTIONS[@]} == 0 ]] && SECTIONS=(cpu tests kbench ort profile float)
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$OUTD"
P=/tmp/qatpack
rm -rf "$P"; mkdir -p "$P/w"
tar -C "$P" -xJf "$PACK" || { echo "cannot unpack $PACK"; exit 1; }
# Each binary runs under the pack's own loader and libraries.
for b in "$P"/bin/*; do
  n="$(basename "$b")"
  printf '#!/bin/sh\nexec %s/lib/ld-linux-x86-64.so.2 --library-path %s/lib %s "$@"\n' "$P" "$P" "$b" >"$P/w/$n"
  chmod +x "$P/w/$n"
done
W="$P/w"
# The test binaries name the source and build folders of the machine that built them.
SRC="$(grep -a -o -m1 '/[^[:space:][:cntrl:]]*/tests/lite/batch_resize_test.cpp' "$P/bin/qat_lite_tests" | head -1 |
  sed 's|/tests/lite/batch_resize_test.cpp$||')"
SRC="${SRC:-/work/main}"
if [[ ! -e "$SRC" ]]; then mkdir -p "$(dirname "$SRC")"; ln -s "$ROOT" "$SRC"; fi
mkdir -p "$SRC/build/peer_refs"; cp "$P"/peer_refs/* "$SRC/build/peer_refs/" 2>/dev/null
# Two logical CPUs on different physical cores (not CPU 0), and one for the single-core runs.
mapfile -t CPUS < <(lscpu -p=CPU,CORE 2>/dev/null | grep -v '^#' | awk -F, '$1 != 0 && !seen[$2]++ {print $1}')
PAIR="${CPUS[0]:-0},${CPUS[1]:-0}"; ONE="${CPUS[2]:-${CPUS[0]:-0}}"  # a small machine: what there is
export QAT_PEERS_DIR="$P/peers"

run() {  # run NAME LIMIT CMD...: time-limited, output to OUTDIR/NAME.log and the terminal
  local name="$1" limit="$2"; shift 2
  echo "=== $name: $* (limit ${limit}s)"
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUTD/$name.log" 2>&1
  local rc=$?
  echo "--- $name: rc=$rc, $((SECONDS - t0)) s"
  return $rc
}
for s in "${SECTIONS[@]}"; do
  case "$s" in
    cpu)
      { lscpu; echo; grep -m1 -o -w -E 'avx512_vnni|avx512bw|avx512f|avx_vnni|amx_int8|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ';
        echo; echo "pair: $PAIR one: $ONE"; cat /proc/loadavg; python3 -c 'import onnxruntime as o; print("onnxruntime", o.__version__)'; } >"$OUTD/cpu.log" 2>&1
      grep -E 'Model name|^CPU\(s\)|Thread|Flags' "$OUTD/cpu.log" | cut -c1-120
      grep -o -w -E 'avx512_vnni|avx512f|avx512bw|amx_int8|avx_vnni' /proc/cpuinfo | sort | uniq -c ;;
    tests)
      run kernels_default 60 "$W/qat_kernels_tests" --gtest_brief=1; tail -4 "$OUTD/kernels_default.log"
      QAT_ISA=avx2 run kernels_avx2 60 "$W/qat_kernels_tests" --gtest_brief=1; tail -3 "$OUTD/kernels_avx2.log"
      run lite_default 90 "$W/qat_lite_tests" --gtest_brief=1 '--gtest_filter=-MediaPipeModels.*:OpsPeers.*:PeerModels.MediaPipeModelsRun'
      tail -4 "$OUTD/lite_default.log"
      QAT_ISA=avx2 run lite_avx2 90 "$W/qat_lite_tests" --gtest_brief=1 '--gtest_filter=-MediaPipeModels.*:OpsPeers.*:PeerModels.MediaPipeModelsRun'
      tail -3 "$OUTD/lite_avx2.log" ;;
    kbench)
      run kbench 100 taskset -c "$ONE" "$W/int8_kernels_bench" --benchmark_min_time=0.1 \
        '--benchmark_filter=BM_Peak_(vpdpbusd|vpmaddwd)|BM_Conv/h:(56|28|14|7)/w:[0-9]+/ic:(64|128|256|512|1024)/.*/threads:1/path:(1|2)/mode:(0|1)|BM_FullyConnected/b:(1|64)/threads:1'
      grep -E '^BM_' "$OUTD/kbench.log" | sed -E 's/ +/ /g' | cut -c1-200 ;;
    ort)
      run ort 180 taskset -c "$PAIR" "$ROOT/bench/int8_vs_ort.sh" --qat "$W/qat" --peers "$P/peers" --ort python --rounds 5 --runs 20
      cat "$OUTD/ort.log" ;;
    profile)
      M="$P/peers/data/models/mbv1_100_b1.tflite"
      for isa in auto avx2 auto avx2; do
        if [[ $isa == auto ]]; then run "profile_$isa" 40 taskset -c "$ONE" "$W/qat" bench "$M" --threads 1 --runs 40 --warmup 5 --profile
        else QAT_ISA=avx2 run "profile_$isa" 40 taskset -c "$ONE" "$W/qat" bench "$M" --threads 1 --runs 40 --warmup 5 --profile; fi
        grep -m2 -i "median" "$OUTD/profile_$isa.log"
      done ;;
    float)
      run float 130 taskset -c "$PAIR" "$ROOT/bench/int8_vs_float.sh" --qat "$W/qat" --peers "$P/peers" --rounds 3 --runs 30 \
        --nets mbv1_100 --batches "1 64" --threads "1 2"
      tail -12 "$OUTD/float.log" ;;
    pairs)
      # Two threads on which two logical CPUs: a VM's vCPUs may share host cores (hyperthreads), and
      # a pair that does halves qat's 2-thread speed-up. mbv1_100 b1, two rounds per pair; the
      # fastest pair becomes PAIR for the later sections.
      M="$P/peers/data/models/mbv1_100_b1.tflite"
      for r in 1 2; do
        ms=$(taskset -c "$ONE" "$W/qat" bench "$M" --threads 1 --runs 60 --warmup 5 2>&1 | grep -o 'median [0-9.]*' | cut -d' ' -f2)
        echo "1 thread on $ONE round $r: $ms ms"
        for pr in 1,2 1,3 1,5 1,9 2,10 4,12 1,15 6,7; do
          ms=$(taskset -c "$pr" "$W/qat" bench "$M" --threads 2 --runs 60 --warmup 5 2>&1 | grep -o 'median [0-9.]*' | cut -d' ' -f2)
          echo "pair $pr round $r: $ms ms"
        done
      done | tee "$OUTD/pairs.log"
      best=$(grep '^pair' "$OUTD/pairs.log" | awk '{v[$2] = ($2 in v && v[$2] > $5) ? v[$2] : $5} END {for (k in v) print v[k], k}' | sort -n | head -1 | cut -d' ' -f2)
      [[ -n "$best" ]] && PAIR="$best"
      echo "PAIR=$PAIR (the pair whose slower round was fastest)" ;;
    chunk)
      # The VNNI GEMM's pixel chunk (QAT_VNNI_CHUNK_KB), row by row, variants alternating, 3 rounds.
      ROWS=(h:56/w:56/ic:128/oc:128/k:1 h:28/w:28/ic:256/oc:256/k:1 h:14/w:14/ic:512/oc:512/k:1
            h:7/w:7/ic:1024/oc:1024/k:1 h:56/w:56/ic:64/oc:64/k:3 h:28/w:28/ic:128/oc:128/k:3 fc:1 fc:64)
      for r in 1 2 3; do
        for row in "${ROWS[@]}"; do
          if [[ $row == fc:* ]]; then f="BM_FullyConnected/b:${row#fc:}/threads:1/"
          else f="BM_Conv/$row/s:1/b:1/threads:1/path:2/mode:0/"; fi
          for kb in 256 16 32; do
            QAT_VNNI_CHUNK_KB=$kb timeout 20 taskset -c "$ONE" "$W/int8_kernels_bench" --benchmark_filter="$f" \
              --benchmark_min_time=0.1 2>/dev/null | grep -E '^BM_' | sed -E 's/ +/ /g' |
              awk -v kb=$kb -v r=$r '{print kb, r, $1, $2, $7, $8}'
          done
        done
      done | tee "$OUTD/chunk.log" | tail -3
      python3 - "$OUTD/chunk.log" <<'PY'
import collections, statistics, sys
t = collections.defaultdict(list)
f = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kb, r, name, us, gops, frac = line.split()[:6]
    name = name.replace('/manual_time', '')
    t[(name, kb)].append(float(us)); f[(name, kb)].append(frac.split('=')[1].rstrip('/s'))
names = sorted({k[0] for k in t}, key=lambda n: list(dict.fromkeys(k[0] for k in t)).index(n))
print('medians over rounds (time us, peak_frac); chunk KiB: 256 16 32')
for n in dict.fromkeys(k[0] for k in t):
    cells = []
    for kb in ["256", "16", "32"]:
        if (n, kb) in t:
            cells.append(f"{statistics.median(t[(n, kb)]):8.1f} ({statistics.median(map(float, f[(n, kb)])):.2f})")
    print(f"{n:70s}", ' '.join(cells))
PY
      ;;
    kpeak)
      # Acceptance 2 with repetitions: each VNNI row 5 times on one core; the median and the best
      # (largest) fraction of the vpdpbusd peak measured at start-up.
      timeout 200 taskset -c "$ONE" "$W/int8_kernels_bench" --benchmark_min_time=0.1 --benchmark_repetitions=5 \
        '--benchmark_filter=BM_Peak_vpdpbusd|BM_Conv/h:(56|28|14|7)/w:[0-9]+/ic:(64|128|256|512|1024)/oc:[0-9]+/k:(1|3)/s:(1|2)/b:1/threads:1/path:2/mode:(0|1|2)' \
        --benchmark_format=json >"$OUTD/kpeak.json" 2>"$OUTD/kpeak.err"
      python3 - "$OUTD/kpeak.json" <<'PY'
import collections, json, statistics, sys
d = json.load(open(sys.argv[1]))
fr = collections.defaultdict(list)
for b in d["benchmarks"]:
    if b.get("run_type") == "iteration" and "peak_frac" in b:
        fr[b["run_name"].replace("/manual_time", "")].append((b["peak_frac"], b.get("GOPs", 0), b["real_time"]))
print(f"{'row (VNNI path, 1 thread; mode 0 TFLite, 1 XNNPACK, 2 TFLite + ReLU)':72s} {'median':>7s} {'best':>6s} {'best GOP/s':>10s}")
for n, v in fr.items():
    print(f"{n:72s} {statistics.median(x[0] for x in v):7.2f} {max(x[0] for x in v):6.2f} {max(x[1] for x in v):10.0f}")
PY
      ;;
    ab)
      # The VNNI changes, each against its switch-off, alternating, 3 rounds:
      # mbv1_100 b1 on one core in both modes (qat bench medians), and the kernel rows they touch.
      M="$P/peers/data/models/mbv1_100_b1.tflite"
      for r in 1 2 3; do
        for v in "" "QAT_NO_KSHORT=1" "QAT_NO_VNNI_IM2COL=1" "QAT_NO_DPWSSD=1" "QAT_NO_VNNI_RUN=1" \
                 "QAT_NO_DW_ZMM_STAGE=1" "QAT_ISA=avx2"; do
          for mode in tflite xnnpack; do
            ms=$(env $v taskset -c "$ONE" "$W/qat" bench "$M" --threads 1 --runs 60 --warmup 5 --requant $mode 2>&1 |
              grep -o 'median [0-9.]*')
            echo "round $r ${v:-default} $mode: $ms"
          done
        done
      done | tee "$OUTD/ab.log"
      for v in "" "QAT_NO_VNNI_IM2COL=1"; do
        env $v timeout 30 taskset -c "$ONE" "$W/int8_kernels_bench" --benchmark_min_time=0.2 \
          '--benchmark_filter=BM_Conv/h:224/w:224/ic:3/oc:32/.*threads:1/path:2/mode:2' 2>/dev/null | grep '^BM_' |
          sed -E 's/ +/ /g' | awk -v v="${v:-default}" '{print v, $1, $2, $3}'
      done
      for v in "" "QAT_NO_DPWSSD=1" "QAT_NO_DW_ZMM_STAGE=1"; do
        env $v timeout 60 taskset -c "$ONE" "$W/int8_kernels_bench" --benchmark_min_time=0.2 \
          '--benchmark_filter=BM_Depthwise/.*threads:1/mode:0' 2>/dev/null | grep '^BM_' |
          sed -E 's/ +/ /g' | awk -v v="${v:-default}" '{print v, $1, $2, $3}'
      done ;;
    stage)
      # The VNNI tile's output stages: default (short ReLU / exact FMA forms where they apply) vs
      # QAT_NO_KSHORT=1 (the 64-bit form everywhere), alternating, 3 rounds: BM_Conv's MobileNet-like
      # rows (mode 2) on the VNNI path, then mbv1_100 b1 end to end (1 thread, TFLite mode).
      F='BM_Conv/h:[0-9]+/w:[0-9]+/ic:(32|64|128|256|512|1024)/oc:[0-9]+/k:1/s:1/b:1/threads:1/path:2/mode:2'
      M="$P/peers/data/models/mbv1_100_b1.tflite"
      for r in 1 2 3; do
        for v in "" "QAT_NO_KSHORT=1"; do
          env $v timeout 40 taskset -c "$ONE" "$W/int8_kernels_bench" --benchmark_filter="$F" --benchmark_min_time=0.1 \
            2>/dev/null | grep -E '^BM_' | sed -E 's/ +/ /g' | awk -v v="${v:-default}" -v r=$r '{print v, r, $1, $2, $3}'
          ms=$(env $v taskset -c "$ONE" "$W/qat" bench "$M" --threads 1 --runs 60 --warmup 5 2>&1 | grep -o 'median [0-9.]*')
          echo "${v:-default} $r mbv1_100_b1 $ms"
        done
      done | tee "$OUTD/stage.log" ;;
    profile2)
      M="$P/peers/data/models/mbv1_100_b1.tflite"
      for t in 1 2; do
        cpus="$ONE"; [[ $t == 2 ]] && cpus="$PAIR"
        run "profile_t$t" 40 taskset -c "$cpus" "$W/qat" bench "$M" --threads $t --runs 60 --warmup 5 --profile
        grep -m1 "median" "$OUTD/profile_t$t.log"
      done ;;
    *) echo "unknown section $s" ;;
  esac
done
