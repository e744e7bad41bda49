#!/usr/bin/python3
"""Same input through qat and ONNX Runtime: checks that bench/tflite_to_onnx.py kept the network.

  /usr/bin/python3 bench/onnx_vs_qat_check.py MODEL.tflite MODEL.onnx QAT NODE_DIR

A seeded random input in [-1, 1) (NHWC for qat, its NCHW transpose for the ONNX model), output 0
of each; prints the largest difference, absolute and relative to the largest |output|.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    model, onnx_path, qat, node_dir = sys.argv[1:]
    dims = [d.dim_value for d in onnx.load(onnx_path).graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(1).uniform(-1, 1, size=dims).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        nhwc, nchw = os.path.join(tmp, "in_nhwc.bin"), os.path.join(tmp, "in_nchw.bin")
        out_q, out_o = os.path.join(tmp, "qat.bin"), os.path.join(tmp, "ort.bin")
        (x.transpose(0, 2, 3, 1) if x.ndim == 4 else x).tofile(nhwc)
        x.tofile(nchw)
        subprocess.run([qat, "run", model, "-i", nhwc, "-o", out_q], check=True, capture_output=True)
        subprocess.run(["node", "ort_bench.mjs", os.path.abspath(onnx_path), "--input", nchw, "--output", out_o,
                        "--runs", "1", "--warmup", "0"], cwd=node_dir, check=True, capture_output=True)
        a, b = np.fromfile(out_q, np.float32), np.fromfile(out_o, np.float32)
    if a.size != b.size:
        raise SystemExit(f"{model}: output sizes differ: qat {a.size}, ORT {b.size}")
    d = float(np.abs(a - b).max())
    print(f"{os.path.basename(model)}: {a.size} outputs, max |qat - ORT| {d:.3g}, relative {d / max(float(np.abs(a).max()), 1e-30):.3g}")


if __name__ == "__main__":
    main()
