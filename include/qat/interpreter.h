// qat's .tflite interpreter, in the shape of TFLite's:
//
//   auto interp = qat::lite::Interpreter::FromFile("model.tflite");   // mmap + verify
//   interp->AllocateTensors();                                         // plan the arena once
//   interp->SetInput(0, bytes.data(), bytes.size());
//   interp->Invoke();
//   const LiteTensor& out = interp->output(0);
//   std::vector<float> real = qat::lite::Dequantize(out);              // scale * (q - zp)
//
// Memory: constant tensors point into the model bytes (the mapping of the file, never copied).
// Every other tensor (graph inputs and outputs, intermediate activations, variables) and every
// op's scratch buffer lives in one 64-byte aligned arena planned by AllocateTensors: a greedy
// planner gives tensors whose lifetimes do not overlap the same bytes. Graph inputs, outputs and
// variables live for the whole run, so inputs survive Invoke and can be reused.
//
// Profiling: set_profiling(true) makes Invoke time every op (one steady_clock reading between
// consecutive ops); profile() gives per-op medians, shares and a per-op-type summary, as TFLite's
// benchmark_model --enable_op_profiling does. Off by default: Invoke then reads no clock.
//
// Requantization: InterpreterOptions::requant picks one of the two integer rounding behaviours
// of src/kernels/quant_math.h. The default is kTflite (see docs/interpreter.md for why).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lite/op_api.h"
#include "qat/tflite.h"

namespace qat {
class ThreadPool;
}

namespace qat::lite {

class OpResolver;
using kernels::RequantMode;
using kernels::FloatMath;

// "tflite" / "xnnpack" <-> RequantMode; parse throws UsageError naming the bad value.
const char* RequantModeName(RequantMode m);
RequantMode ParseRequantMode(const std::string& name);
// "exact" / "fused" -> FloatMath; throws UsageError naming the bad value.
FloatMath ParseFloatMath(const std::string& name);

struct InterpreterOptions {
  int threads = 1;
  // kTflite: TFLite's builtin kernels (pure integer, fixed-point multiplier, double rounding).
  // kXnnpack: LiteRT's default XNNPACK delegate and ONNX Runtime (float32 multiplier, round half
  // to even).
  RequantMode requant = RequantMode::kTflite;
  // Float CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED arithmetic (kernels/dispatch.h):
  // kFused: one fused multiply-add per tap (what XNNPACK, ONNX Runtime and PyTorch compute on CPUs
  // with FMA; about twice the speed on AVX-512); kExact: a multiply, then an add, the reference
  // kernels' values bit for bit (LiteRT.js's, which has no FMA). Either gives the same values on
  // every CPU. Integer models are unaffected.
  FloatMath float_math = FloatMath::kFused;
  // Micro-batching (AllocateTensors): a batch of per-image ops runs micro_batch images per pass
  // over the graph, which keeps each layer's activations in cache (same bytes as the whole batch).
  // -1: automatic (one thread: when the batch's working set exceeds the L3; several threads:
  // image lanes, each thread running whole images on its own copy of the graph, from two images
  // per thread; the environment variable QAT_MICROBATCH=N overrides it), 0: off, N: N images per
  // pass on all threads (N must divide the batch). micro_batch() reports what AllocateTensors
  // chose; lanes() how many image lanes run (0 or 1: none).
  int micro_batch = -1;
  // With micro-batches of one image on one thread, the graph's last nodes (its small, weight-heavy
  // tail: the last 1x1 layers and FC of a CNN) run on groups of tail_batch images (same bytes).
  // -1: automatic (QAT_TAIL_BATCH=N overrides it), 0: off, N: groups of N (N must divide the batch).
  // tail_batch() / tail_start() report what AllocateTensors chose.
  int tail_batch = -1;
  // AllocateTensors refuses arenas larger than this (a corrupt shape must not exhaust memory).
  size_t max_arena_bytes = size_t(16) << 30;
  // Fold each float RELU / RELU6 into the CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, SUB or
  // MUL that alone feeds it, and each float residual ADD (conv output + a tensor of the same shape)
  // into that CONV_2D (same outputs; the intermediate tensor is then not written). false, or the
  // environment variable QAT_NO_FUSE=1, keeps every node.
  bool fuse_activations = true;
  tfl::VerifyOptions verify;
};

// What TFLite's get_input_details() reports for one tensor.
struct TensorDetails {
  std::string name;
  int index = 0;                  // tensor index in the subgraph
  std::vector<int32_t> shape;
  DType type = DType::kFloat32;
  std::vector<float> scales;      // empty: not quantized; >1: per-channel
  std::vector<int64_t> zero_points;
  int32_t quantized_dimension = 0;
  size_t bytes = 0;
};

// One op of an InvokeProfile. Times are wall milliseconds over the recorded Invoke runs.
struct OpProfile {
  int node = 0;                        // the model's operator index (ops are listed in execution order)
  std::string op;                      // builtin name ("CONV_2D") or custom code
  std::vector<int32_t> output_shape;   // output 0 (empty if the op has none)
  double median_ms = 0, mean_ms = 0, min_ms = 0, max_ms = 0;
  double share = 0;                    // median_ms / InvokeProfile::sum_of_medians_ms
};
// Ops of one type together: times are sums of their ops' medians.
struct OpTypeProfile {
  std::string op;
  int count = 0;                       // nodes of this type
  double median_ms = 0;                // sum of the nodes' medians
  double share = 0;                    // of InvokeProfile::sum_of_medians_ms
};
struct InvokeProfile {
  int runs = 0;                        // Invoke calls recorded
  std::vector<OpProfile> ops;          // in execution order
  std::vector<OpTypeProfile> by_type;  // slowest first
  double sum_of_medians_ms = 0;        // sum of ops[i].median_ms (the denominator of the shares)
  double invoke_median_ms = 0;         // median of the runs' totals (first op start to last op end)
  // Per run: its total. Each run's op times add up to its total exactly (consecutive readings of
  // one clock), so only the loop around the ops is outside the profile.
  std::vector<double> invoke_ms;
};

class Interpreter {
 public:
  // Builtin ops (RegisterBuiltinOps) only.
  static std::unique_ptr<Interpreter> FromFile(const std::string& path, const InterpreterOptions& opt = {});
  static std::unique_ptr<Interpreter> FromBuffer(std::span<const uint8_t> bytes, const InterpreterOptions& opt = {});
  // With a caller's resolver (builtin + custom ops). The resolver is copied.
  static std::unique_ptr<Interpreter> FromFile(const std::string& path, const OpResolver& resolver,
                                               const InterpreterOptions& opt = {});
  static std::unique_ptr<Interpreter> FromBuffer(std::span<const uint8_t> bytes, const OpResolver& resolver,
                                                 const InterpreterOptions& opt = {});
  static std::unique_ptr<Interpreter> FromModel(std::shared_ptr<const tfl::ModelFile> model, const OpResolver& resolver,
                                                const InterpreterOptions& opt = {});
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Runs every op's prepare (shapes, quantization multipliers, scratch sizes) and plans the arena.
  // Must be called before Invoke, and again after ResizeInputTensor or set_requant_mode.
  void AllocateTensors();
  void ResizeInputTensor(int input, const std::vector<int32_t>& dims);
  void set_requant_mode(RequantMode m);
  RequantMode requant_mode() const { return opt_.requant; }

  int inputs_size() const { return (int)inputs_.size(); }
  int outputs_size() const { return (int)outputs_.size(); }
  std::vector<TensorDetails> input_details() const;
  std::vector<TensorDetails> output_details() const;
  TensorDetails tensor_details(int tensor_index) const;

  LiteTensor& input(int i);
  const LiteTensor& output(int i) const;
  // Copies `bytes` into input i; the size must match exactly. Needs AllocateTensors.
  void SetInput(int i, const void* data, size_t bytes);
  template <class T> T* typed_input(int i) { return CheckedData<T>(input(i)); }
  template <class T> const T* typed_output(int i) const { return CheckedData<T>(const_cast<LiteTensor&>(output(i))); }

  void Invoke();

  // Per-op profiling (off by default; when off Invoke reads no clock). Turning it on, or
  // AllocateTensors, clears the runs recorded so far; turning it off keeps them for profile().
  void set_profiling(bool on);
  bool profiling() const { return profiling_; }
  void ClearProfile();
  // Summary of the runs recorded since the last clear (runs == 0 and zero times if none).
  InvokeProfile profile() const;

  // real = scale * (q - zero_point) for output i (per-channel aware); float outputs are copied.
  std::vector<float> DequantizeOutput(int i) const;

  // Introspection (tests, `qat inspect`, `qat bench`).
  int tensors_size() const { return (int)tensors_.size(); }
  const LiteTensor& tensor(int index) const;
  int nodes_size() const { return (int)nodes_.size(); }
  const OpContext& node(int index) const;
  // Float RELU / RELU6 nodes folded into their producer (InterpreterOptions::fuse_activations);
  // such a node is skipped and reports no inputs or outputs.
  int fused_activations() const;
  // Float ADD nodes folded into the CONV_2D that feeds them (a residual add; same switch as
  // fuse_activations), skipped like the fused activations. Where the ADD's other operand is
  // written after the conv, the conv runs in the ADD's slot: node(i) and the profile still use the
  // model's operator indices, the profile lists the ops in execution order.
  int fused_adds() const;
  // Float 1x1 CONV_2D nodes run inside the DEPTHWISE_CONV_2D that reads their output (an "expand"
  // layer; same switch, and QAT_NO_EXPAND_FUSE=1): such a node is prepared but not run on its own,
  // its output tensor gets no memory, and the profile lists it as "CONV_2D (in depthwise)" with
  // the pair's time on the depthwise.
  int fused_expands() const;
  size_t arena_bytes() const { return arena_size_; }
  // Images per pass when a batch runs in micro-batches (0: the whole batch at once).
  int micro_batch() const { return micro_; }
  // With micro-batches of one image on one thread, the graph's last nodes may run in groups of
  // tail_batch() images from node tail_start() on (AllocateTensors; 0 / -1: no such tail).
  int tail_batch() const { return tail_batch_; }
  int tail_start() const { return tail_start_; }
  int lanes() const { return lanes_.empty() ? 0 : (int)lanes_.size() + 1; }
  // Sum of all arena allocations (activations + scratch) as if nothing were shared.
  size_t unshared_bytes() const { return unshared_bytes_; }
  const tfl::ModelFile& model() const { return *model_; }
  const InterpreterOptions& options() const { return opt_; }

 private:
  Interpreter() = default;
  void Build();
  void PlanArena();
  struct TensorUse {
    std::vector<int> producer, consumers;
    std::vector<uint8_t> graph_io;
  };
  TensorUse Uses() const;
  void FuseFloatActivations();
  void FuseFloatResidualAdds();
  void FuseFloatExpandDepthwise();
  void CheckExpandFusions();
  template <class T> static T* CheckedData(LiteTensor& t) {
    if (t.type != dtype_of<T>::value)
      throw UsageError(fmt::format("tensor '{}' has type {}, not {}", t.name, dtype_name(t.type), dtype_name(dtype_of<T>::value)));
    if (!t.data && t.bytes) throw UsageError(fmt::format("tensor '{}' is not allocated (call AllocateTensors)", t.name));
    return static_cast<T*>(t.data);
  }

  struct Node;
  std::shared_ptr<const tfl::ModelFile> model_;
  std::unique_ptr<OpResolver> resolver_;
  InterpreterOptions opt_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<LiteTensor> tensors_;
  std::vector<std::vector<int32_t>> model_dims_;  // shapes as stored in the model
  std::vector<int> inputs_, outputs_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<uint8_t> persistent_;  // graph inputs/outputs/variables: live for the whole run
  struct ArenaFree { void operator()(uint8_t* p) const; };
  std::unique_ptr<uint8_t, ArenaFree> arena_;
  size_t arena_capacity_ = 0, arena_size_ = 0, unshared_bytes_ = 0;
  bool allocated_ = false;
  bool profiling_ = false;
  std::vector<int64_t> prof_ns_;  // runs x nodes, nanoseconds, row-major by run
  int prof_runs_ = 0;
  void PrepareNodes(int batch, int tail_start = -1, int tail_batch = 0);
  void RunNodes(int64_t* profile_row, int begin = 0, int end = -1);
  // Micro-batching (interpreter.cpp, ChooseMicroBatch): micro_ images per pass (0: off).
  struct Io {
    int tensor;
    std::vector<int32_t> chunk_dims;
    size_t chunk_bytes, offset;
    bool tail = false;  // produced by the tail: its chunks are groups of tail_batch_ images
  };
  int ChooseMicroBatch();
  bool ChooseTail(int batch, int min_groups);
  void SetIoChunk(int chunk, bool tail = false);
  void SetTailBounds(int image);
  void RunTailGroup(int g, int64_t* profile_row);
  void SetNodePool(ThreadPool* pool);
  void RunLanes();
  std::unique_ptr<ThreadPool> pool1_;                  // lane 0's one thread (threads > 1)
  std::vector<std::unique_ptr<Interpreter>> lanes_;    // image lanes 1.. (batch 1, one thread)
  std::vector<int> in_io_, out_io_;                    // io_ index of each graph input / output
  int micro_ = 0, full_batch_ = 0;
  // Tail (ChooseTail): nodes from tail_start_ on run once per group of tail_batch_ images; the
  // tensors they read from earlier nodes (tail_bounds_) hold the group, image by image.
  int tail_start_ = -1, tail_batch_ = 0;
  std::vector<int> tail_bounds_;
  std::vector<std::vector<int32_t>> tail_bound_dims_;  // their group shapes
  std::vector<uint8_t*> tail_bound_data_;              // and places in the arena
  std::vector<size_t> tail_bound_bytes_;               // and sizes
  std::vector<std::vector<int32_t>> full_dims_;  // per tensor: its batch-B shape (activations)
  std::vector<Io> io_;                           // graph inputs and outputs
  std::unique_ptr<uint8_t, ArenaFree> io_buf_;
};

// Dequantize helpers: real = scale * (q - zero_point).
inline float Dequantize(int32_t q, float scale, int64_t zero_point) { return scale * (float)((int64_t)q - zero_point); }
// Whole tensor: int8/uint8/int16/int32 with its (per-tensor or per-channel) parameters; float16 is
// converted; float32 is copied. Throws for a quantized type without quantization parameters.
std::vector<float> Dequantize(const LiteTensor& t);

}  // namespace qat::lite
