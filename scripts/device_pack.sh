#!/usr/bin/env bash
# Packs what scripts/device_check.sh needs on another x86-64 machine that has neither qat's build
# dependencies nor Debian's libraries (the workplace's device machine): the release binaries
# (qat, the kernel and interpreter tests, int8_kernels_bench), every shared library they load with
# this machine's own loader and libc (so the other machine's glibc does not matter), the peers'
# int8 models with their inputs and reference outputs, the QDQ .onnx twins, TFLite 2.2's C runner
# and the cached TFLite 2.2 reference outputs. One xz tarball (~35 MB: libdnnl is 40 MB unpacked).
#
#   scripts/device_pack.sh [--build build] [--peers DIR] [--out .dev/pack.tar.xz]
set -euo pipefail
BUILD=build
PEERS="${QAT_PEERS_DIR:-$HOME/.cache/qat-peers}"
OUTF=.dev/pack.tar.xz
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --out) OUTF="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BINS=("$BUILD/qat" "$BUILD/tests/qat_kernels_tests" "$BUILD/tests/qat_lite_tests" "$BUILD/bench/int8_kernels_bench")
for b in "${BINS[@]}"; do [[ -x "$b" ]] || { echo "missing $b (build first)" >&2; exit 1; }; done
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/peers/data/models" "$stage/peers/node/node_modules/.cache/tflite-c" "$stage/peer_refs"
cp "${BINS[@]}" "$stage/bin/"
# Every library the binaries load, and the loader itself (ldd's last line).
for b in "${BINS[@]}"; do ldd "$b"; done | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/lib/ {print $1}' | sort -u |
  while read -r l; do cp -L "$l" "$stage/lib/"; done
M="$PEERS/data/models"
for m in cnn_b1 cnn_b64 mbv1_050_b1 mbv1_100_b1; do cp "$M/$m.tflite" "$M/${m}_in_int8.bin" "$M/${m}_ref_int8.bin" "$stage/peers/data/models/"; done
cp "$M"/{cnn,mbv1_050,mbv1_100}_qdq.onnx "$stage/peers/data/models/"
T="$PEERS/node/node_modules/.cache/tflite-c"
[[ -d "$T" ]] && cp "$T"/tflite_c_run "$T"/libtensorflowlite_c.so "$stage/peers/node/node_modules/.cache/tflite-c/"
cp "$BUILD"/peer_refs/*_ref_tflite22.bin "$stage/peer_refs/" 2>/dev/null || true
mkdir -p "$(dirname "$OUTF")"
tar -C "$stage" -cf - . | xz -T2 -6 >"$OUTF"
echo "$OUTF: $(du -h "$OUTF" | cut -f1) ($(ls "$stage/lib" | wc -l) libraries)"
