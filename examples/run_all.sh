#!/bin/sh
# Runs the five examples in order in a temporary folder. Usage: run_all.sh BIN_DIR [STEPS]
set -eu
bin=$1
steps=${2:-200}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
set -x
"$bin/01_train_qat" "$tmp/run" "$steps"
"$bin/02_eval_graph_save" "$tmp/run"
"$bin/03_freeze" "$tmp/run" "$tmp/frozen.json"
"$bin/04_convert" "$tmp/frozen.json" "$tmp/model.tflite"
"$bin/05_run_dequantize" "$tmp/model.tflite" 0
