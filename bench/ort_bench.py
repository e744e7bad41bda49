#!/usr/bin/env python3
"""Time ONNX Runtime (Python package onnxruntime, CPU execution provider) on an .onnx model.

The Python twin of ../shared/peers/node/ort_bench.mjs, for machines with the onnxruntime wheel
but no Node.js; same options, same session settings, same input, same output line:

  python3 bench/ort_bench.py MODEL.onnx [--batch B] [--threads T] [--runs N] [--warmup W]
                             [--opt all|extended|basic|disabled]

intra_op_num_threads=T, inter_op_num_threads=1, sequential execution, graph optimizations 'all'
unless --opt says otherwise. Single float32 input; symbolic dims are set to B. The input is the
deterministic pseudo-random sequence of ort_bench.mjs (a 32-bit LCG divided by 2^32).
Prints "timing: ... median X ms (min, max)", which bench/int8_vs_ort.sh reads.
"""
import argparse
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--opt", default="all", choices=["all", "extended", "basic", "disabled"])
    a = ap.parse_args()

    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[a.opt]
    so.enable_cpu_mem_arena = True
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dims = [d if isinstance(d, int) and d > 0 else a.batch for d in inp.shape]
    n = int(np.prod(dims))
    # The LCG of ort_bench.mjs: seed = seed * 1103515245 + 12345 (mod 2^32), value = seed / 2^32,
    # vectorised by doubling: values [k, 2k) are the k-step map of values [0, k).
    M = 0xFFFFFFFF
    seq = np.empty(n, dtype=np.uint64)
    seq[0] = (12345 * 1103515245 + 12345) & M
    mul, add, k = 1103515245, 12345, 1
    while k < n:
        m = min(k, n - k)
        seq[k:k + m] = (seq[:m] * np.uint64(mul) + np.uint64(add)) & np.uint64(M)
        mul, add, k = (mul * mul) & M, (mul * add + add) & M, 2 * k
    data = (seq / 2.0**32).astype(np.float32)
    feeds = {inp.name: data.reshape(dims)}
    print(f"ORT {ort.__version__} (python) {a.model.split('/')[-1]}: input {inp.name} {dims} "
          f"threads={a.threads} opt={a.opt}")
    t0 = time.perf_counter()
    sess.run(None, feeds)
    print(f"first run {(time.perf_counter() - t0) * 1e3:.2f} ms")
    for _ in range(a.warmup):
        sess.run(None, feeds)
    ts = []
    for _ in range(a.runs):
        s = time.perf_counter()
        sess.run(None, feeds)
        ts.append((time.perf_counter() - s) * 1e3)
    if ts:
        print(f"timing: batch={dims[0]} threads={a.threads} runs={a.runs}: median {statistics.median(ts):.3f} ms "
              f"(min {min(ts):.3f}, max {max(ts):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
