#!/usr/bin/python3
"""Float .tflite (NHWC) -> float ONNX (NCHW), so that ONNX Runtime can run the same network with
the same weights as qat (bench/float_vs_ort.sh --mediapipe). A benchmark tool, not part of qat;
it needs Debian's python3-onnx, python3-flatbuffers, python3-numpy and flatc (the Python reader
of qat's own schema subset, src/tflite/schema.fbs, is generated into a temporary folder).

  /usr/bin/python3 bench/tflite_to_onnx.py MODEL.tflite OUT.onnx [--nhwc-input]

Layout: every 4-D activation is NCHW in the ONNX graph; the input is NCHW (--nhwc-input: NHWC,
then a Transpose), 4-D outputs are transposed back to NHWC, so outputs compare element for element
with qat's. Constant DEQUANTIZE (fp16 weights) is folded. Ops: CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, ADD, SUB, MUL, PAD, RELU, RELU6, LOGISTIC, TANH, HARD_SWISH, MAX_POOL_2D,
AVERAGE_POOL_2D, MEAN, RESHAPE, CONCATENATION, RESIZE_BILINEAR, DEPTH_TO_SPACE, DEQUANTIZE (constant),
and the custom Convolution2DTransposeBias; anything else (DENSIFY: sparse weights) is refused
with the op's name.
"""
import importlib
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_schema():
    out = tempfile.mkdtemp(prefix="qat-tflite-py.")
    subprocess.run(["flatc", "--python", "-o", out, os.path.join(ROOT, "src/tflite/schema.fbs")], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("tflite.Model"), out


def enum_names(module_name):
    mod = importlib.import_module(module_name)
    cls = getattr(mod, module_name.split(".")[-1])
    return {v: k for k, v in vars(cls).items() if not k.startswith("_")}


NP_TYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "INT64": np.int64, "INT8": np.int8,
            "UINT8": np.uint8}
TO_NCHW = [0, 3, 1, 2]
TO_NHWC = [0, 2, 3, 1]
AXIS_NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}


class Converter:
    def __init__(self, path, nhwc_input):
        ModelMod, _ = load_schema()
        self.op_names = enum_names("tflite.BuiltinOperator")
        self.type_names = enum_names("tflite.TensorType")
        self.act_names = enum_names("tflite.ActivationFunctionType")
        self.pad_names = enum_names("tflite.Padding")
        buf = open(path, "rb").read()
        self.model = ModelMod.Model.GetRootAsModel(buf, 0)
        self.g = self.model.Subgraphs(0)
        self.nhwc_input = nhwc_input
        self.nodes, self.inits = [], []
        self.const = {}   # tensor index -> numpy value (tflite layout)
        self.name = {}    # tensor index -> onnx name
        self.nchw = set()  # onnx names that hold a 4-D tensor in NCHW
        self.uid = 0

    # --- helpers ---------------------------------------------------------------------------
    def fresh(self, base):
        self.uid += 1
        return f"{base}__{self.uid}"

    def tensor(self, i):
        return self.g.Tensors(i)

    def shape(self, i):
        return [int(d) for d in self.tensor(i).ShapeAsNumpy()] if self.tensor(i).ShapeLength() else []

    def const_value(self, i):
        if i in self.const:
            return self.const[i]
        t = self.tensor(i)
        b = self.model.Buffers(t.Buffer())
        if b is None or b.DataLength() == 0:
            return None
        dt = NP_TYPES[self.type_names[t.Type()]]
        v = np.frombuffer(b.DataAsNumpy().tobytes(), dtype=dt).reshape(self.shape(i))
        self.const[i] = v
        return v

    def init(self, value, base):
        n = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), n))
        return n

    def node(self, op, ins, outs=None, **attrs):
        outs = outs or [self.fresh(op)]
        self.nodes.append(helper.make_node(op, ins, outs, **attrs))
        return outs[0]

    def value(self, i):
        """The ONNX name of tflite tensor i (a constant becomes an initializer, 4-D ones NCHW)."""
        if i in self.name:
            return self.name[i]
        c = self.const_value(i)
        if c is None:
            raise SystemExit(f"tensor {i} ({self.tensor(i).Name().decode()}) has no producer and no data")
        c = c.astype(np.float32) if c.dtype == np.float16 else c
        if c.ndim == 4:
            n = self.init(c.transpose(TO_NCHW), "c")
            self.nchw.add(n)
        else:
            n = self.init(c, "c")
        self.name[i] = n
        return n

    def plain(self, i):
        """Tensor i in tflite's own layout (NHWC for 4-D)."""
        n = self.value(i)
        return self.node("Transpose", [n], perm=TO_NHWC) if n in self.nchw else n

    def act(self, n, code):
        a = self.act_names[code]
        if a == "NONE":
            return n
        if a == "RELU":
            return self.node("Relu", [n])
        lo, hi = {"RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}[a]
        return self.node("Clip", [n, self.init(np.float32(lo), "lo"), self.init(np.float32(hi), "hi")])

    @staticmethod
    def same_pads(in_size, k, s, d=1):
        out = -(-in_size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - in_size, 0)
        return total // 2, total - total // 2

    def pads2d(self, padding, ih, iw, kh, kw, sh, sw, dh=1, dw=1):
        if self.pad_names[padding] == "VALID":
            return [0, 0, 0, 0]
        t, b = self.same_pads(ih, kh, sh, dh)
        l, r = self.same_pads(iw, kw, sw, dw)
        return [t, l, b, r]

    def broadcast_operand(self, i, other_rank):
        """An ADD/MUL operand: 4-D activations are NCHW; lower-rank constants broadcast along NHWC's
        trailing axes, so they are lifted to 4-D NHWC, then transposed."""
        c = self.const_value(i)
        if c is not None and c.ndim < 4 and other_rank == 4:
            c = c.astype(np.float32).reshape([1] * (4 - c.ndim) + list(c.shape)).transpose(TO_NCHW)
            return self.init(c, "b")
        n = self.value(i)
        if len(self.shape(i)) < 4 and other_rank == 4 and c is None:
            s = self.shape(i)
            r = self.node("Reshape", [n, self.init(np.array([1] * (4 - len(s)) + s, np.int64), "s")])
            return self.node("Transpose", [r], perm=TO_NCHW)
        return n

    # --- conversion ------------------------------------------------------------------------
    def run(self):
        g = self.g
        for k in range(g.InputsLength()):
            i = g.Inputs(k)
            s = self.shape(i)
            nm = self.tensor(i).Name().decode()
            if len(s) == 4 and not self.nhwc_input:
                self.graph_inputs = [helper.make_tensor_value_info(nm, TensorProto.FLOAT, [s[0], s[3], s[1], s[2]])]
                self.name[i] = nm
                self.nchw.add(nm)
            else:
                self.graph_inputs = [helper.make_tensor_value_info(nm, TensorProto.FLOAT, s)]
                if len(s) == 4:
                    n = self.node("Transpose", [nm], perm=TO_NCHW)
                    self.name[i] = n
                    self.nchw.add(n)
                else:
                    self.name[i] = nm
        for k in range(g.OperatorsLength()):
            self.cur = k
            self.convert(g.Operators(k))
        outputs = []
        for k in range(g.OutputsLength()):
            i = g.Outputs(k)
            nm = self.tensor(i).Name().decode()
            n = self.value(i)
            self.node("Transpose" if n in self.nchw else "Identity", [n], [nm], **({"perm": TO_NHWC} if n in self.nchw else {}))
            outputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, self.shape(i)))
        graph = helper.make_graph(self.nodes, "tflite", self.graph_inputs, outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m

    def convert(self, op):
        code = self.model.OperatorCodes(op.OpcodeIndex())
        b = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = self.op_names.get(b, str(b))
        if name == "CUSTOM":
            name = code.CustomCode().decode()
        ins = [op.Inputs(j) for j in range(op.InputsLength())]
        out = op.Outputs(0)
        fn = getattr(self, "op_" + name, None)
        if fn is None:
            raise SystemExit(f"op {name} (operator {self.cur}) is not supported by this converter")
        fn(op, ins, out)

    def options(self, op, cls_name):
        mod = importlib.import_module("tflite." + cls_name)
        o = getattr(mod, cls_name)()
        t = op.BuiltinOptions()
        if t is None:
            return None
        o.Init(t.Bytes, t.Pos)
        return o

    def set_out(self, out, n):
        self.name[out] = n
        if len(self.shape(out)) == 4:
            self.nchw.add(n)

    def op_DEQUANTIZE(self, op, ins, out):
        c = self.const_value(ins[0])
        if c is None:
            raise SystemExit("DEQUANTIZE of a non-constant tensor is not supported")
        if c.dtype != np.float16:
            raise SystemExit("DEQUANTIZE of an integer tensor is not supported (float models only)")
        self.const[out] = c.astype(np.float32)

    def op_CONV_2D(self, op, ins, out):
        o = self.options(op, "Conv2DOptions")
        w = self.const_value(ins[1]).astype(np.float32)  # OHWI
        x = self.shape(ins[0])
        pads = self.pads2d(o.Padding(), x[1], x[2], w.shape[1], w.shape[2], o.StrideH(), o.StrideW(),
                           o.DilationHFactor(), o.DilationWFactor())
        args = [self.value(ins[0]), self.init(w.transpose(0, 3, 1, 2), "w")]
        if len(ins) > 2 and ins[2] >= 0:
            args.append(self.init(self.const_value(ins[2]).astype(np.float32), "b"))
        n = self.node("Conv", args, kernel_shape=list(w.shape[1:3]), strides=[o.StrideH(), o.StrideW()],
                      dilations=[o.DilationHFactor(), o.DilationWFactor()], pads=pads)
        self.set_out(out, self.act(n, o.FusedActivationFunction()))

    def op_DEPTHWISE_CONV_2D(self, op, ins, out):
        o = self.options(op, "DepthwiseConv2DOptions")
        w = self.const_value(ins[1]).astype(np.float32)  # [1, H, W, C * mult]
        x = self.shape(ins[0])
        pads = self.pads2d(o.Padding(), x[1], x[2], w.shape[1], w.shape[2], o.StrideH(), o.StrideW(),
                           o.DilationHFactor(), o.DilationWFactor())
        args = [self.value(ins[0]), self.init(w.transpose(3, 0, 1, 2), "w")]
        if len(ins) > 2 and ins[2] >= 0:
            args.append(self.init(self.const_value(ins[2]).astype(np.float32), "b"))
        n = self.node("Conv", args, kernel_shape=list(w.shape[1:3]), strides=[o.StrideH(), o.StrideW()],
                      dilations=[o.DilationHFactor(), o.DilationWFactor()], pads=pads, group=x[3])
        self.set_out(out, self.act(n, o.FusedActivationFunction()))

    def op_Convolution2DTransposeBias(self, op, ins, out):
        raw = op.CustomOptionsAsNumpy().tobytes()
        padding, sw, sh = struct.unpack("<iii", raw[:12])
        w = self.const_value(ins[1]).astype(np.float32)  # OHWI
        x = self.shape(ins[0])
        kh, kw = w.shape[1], w.shape[2]
        ph = pw = 0
        if padding == 1:  # SAME, as qat's op computes it
            ph = max(0, kh - (x[1] - 1) % sh - 1)
            pw = max(0, kw - (x[2] - 1) % sw - 1)
        args = [self.value(ins[0]), self.init(w.transpose(3, 0, 1, 2), "w"),
                self.init(self.const_value(ins[2]).astype(np.float32), "b")]
        n = self.node("ConvTranspose", args, kernel_shape=[kh, kw], strides=[sh, sw],
                      pads=[ph // 2, pw // 2, ph - ph // 2, pw - pw // 2])
        self.set_out(out, n)

    def op_FULLY_CONNECTED(self, op, ins, out):
        o = self.options(op, "FullyConnectedOptions")
        w = self.const_value(ins[1]).astype(np.float32)  # [out, in]
        x = self.plain(ins[0])
        x = self.node("Reshape", [x, self.init(np.array([-1, w.shape[1]], np.int64), "s")])
        args = [x, self.init(w, "w")]
        if len(ins) > 2 and ins[2] >= 0:
            args.append(self.init(self.const_value(ins[2]).astype(np.float32), "b"))
        n = self.node("Gemm", args, transB=1)
        n = self.act(n, o.FusedActivationFunction())
        if self.shape(out) != [self.shape(out)[0], w.shape[0]] or len(self.shape(out)) != 2:
            n = self.node("Reshape", [n, self.init(np.array(self.shape(out), np.int64), "s")])
        self.set_out(out, n)

    def binary(self, op, ins, out, onnx_op, opts):
        o = self.options(op, opts)
        r = max(len(self.shape(ins[0])), len(self.shape(ins[1])))
        n = self.node(onnx_op, [self.broadcast_operand(ins[0], r), self.broadcast_operand(ins[1], r)])
        self.set_out(out, self.act(n, o.FusedActivationFunction()) if o else n)

    def op_ADD(self, op, ins, out):
        self.binary(op, ins, out, "Add", "AddOptions")

    def op_SUB(self, op, ins, out):
        self.binary(op, ins, out, "Sub", "SubOptions")

    def op_MUL(self, op, ins, out):
        self.binary(op, ins, out, "Mul", "MulOptions")

    def op_PAD(self, op, ins, out):
        p = self.const_value(ins[1]).astype(np.int64)  # [rank, 2]
        if p.shape[0] == 4:
            p = p[TO_NCHW]
        pads = np.concatenate([p[:, 0], p[:, 1]])
        self.set_out(out, self.node("Pad", [self.value(ins[0]), self.init(pads, "p")]))

    def unary(self, ins, out, onnx_op, **attrs):
        self.set_out(out, self.node(onnx_op, [self.value(ins[0])], **attrs))

    def op_RELU(self, op, ins, out):
        self.unary(ins, out, "Relu")

    def op_RELU6(self, op, ins, out):
        self.set_out(out, self.act(self.value(ins[0]), 3))  # ActivationFunctionType RELU6 = 3

    def op_LOGISTIC(self, op, ins, out):
        self.unary(ins, out, "Sigmoid")

    def op_TANH(self, op, ins, out):
        self.unary(ins, out, "Tanh")

    def op_HARD_SWISH(self, op, ins, out):
        self.unary(ins, out, "HardSwish")

    def pool(self, op, ins, out, onnx_op):
        o = self.options(op, "Pool2DOptions")
        x = self.shape(ins[0])
        pads = self.pads2d(o.Padding(), x[1], x[2], o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW())
        extra = {"count_include_pad": 0} if onnx_op == "AveragePool" else {}
        n = self.node(onnx_op, [self.value(ins[0])], kernel_shape=[o.FilterHeight(), o.FilterWidth()],
                      strides=[o.StrideH(), o.StrideW()], pads=pads, **extra)
        self.set_out(out, self.act(n, o.FusedActivationFunction()))

    def op_MAX_POOL_2D(self, op, ins, out):
        self.pool(op, ins, out, "MaxPool")

    def op_AVERAGE_POOL_2D(self, op, ins, out):
        self.pool(op, ins, out, "AveragePool")

    def op_MEAN(self, op, ins, out):
        o = self.options(op, "ReducerOptions")
        axes = [int(a) % len(self.shape(ins[0])) for a in np.atleast_1d(self.const_value(ins[1]))]
        x = self.value(ins[0])
        keep = 1 if o is not None and o.KeepDims() else 0
        if x in self.nchw:
            if keep:
                axes = [AXIS_NHWC_TO_NCHW[a] for a in axes]
            else:
                x = self.node("Transpose", [x], perm=TO_NHWC)
        self.set_out(out, self.node("ReduceMean", [x], axes=axes, keepdims=keep))

    def op_RESHAPE(self, op, ins, out):
        n = self.node("Reshape", [self.plain(ins[0]), self.init(np.array(self.shape(out), np.int64), "s")])
        if len(self.shape(out)) == 4:
            n = self.node("Transpose", [n], perm=TO_NCHW)
        self.set_out(out, n)

    def op_CONCATENATION(self, op, ins, out):
        o = self.options(op, "ConcatenationOptions")
        r = len(self.shape(out))
        axis = o.Axis() % r
        if r == 4:
            axis = AXIS_NHWC_TO_NCHW[axis]
        n = self.node("Concat", [self.value(i) for i in ins], axis=axis)
        self.set_out(out, self.act(n, o.FusedActivationFunction()))

    def op_RESIZE_BILINEAR(self, op, ins, out):
        o = self.options(op, "ResizeBilinearOptions")
        mode = "align_corners" if o.AlignCorners() else ("half_pixel" if o.HalfPixelCenters() else "asymmetric")
        s = self.shape(out)
        sizes = self.init(np.array([s[0], s[3], s[1], s[2]], np.int64), "sz")
        n = self.node("Resize", [self.value(ins[0]), "", "", sizes], mode="linear",
                      coordinate_transformation_mode=mode)
        self.set_out(out, n)

    def op_DEPTH_TO_SPACE(self, op, ins, out):
        o = self.options(op, "DepthToSpaceOptions")
        self.unary(ins, out, "DepthToSpace", blocksize=o.BlockSize(), mode="DCR")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        raise SystemExit(__doc__)
    m = Converter(args[0], "--nhwc-input" in sys.argv).run()
    onnx.save(m, args[1])
    print(f"{args[1]}: {len(m.graph.node)} nodes, input {[d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]}")


if __name__ == "__main__":
    main()
