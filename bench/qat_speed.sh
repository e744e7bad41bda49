#!/usr/bin/env bash
# QAT training throughput on SmallCNN / Fashion-MNIST, measured in one run:
#   qat float training, qat QAT training (--quantize), and PyTorch's float and QAT training
#   (../shared/peers/torch_speed.py, oneDNN engine) on the same number of images and threads.
# Acceptance (issue 4): qat QAT >= 0.85 x qat float, and >= 1.5 x PyTorch QAT.
#   bench/qat_speed.sh [--images 15360] [--threads 2] [--build DIR] [--extra "qat train flags"]
#                      [--repeat R] [--passive]
# --repeat R runs qat float and qat QAT R times, interleaved (float, QAT, float, QAT, ...), and
# reports the best images/s of each (the least disturbed run on a shared machine; the ratio
# compares like with like); the per-run figures are in the JSON too. --passive exports
# OMP_WAIT_POLICY=passive (OpenMP's spinning workers lose badly to time slicing on a busy machine).
# The JSON line ends with the load average at the end of the run.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
images=15360 threads=2 build="$here/build" extra="" repeat=1
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --extra) extra="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --passive) export OMP_WAIT_POLICY=passive; shift ;;
    *) echo "usage: $0 [--images N] [--threads T] [--build DIR] [--extra FLAGS] [--repeat R] [--passive]" >&2; exit 2 ;;
  esac
done
qat="$build/qat"
[ -x "$qat" ] || { echo "qat_speed: $qat not built (cmake --build $build --target qat_cli)" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
ips() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["images_per_s"])'; }
common=(--model "$here/models/small_cnn.json" --epochs 1 --batch 128 --train-limit "$images" --test-limit 500
        --threads "$threads" --quiet --json)
fs="" qs=""
for ((i = 0; i < repeat; i++)); do
  fs="$fs $("$qat" train "${common[@]}" --lr 0.05 --out "$tmp/float" | ips)"
  qs="$qs $("$qat" train "${common[@]}" --lr 0.005 --quantize $extra --out "$tmp/qat" | ips)"
done
t_float=null t_qat=null
peers="$here/../shared/peers/torch_speed.py"
if [ -f "$peers" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  tj=$(/usr/bin/python3 "$peers" --images "$images" --threads "$threads" | tail -1)
  t_float=$(echo "$tj" | python3 -c 'import json,sys; print(json.load(sys.stdin)["float_img_per_s"])')
  t_qat=$(echo "$tj" | python3 -c 'import json,sys; print(json.load(sys.stdin)["qat_img_per_s"])')
fi
python3 - "$fs" "$qs" "$t_float" "$t_qat" "$images" "$threads" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "${OMP_WAIT_POLICY:-default}" <<'PY'
import json, sys
fs, qs = [float(v) for v in sys.argv[1].split()], [float(v) for v in sys.argv[2].split()]
f, q = max(fs), max(qs)
tf = None if sys.argv[3] == "null" else float(sys.argv[3])
tq = None if sys.argv[4] == "null" else float(sys.argv[4])
r = {"images": int(sys.argv[5]), "threads": int(sys.argv[6]), "qat_float_img_per_s": round(f, 1),
     "qat_qat_img_per_s": round(q, 1), "qat_over_float": round(q / f, 3),
     "torch_float_img_per_s": tf, "torch_qat_img_per_s": tq,
     "qat_over_torch_qat": None if not tq else round(q / tq, 3)}
if len(fs) > 1:
    r["stat"] = "best of %d interleaved runs" % len(fs)
    r["qat_float_runs"] = [round(v, 1) for v in fs]
    r["qat_qat_runs"] = [round(v, 1) for v in qs]
r["omp_wait_policy"] = sys.argv[8]
r["load_average"] = sys.argv[7]
print(json.dumps(r))
PY
