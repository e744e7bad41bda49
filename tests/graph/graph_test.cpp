// Graph IR: names and scopes, rewriting helpers, shape/attribute errors, JSON round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "qat/graph.h"
#include "qat/ops.h"

namespace qat::graph {
namespace {

namespace o = qat::ops;

class GraphTest : public ::testing::Test {
 protected:
  void SetUp() override { o::register_standard_ops(); }
};

template <class E, class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "<no exception>";
}

TEST_F(GraphTest, UniqueNamesAndScopes) {
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {-1, 4}, "x");
  EXPECT_EQ(x.node->name(), "x");
  Output a = o::relu(g, x);
  Output b = o::relu(g, x);
  EXPECT_EQ(a.node->name(), "Relu");
  EXPECT_EQ(b.node->name(), "Relu_1");
  {
    Graph::NameScope s(g, "tower_0");
    Output c = o::relu(g, x);
    EXPECT_EQ(c.node->name(), "tower_0/Relu");
    Graph::NameScope s2(g, "conv1");
    EXPECT_EQ(o::identity(g, x).node->name(), "tower_0/conv1/Identity");
  }
  EXPECT_EQ(o::identity(g, x).node->name(), "Identity");
  // A name used as a scope is not handed out again as a node name.
  auto bn1 = o::batch_norm(g, x, o::constant(g, Tensor::filled({4}, 1)), o::constant(g, Tensor::zeros({4})),
                           o::variable(g, "mm", Tensor::zeros({4}), false), o::variable(g, "mv", Tensor::filled({4}, 1), false),
                           true);
  auto bn2 = o::batch_norm(g, x, o::constant(g, Tensor::filled({4}, 1)), o::constant(g, Tensor::zeros({4})),
                           o::variable(g, "mm2", Tensor::zeros({4}), false), o::variable(g, "mv2", Tensor::filled({4}, 1), false),
                           true);
  EXPECT_EQ(bn1.bn->name(), "BatchNorm/FusedBatchNorm");
  EXPECT_EQ(bn2.bn->name(), "BatchNorm_1/FusedBatchNorm");
  EXPECT_EQ(g.collection(kUpdateOps).size(), 4u);
  EXPECT_THROW(g.add_node("Relu", "x", {x}), UsageError);
}

TEST_F(GraphTest, ShapeInference) {
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {-1, 28, 28, 1}, "x");
  Output w = o::variable(g, "w", Tensor::zeros({5, 5, 1, 8}));
  Output c = o::conv2d(g, x, w, {{2, 2}, "SAME", {1, 1}});
  EXPECT_EQ(c.node->output_info().shape, (Shape{-1, 14, 14, 8}));
  Output v = o::conv2d(g, x, w, {{1, 1}, "VALID", {1, 1}});
  EXPECT_EQ(v.node->output_info().shape, (Shape{-1, 24, 24, 8}));
  Output p = o::max_pool(g, c);
  EXPECT_EQ(p.node->output_info().shape, (Shape{-1, 7, 7, 8}));
  EXPECT_EQ(p.node->num_outputs(), 2);
  Output f = o::flatten(g, p);
  EXPECT_EQ(f.node->output_info().shape, (Shape{-1, 392}));
  Output m = o::mean(g, c, {1, 2});
  EXPECT_EQ(m.node->output_info().shape, (Shape{-1, 8}));
  Output d = o::depthwise_conv2d(g, c, o::variable(g, "dw", Tensor::zeros({3, 3, 8, 2})));
  EXPECT_EQ(d.node->output_info().shape, (Shape{-1, 14, 14, 16}));
  Output cat = o::concat(g, {c, d}, -1);
  EXPECT_EQ(cat.node->output_info().shape, (Shape{-1, 14, 14, 24}));
  Output pd = o::pad(g, c, {{0, 0}, {1, 1}, {2, 0}, {0, 0}});
  EXPECT_EQ(pd.node->output_info().shape, (Shape{-1, 16, 16, 8}));
  Tensor lab(DType::kInt32, {5});
  Output logits = o::placeholder(g, DType::kFloat32, {-1, 10});
  Output xe = o::softmax_cross_entropy(g, logits, o::constant(g, lab));
  EXPECT_EQ(xe.node->output_info().shape, (Shape{5}));
}

TEST_F(GraphTest, ShapeErrorsNameTheNode) {
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {-1, 8, 8, 3}, "images");
  Output w = o::variable(g, "w", Tensor::zeros({3, 3, 4, 8}));
  std::string m = error_of<ShapeError>([&] { o::conv2d(g, x, w, {}, "conv1"); });
  EXPECT_NE(m.find("conv1"), std::string::npos) << m;
  EXPECT_NE(m.find("channels"), std::string::npos) << m;
  // The failed node was not added.
  EXPECT_EQ(g.find("conv1"), nullptr);
  Output a = o::placeholder(g, DType::kFloat32, {2, 3}, "a");
  Output b = o::placeholder(g, DType::kFloat32, {4, 5}, "b");
  m = error_of<ShapeError>([&] { o::matmul(g, a, b, false, false, "fc"); });
  EXPECT_NE(m.find("'fc'"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { o::add(g, a, b, "sum"); });
  EXPECT_NE(m.find("'sum'"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { o::bias_add(g, a, o::constant(g, Tensor::zeros({4})), "bias"); });
  EXPECT_NE(m.find("'bias'"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { o::reshape(g, a, {4, 2}, "rs"); });
  EXPECT_NE(m.find("'rs'"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { o::max_pool(g, x, {{9, 9}, {1, 1}, "VALID"}, "pool"); });
  EXPECT_NE(m.find("'pool'"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { o::mean(g, x, {0, 2}, false, "mean"); });
  EXPECT_NE(m.find("contiguous"), std::string::npos) << m;
  Output i = o::placeholder(g, DType::kInt32, {2, 3}, "ints");
  m = error_of<ShapeError>([&] { o::relu(g, i, "r"); });
  EXPECT_NE(m.find("int32"), std::string::npos) << m;
}

TEST_F(GraphTest, AttributeErrors) {
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {1, 8, 8, 3}, "x");
  Output w = o::variable(g, "w", Tensor::zeros({3, 3, 3, 8}));
  std::string m = error_of<ShapeError>([&] { o::conv2d(g, x, w, {{1, 1}, "FULL", {1, 1}}, "c1"); });
  EXPECT_NE(m.find("padding"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { o::conv2d(g, x, w, {{1, 1, 1}, "SAME", {1, 1}}, "c2"); });
  EXPECT_NE(m.find("strides"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { o::conv2d(g, x, w, {{0, 1}, "SAME", {1, 1}}, "c3"); });
  EXPECT_NE(m.find("positive"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { g.add_node("Conv2D", "c4", {x, w}, {{"strides", std::string("2")}}); });
  EXPECT_NE(m.find("'strides' is string"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { g.add_node("ConcatV2", "cat", {x, x}); });
  EXPECT_NE(m.find("missing attribute 'axis'"), std::string::npos) << m;
  m = error_of<UsageError>([&] { g.add_node("NoSuchOp", "n", {x}); });
  EXPECT_NE(m.find("NoSuchOp"), std::string::npos) << m;
  m = error_of<ShapeError>([&] { g.add_node("Assign", "as", {x, x}); });
  EXPECT_NE(m.find("Variable"), std::string::npos) << m;
}

TEST_F(GraphTest, RewriteHelpers) {
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {2, 3}, "x");
  Output r = o::relu(g, x, "r");
  Output s = o::softmax(g, r, "s");
  Output t = o::add(g, r, s, "t");
  auto cons = g.consumers(r);
  ASSERT_EQ(cons.size(), 2u);
  EXPECT_EQ(cons[0].first->name(), "s");
  EXPECT_EQ(g.consumer_nodes(r.node).size(), 2u);
  EXPECT_EQ(input_node(t.node, 0, "Relu"), r.node);
  EXPECT_EQ(input_node(t.node, 1, "Relu"), nullptr);
  // Insert an Identity after r: every reader of r except the new node reads it instead.
  Output id = o::identity(g, r, "q");
  Node* except[] = {id.node};
  EXPECT_EQ(g.replace_uses(r, id, except), 2);
  EXPECT_EQ(s.node->input(0), id);
  EXPECT_EQ(t.node->input(0), id);
  EXPECT_THROW(g.remove_node(r.node), UsageError);
  // Bypass q again and remove it.
  g.replace_uses(id, r);
  g.remove_node(id.node);
  EXPECT_EQ(g.find("q"), nullptr);
  Output dead = o::relu(g, x, "dead");
  (void)dead;
  Node* keep[] = {t.node};
  EXPECT_EQ(g.prune(keep), 1);
  EXPECT_EQ(g.find("dead"), nullptr);
  auto order = g.topo_order();
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order.front()->name(), "x");
  EXPECT_EQ(order.back()->name(), "t");
  EXPECT_EQ(g.output("t").node, t.node);
  EXPECT_THROW(g.output("nope"), UsageError);
  EXPECT_THROW(g.output("t:3"), ShapeError);
}

TEST_F(GraphTest, SaveLoadRoundTrip) {
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {-1, 6, 6, 2}, "x");
  Output w = o::variable(g, "conv/w", Tensor::from_vector({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6}));
  Output c = o::conv2d(g, x, w, {{2, 2}, "VALID", {1, 1}}, "conv/Conv2D");
  Output gs = get_or_create_global_step(g);
  (void)gs;
  c.node->set_attr("note", std::string("hello \"json\""));
  c.node->set_attr("fl", std::vector<double>{0.1, NAN, -INFINITY});
  c.node->set_attr("flag", true);
  c.node->set_attr("dt", DType::kInt8);
  c.node->set_attr("f", 1.0 / 3.0);
  c.node->device = "tower_0";
  Output r = o::relu6(g, c);
  g.add_control_input(r.node, gs.node);
  std::string path = ::testing::TempDir() + "/graph_roundtrip.json";
  g.save(path);
  auto h = Graph::load(path);
  ASSERT_EQ(h->num_nodes(), g.num_nodes());
  Node* hc = h->get("conv/Conv2D");
  EXPECT_EQ(hc->attr_string("note"), "hello \"json\"");
  auto fl = hc->attr_floats("fl");
  EXPECT_EQ(fl[0], 0.1);
  EXPECT_TRUE(std::isnan(fl[1]));
  EXPECT_EQ(fl[2], -INFINITY);
  EXPECT_EQ(hc->attr_float("f"), 1.0 / 3.0);
  EXPECT_TRUE(hc->attr_bool("flag"));
  EXPECT_EQ(hc->attr_dtype("dt"), DType::kInt8);
  EXPECT_EQ(hc->device, "tower_0");
  EXPECT_EQ(hc->output_info().shape, (Shape{-1, 3, 3, 3}));
  const Tensor& init = h->get("conv/w")->attr_tensor("init");
  EXPECT_EQ(init.shape(), (Shape{1, 1, 2, 3}));
  EXPECT_EQ(init.data<float>()[5], 6.0f);
  EXPECT_EQ(h->get("Relu6")->control_inputs().at(0)->name(), "global_step");
  EXPECT_EQ(trainable_variables(*h).size(), 1u);
  EXPECT_EQ(h->collection(kGlobalStep).at(0)->name(), "global_step");
  EXPECT_EQ(h->to_json(), g.to_json());
  std::remove(path.c_str());
}

TEST_F(GraphTest, LoadErrorsNameTheFile) {
  std::string m = error_of<FormatError>([] { Graph::from_json("{not json", "bad.json"); });
  EXPECT_NE(m.find("bad.json"), std::string::npos) << m;
  m = error_of<FormatError>([] { Graph::from_json(R"({"format":"qat.graph","version":1,"nodes":[
      {"name":"a","op":"Relu","inputs":["missing"]}]})", "g.json"); });
  EXPECT_NE(m.find("g.json"), std::string::npos) << m;
  EXPECT_NE(m.find("'a'"), std::string::npos) << m;
  m = error_of<FormatError>([] { Graph::from_json(R"({"format":"qat.graph","version":1,"nodes":[
      {"name":"c","op":"Const","inputs":[],"attrs":{"value":{"type":"tensor","value":
      {"dtype":"float32","shape":[2],"data":"AAAA"}}}}]})", "t.json"); });
  EXPECT_NE(m.find("bytes"), std::string::npos) << m;
  m = error_of<IoError>([] { Graph::load("/nonexistent/x.json"); });
  EXPECT_NE(m.find("/nonexistent/x.json"), std::string::npos) << m;
}

}  // namespace
}  // namespace qat::graph
