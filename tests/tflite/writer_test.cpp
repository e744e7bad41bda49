// The writer: descriptions round-trip; the bytes follow TFLite's conventions; real models
// survive read -> write -> read.
#include <gtest/gtest.h>

#include "qat/tflite.h"
#include "qat/tflite/schema_generated.h"
#include "test_models.h"

namespace qat::tfl {
namespace {

using qat::testing::SmallInt8Model;

TEST(TfliteWriter, RoundTrip) {
  const ModelDesc m = SmallInt8Model();
  auto bytes = WriteModel(m);
  auto f = ModelFile::FromBuffer(bytes);
  EXPECT_EQ(ReadModelDesc(*f, /*strict=*/true), m);
  // And writing the read-back description gives the same bytes (deterministic writer).
  EXPECT_EQ(WriteModel(ReadModelDesc(*f)), bytes);
}

TEST(TfliteWriter, Conventions) {
  auto bytes = WriteModel(SmallInt8Model());
  ASSERT_TRUE(tflite::ModelBufferHasIdentifier(bytes.data()));
  const auto* m = tflite::GetModel(bytes.data());
  EXPECT_EQ(m->version(), 3u);
  ASSERT_GT(m->buffers()->size(), 1u);
  EXPECT_TRUE(!m->buffers()->Get(0)->data() || m->buffers()->Get(0)->data()->size() == 0);
  for (uint32_t i = 1; i < m->buffers()->size(); ++i) {
    const auto* d = m->buffers()->Get(i)->data();
    ASSERT_NE(d, nullptr);
    EXPECT_EQ((d->data() - bytes.data()) % 16, 0) << "buffer " << i;
  }
  // CONV_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX: one code each, both fields written.
  ASSERT_EQ(m->operator_codes()->size(), 4u);
  for (const auto* c : *m->operator_codes()) EXPECT_EQ((int)c->deprecated_builtin_code(), (int)c->builtin_code());
  EXPECT_EQ(m->operator_codes()->Get(0)->version(), 3);
}

TEST(TfliteWriter, ExtendedOpcodes) {
  // A code >= 127 keeps 127 (PLACEHOLDER_FOR_GREATER_OP_CODES) in the deprecated byte.
  auto m = qat::testing::ChainModel(2, 8, "X");
  m.subgraphs[0].ops[0].builtin_code = 150;  // GELU
  m.subgraphs[0].ops[0].custom_code.clear();
  auto bytes = WriteModel(m);
  const auto* model = tflite::GetModel(bytes.data());
  const auto* c = model->operator_codes()->Get(0);
  EXPECT_EQ(c->deprecated_builtin_code(), 127);
  EXPECT_EQ((int)c->builtin_code(), 150);
  EXPECT_EQ(RealBuiltinCode(c), 150);
  const auto* custom = model->operator_codes()->Get(1);
  EXPECT_EQ(RealBuiltinCode(custom), 32);
  EXPECT_EQ(custom->custom_code()->str(), "X");
}

TEST(TfliteWriter, Sparsity) {
  // A 2x4 matrix with CSR rows: {1 at col 1}, {2 at col 0, 3 at col 3}; densify input.
  ModelDesc m;
  SubGraphDesc g;
  TensorDesc s;
  s.name = "sparse";
  s.shape = {2, 4};
  SparsityDesc sp;
  sp.traversal_order = {0, 1};
  sp.dim_metadata = {{0, 2, {}, {}}, {1, 0, {0, 1, 3}, {1, 0, 3}}};
  s.sparsity = sp;
  std::vector<float> v = {1, 2, 3};
  s.buffer = m.AddBuffer(std::span<const float>(v));
  TensorDesc d;
  d.name = "dense";
  d.shape = {2, 4};
  g.tensors = {s, d};
  OpDesc op;
  op.builtin_code = 124;  // DENSIFY
  op.inputs = {0};
  op.outputs = {1};
  op.options = DensifyOptions{};
  g.ops = {op};
  g.outputs = {1};
  m.subgraphs = {g};
  auto bytes = WriteModel(m);
  EXPECT_EQ(ReadModelDesc(*ModelFile::FromBuffer(bytes)), m);
  // Inconsistent metadata is rejected.
  m.subgraphs[0].tensors[0].sparsity->dim_metadata[1].array_indices = {1, 0, 4};
  EXPECT_THROW(WriteModel(m), FormatError);
  m.subgraphs[0].tensors[0].sparsity->dim_metadata[1].array_indices = {1, 0, 3};
  m.subgraphs[0].tensors[0].sparsity->dim_metadata[1].array_segments = {0, 1, 4};
  EXPECT_THROW(WriteModel(m), FormatError);
}

TEST(TfliteWriter, RejectsInconsistentDescriptions) {
  auto m = SmallInt8Model();
  m.subgraphs[0].tensors[0].buffer = 99;
  EXPECT_THROW(WriteModel(m), UsageError);
  m = SmallInt8Model();
  m.subgraphs.clear();
  EXPECT_THROW(WriteModel(m), UsageError);
  m = qat::testing::ChainModel(1);
  m.subgraphs[0].ops[0].custom_code.clear();
  EXPECT_THROW(WriteModel(m), UsageError);
}

TEST(TfliteWriter, PeerModelsRoundTrip) {
  auto models = qat::testing::PeerModels();
  if (models.empty()) GTEST_SKIP() << "QAT_PEERS_DIR not set";
  for (const auto& p : models) {
    SCOPED_TRACE(p);
    auto f = ModelFile::Map(p);
    const ModelDesc d = ReadModelDesc(*f);
    auto bytes = WriteModel(d);
    auto f2 = ModelFile::FromBuffer(bytes, p + " (rewritten)");
    EXPECT_TRUE(ReadModelDesc(*f2) == d);
  }
}

}  // namespace
}  // namespace qat::tfl
