// The .tflite format layer: loading (mapped or copied), verification, and writing.
//
//  - ModelFile owns the bytes of a model (an mmap of the file, or an aligned copy of a buffer) and
//    runs VerifyModel on them before anything else may look at them.
//  - VerifyModel = the FlatBuffers verifier (structure: every offset, vector and string in range)
//    followed by qat's semantic checks (indices in range, buffer sizes that match shapes and types,
//    quantization arrays that agree with each other and with the shape, operator input/output
//    counts and types, dataflow order). Errors are qat::FormatError naming the file and the
//    subgraph / tensor / operator concerned. After VerifyModel returns, code may index the model
//    without further bounds checks.
//  - ModelDesc is a plain C++ description of a model (no FlatBuffers types); WriteModel turns it
//    into .tflite bytes and ReadModelDesc turns a verified model back into one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "qat/tensor.h"

namespace tflite {
struct Model;
struct Buffer;
struct OperatorCode;
}  // namespace tflite

namespace qat::tfl {

// TensorType values of the official schema (the subset qat names; others are accepted by the
// verifier but not by the interpreter).
enum class TensorType : int8_t {
  kFloat32 = 0, kFloat16 = 1, kInt32 = 2, kUInt8 = 3, kInt64 = 4, kString = 5, kBool = 6,
  kInt16 = 7, kComplex64 = 8, kInt8 = 9, kFloat64 = 10,
};
const char* TensorTypeName(int type);  // "INT8", ... ("UNKNOWN" out of range)
// Bytes per element; 0 for variable-size types (STRING, RESOURCE, VARIANT) and packed INT4.
size_t TensorTypeSize(int type);
// qat DType for a tflite type; nullopt when qat's interpreter has no such dtype.
std::optional<DType> ToDType(int type);
TensorType FromDType(DType t);

struct VerifyOptions {
  size_t max_tensors = 1 << 20;         // per subgraph
  size_t max_operators = 1 << 20;       // per subgraph
  int max_rank = 8;
  int64_t max_tensor_bytes = int64_t(1) << 40;  // any one tensor's declared size
};

// Verify `size` bytes of a .tflite model; `name` (the file name) prefixes every error message.
// Throws qat::FormatError.
void VerifyModel(const uint8_t* data, size_t size, const std::string& name, const VerifyOptions& opt = {});

// The real builtin code of an operator code: max(builtin_code, deprecated_builtin_code), as TFLite
// (schema_utils.cc) computes it, since older writers only fill the deprecated byte field.
int32_t RealBuiltinCode(const tflite::OperatorCode* code);

// Bytes of a buffer: inline data, or (models > 2 GB) `size` bytes at `offset` from the file start.
// Returns an empty span for a buffer without data. Bounds were checked by VerifyModel.
std::span<const uint8_t> BufferBytes(const uint8_t* file, size_t file_size, const tflite::Buffer* buffer);

// The bytes of a model, verified. Mapped files are read-only and private.
class ModelFile {
 public:
  // mmap the file (not copied). Throws IoError / FormatError.
  static std::shared_ptr<const ModelFile> Map(const std::string& path, const VerifyOptions& opt = {});
  // Copy bytes into 64-byte aligned storage (constant tensors alias it, so kernels may rely on the
  // alignment of their data). `name` is used in error messages.
  static std::shared_ptr<const ModelFile> FromBuffer(std::span<const uint8_t> bytes, const std::string& name = "<buffer>",
                                                     const VerifyOptions& opt = {});
  ~ModelFile();
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }
  const tflite::Model* model() const { return model_; }
  std::span<const uint8_t> buffer(uint32_t index) const;  // empty when index has no data

 private:
  ModelFile() = default;
  void Finish(const VerifyOptions& opt);
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string name_;
  const tflite::Model* model_ = nullptr;
  void* map_ = nullptr;  // mmap base, if mapped
  size_t map_size_ = 0;
  std::unique_ptr<uint8_t, void (*)(uint8_t*)> owned_{nullptr, nullptr};
};

// ------------------------------------------------------------------ model description (writer)
// Builtin options of the ops qat handles, as plain structs with the official field names and
// defaults. Enum-valued fields hold the official integer values (Padding: SAME 0, VALID 1;
// ActivationFunctionType: NONE 0, RELU 1, RELU_N1_TO_1 2, RELU6 3, TANH 4).
struct Conv2DOptions { int8_t padding = 0; int32_t stride_w = 1, stride_h = 1; int8_t fused_activation_function = 0;
                       int32_t dilation_w_factor = 1, dilation_h_factor = 1; bool operator==(const Conv2DOptions&) const = default; };
struct DepthwiseConv2DOptions { int8_t padding = 0; int32_t stride_w = 1, stride_h = 1, depth_multiplier = 1;
                                int8_t fused_activation_function = 0; int32_t dilation_w_factor = 1, dilation_h_factor = 1;
                                bool operator==(const DepthwiseConv2DOptions&) const = default; };
struct Pool2DOptions { int8_t padding = 0; int32_t stride_w = 1, stride_h = 1, filter_width = 1, filter_height = 1;
                       int8_t fused_activation_function = 0; bool operator==(const Pool2DOptions&) const = default; };
struct FullyConnectedOptions { int8_t fused_activation_function = 0; bool keep_num_dims = false;
                               bool operator==(const FullyConnectedOptions&) const = default; };
struct SoftmaxOptions { float beta = 1.f; bool operator==(const SoftmaxOptions&) const = default; };
struct ConcatenationOptions { int32_t axis = 0; int8_t fused_activation_function = 0;
                              bool operator==(const ConcatenationOptions&) const = default; };
struct AddOptions { int8_t fused_activation_function = 0; bool operator==(const AddOptions&) const = default; };
struct SubOptions { int8_t fused_activation_function = 0; bool operator==(const SubOptions&) const = default; };
struct MulOptions { int8_t fused_activation_function = 0; bool operator==(const MulOptions&) const = default; };
struct ReshapeOptions { std::vector<int32_t> new_shape; bool operator==(const ReshapeOptions&) const = default; };
struct PadOptions { bool operator==(const PadOptions&) const = default; };
struct SqueezeOptions { std::vector<int32_t> squeeze_dims; bool operator==(const SqueezeOptions&) const = default; };
struct ReducerOptions { bool keep_dims = false; bool operator==(const ReducerOptions&) const = default; };
struct ResizeBilinearOptions { bool align_corners = false, half_pixel_centers = false;
                               bool operator==(const ResizeBilinearOptions&) const = default; };
struct DepthToSpaceOptions { int32_t block_size = 1; bool operator==(const DepthToSpaceOptions&) const = default; };
struct DequantizeOptions { bool operator==(const DequantizeOptions&) const = default; };
struct QuantizeOptions { bool operator==(const QuantizeOptions&) const = default; };
struct HardSwishOptions { bool operator==(const HardSwishOptions&) const = default; };
struct DensifyOptions { bool operator==(const DensifyOptions&) const = default; };
struct StridedSliceOptions { int32_t begin_mask = 0, end_mask = 0, ellipsis_mask = 0, new_axis_mask = 0,
                             shrink_axis_mask = 0; bool offset = false;
                             bool operator==(const StridedSliceOptions&) const = default; };

using BuiltinOptions =
    std::variant<std::monostate, Conv2DOptions, DepthwiseConv2DOptions, Pool2DOptions, FullyConnectedOptions,
                 SoftmaxOptions, ConcatenationOptions, AddOptions, SubOptions, MulOptions, ReshapeOptions, PadOptions,
                 SqueezeOptions, ReducerOptions, ResizeBilinearOptions, DepthToSpaceOptions, DequantizeOptions,
                 QuantizeOptions, HardSwishOptions, DensifyOptions, StridedSliceOptions>;

struct QuantDesc {
  std::vector<float> scale;        // empty: not quantized
  std::vector<int64_t> zero_point;
  int32_t quantized_dimension = 0;
  std::vector<float> min, max;     // optional, for importing back into TF
  bool operator==(const QuantDesc&) const = default;
};

struct DimensionMetadataDesc {
  int8_t format = 0;  // DENSE 0, SPARSE_CSR 1
  int32_t dense_size = 0;
  std::vector<int32_t> array_segments, array_indices;  // written as Int32Vector
  bool operator==(const DimensionMetadataDesc&) const = default;
};
struct SparsityDesc {
  std::vector<int32_t> traversal_order, block_map;
  std::vector<DimensionMetadataDesc> dim_metadata;
  bool operator==(const SparsityDesc&) const = default;
};

struct TensorDesc {
  std::string name;
  TensorType type = TensorType::kFloat32;
  std::vector<int32_t> shape;
  std::vector<int32_t> shape_signature;  // optional; -1 for dynamic dims
  uint32_t buffer = 0;                   // index into ModelDesc::buffers; 0 = no data
  QuantDesc quant;
  bool is_variable = false;
  std::optional<SparsityDesc> sparsity;
  bool operator==(const TensorDesc&) const = default;
};

struct OpDesc {
  int32_t builtin_code = 0;     // tflite::BuiltinOperator value; 32 (CUSTOM) with custom_code
  std::string custom_code;
  int32_t version = 1;
  std::vector<int32_t> inputs;  // -1: optional input omitted
  std::vector<int32_t> outputs;
  BuiltinOptions options;
  std::vector<uint8_t> custom_options;
  std::vector<int32_t> intermediates;
  bool operator==(const OpDesc&) const = default;
};

struct SubGraphDesc {
  std::string name;
  std::vector<TensorDesc> tensors;
  std::vector<int32_t> inputs, outputs;
  std::vector<OpDesc> ops;  // execution order
  bool operator==(const SubGraphDesc&) const = default;
};

struct SignatureDesc {
  std::string key;
  uint32_t subgraph_index = 0;
  std::vector<std::pair<std::string, uint32_t>> inputs, outputs;  // alias -> tensor index
  bool operator==(const SignatureDesc&) const = default;
};

struct ModelDesc {
  uint32_t version = 3;
  std::string description;
  std::vector<std::vector<uint8_t>> buffers{{}};  // buffers[0] is the empty sentinel
  std::vector<SubGraphDesc> subgraphs;
  std::vector<std::pair<std::string, uint32_t>> metadata;  // name -> buffer index
  std::vector<SignatureDesc> signatures;
  bool operator==(const ModelDesc&) const = default;

  // Append a buffer and return its index.
  uint32_t AddBuffer(std::vector<uint8_t> bytes);
  template <class T> uint32_t AddBuffer(std::span<const T> values) {
    std::vector<uint8_t> b(values.size_bytes());
    if (!b.empty()) std::memcpy(b.data(), values.data(), b.size());
    return AddBuffer(std::move(b));
  }
};

// Serialize: operator codes are deduplicated by (code, custom code, version) in first-use order,
// both opcode fields are written (deprecated = min(code, 127)), buffer data is 16-byte aligned.
// The result is verified with VerifyModel before it is returned (a writer bug is a FormatError,
// never a corrupt file) unless verify is false (tests and fuzz seeds that need invalid models).
// Throws UsageError when the description cannot be encoded at all.
std::vector<uint8_t> WriteModel(const ModelDesc& model, bool verify = true);
void WriteModelFile(const ModelDesc& model, const std::string& path);

// The description of a verified model. Options of types outside BuiltinOptions become monostate
// (and throw when strict is set).
ModelDesc ReadModelDesc(const ModelFile& file, bool strict = false);

}  // namespace qat::tfl
