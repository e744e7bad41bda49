// Finite-difference gradient checks for every standard op (tests/ops/grad_check.h).
#include "grad_check.h"

namespace qat::testing {
namespace {

using namespace qat::ops;
using V = std::vector<Output>;

std::mt19937& rng() {
  static std::mt19937 r(42);
  return r;
}
Tensor rnd(const Shape& s) { return random_tensor(s, rng()); }

TEST(GradCheck, Conv2DSameStride1) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return conv2d(g, x[0], x[1]); },
                               {rnd({2, 5, 5, 3}), rnd({3, 3, 3, 4})}));
}
TEST(GradCheck, Conv2DValidStride2) {
  ConvOpts o{{2, 2}, "VALID", {1, 1}};
  EXPECT_EQ(0, check_gradients([&](Graph& g, V& x) { return conv2d(g, x[0], x[1], o); },
                               {rnd({2, 7, 6, 2}), rnd({3, 2, 2, 3})}));
}
TEST(GradCheck, Conv2DSameStride2Even) {
  ConvOpts o{{2, 2}, "SAME", {1, 1}};
  EXPECT_EQ(0, check_gradients([&](Graph& g, V& x) { return conv2d(g, x[0], x[1], o); },
                               {rnd({1, 6, 6, 2}), rnd({3, 3, 2, 2})}));
}
TEST(GradCheck, Conv2DDilated) {
  ConvOpts o{{1, 1}, "SAME", {2, 2}};
  EXPECT_EQ(0, check_gradients([&](Graph& g, V& x) { return conv2d(g, x[0], x[1], o); },
                               {rnd({1, 6, 6, 2}), rnd({3, 3, 2, 3})}));
}
TEST(GradCheck, DepthwiseSame) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return depthwise_conv2d(g, x[0], x[1]); },
                               {rnd({2, 5, 5, 3}), rnd({3, 3, 3, 2})}));
}
TEST(GradCheck, DepthwiseValidStride2) {
  ConvOpts o{{2, 2}, "VALID", {1, 1}};
  EXPECT_EQ(0, check_gradients([&](Graph& g, V& x) { return depthwise_conv2d(g, x[0], x[1], o); },
                               {rnd({1, 7, 7, 2}), rnd({3, 3, 2, 1})}));
}
TEST(GradCheck, MatMulAllTransposes) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      Shape a = ta ? Shape{4, 3} : Shape{3, 4}, b = tb ? Shape{5, 4} : Shape{4, 5};
      EXPECT_EQ(0, check_gradients([&](Graph& g, V& x) { return matmul(g, x[0], x[1], ta, tb); }, {rnd(a), rnd(b)}))
          << "ta=" << ta << " tb=" << tb;
    }
}
TEST(GradCheck, BiasAdd) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return bias_add(g, x[0], x[1]); }, {rnd({2, 3, 3, 4}), rnd({4})}));
}
TEST(GradCheck, BatchNormTraining) {
  auto build = [](Graph& g, V& x) {
    Output mm = variable(g, "mm", Tensor::zeros({3}), false);
    Output mv = variable(g, "mv", Tensor::filled({3}, 1.f), false);
    return batch_norm(g, x[0], x[1], x[2], mm, mv, true, 0.9, 1e-3).y;
  };
  Tensor gamma = random_tensor({3}, rng(), 0.5f, 1.5f);
  GradCheckOptions o;
  o.step = 3e-3;
  EXPECT_EQ(0, check_gradients(build, {random_tensor({2, 3, 3, 3}, rng(), -2, 2), gamma, rnd({3})}, o));
}
TEST(GradCheck, BatchNormInference) {
  auto build = [](Graph& g, V& x) { return batch_norm(g, x[0], x[1], x[2], x[3], x[4], false, 0.9, 1e-3).y; };
  EXPECT_EQ(0, check_gradients(build,
                               {rnd({2, 2, 2, 3}), rnd({3}), rnd({3}), rnd({3}), random_tensor({3}, rng(), 0.5f, 2.f)},
                               {.check = {true, true, true, false, false}}));
}
TEST(GradCheck, BatchNormRank2) {
  auto build = [](Graph& g, V& x) {
    Output mm = variable(g, "mm", Tensor::zeros({4}), false);
    Output mv = variable(g, "mv", Tensor::filled({4}, 1.f), false);
    return batch_norm(g, x[0], x[1], x[2], mm, mv, true).y;
  };
  EXPECT_EQ(0, check_gradients(build, {random_tensor({6, 4}, rng(), -2, 2), rnd({4}), rnd({4})}, {.step = 3e-3}));
}
TEST(GradCheck, Relu) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return relu(g, x[0]); }, {random_away_from_kinks({3, 7}, rng())}));
}
TEST(GradCheck, Relu6) {
  // Values in (-4, 8) avoiding the kinks at 0 and 6.
  Tensor t = random_away_from_kinks({3, 8}, rng(), 4.f);
  for (int64_t i = 0; i < t.size(); ++i) {
    float& v = t.data<float>()[i];
    if (std::fabs(v - 6) < 0.2f) v += 0.5f;
  }
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return relu6(g, x[0]); }, {t}));
}
TEST(GradCheck, AddSameShape) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return add(g, x[0], x[1]); }, {rnd({2, 3}), rnd({2, 3})}));
}
TEST(GradCheck, AddBroadcastChannel) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return add(g, x[0], x[1]); }, {rnd({2, 2, 2, 3}), rnd({3})}));
}
TEST(GradCheck, MulBroadcastGeneral) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return mul(g, x[0], x[1]); }, {rnd({2, 1, 1, 3}), rnd({2, 2, 2, 3})}));
}
TEST(GradCheck, MulScalar) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return mul(g, x[0], x[1]); }, {rnd({2, 3}), rnd({})}));
}
TEST(GradCheck, Sub) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return sub(g, x[0], x[1]); }, {rnd({4}), rnd({3, 4})}));
}
TEST(GradCheck, AddN) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return add_n(g, {x[0], x[1], x[0]}); }, {rnd({2, 3}), rnd({2, 3})}));
}
TEST(GradCheck, Concat) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return concat(g, {x[0], x[1]}, 3); },
                               {rnd({2, 2, 2, 3}), rnd({2, 2, 2, 1})}));
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return concat(g, {x[0], x[1], x[0]}, 0); }, {rnd({1, 3}), rnd({2, 3})}));
}
TEST(GradCheck, ConcatUnknownBatch) {
  // Towers concatenated along a batch of unknown size: the gradient slices at run time.
  auto build = [](Graph& g, V& x) {
    Output a = reshape(g, x[0], {-1, 3});  // [-1, 3]: batch unknown at build time
    Output b = reshape(g, x[1], {-1, 3});
    return concat(g, {a, b}, 0);
  };
  EXPECT_EQ(0, check_gradients(build, {rnd({2, 3}), rnd({1, 3})}));
}
TEST(GradCheck, MaxPool) {
  // Distinct values spaced well beyond the finite-difference step so the argmax never flips.
  auto distinct = [](const Shape& s) {
    Tensor t = Tensor::zeros(s);
    std::vector<int> perm(t.size());
    for (int i = 0; i < (int)perm.size(); ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng());
    for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = 0.1f * perm[i];
    return t;
  };
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return max_pool(g, x[0]); }, {distinct({2, 4, 4, 2})}));
  PoolOpts same{{3, 3}, {2, 2}, "SAME"};
  EXPECT_EQ(0, check_gradients([&](Graph& g, V& x) { return max_pool(g, x[0], same); }, {distinct({1, 5, 5, 2})}));
}
TEST(GradCheck, AvgPool) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return avg_pool(g, x[0]); }, {rnd({2, 4, 4, 2})}));
  PoolOpts same{{3, 3}, {2, 2}, "SAME"};
  EXPECT_EQ(0, check_gradients([&](Graph& g, V& x) { return avg_pool(g, x[0], same); }, {rnd({1, 5, 5, 2})}));
}
TEST(GradCheck, Mean) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return mean(g, x[0], {1, 2}); }, {rnd({2, 3, 3, 4})}));
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return mean(g, x[0], {0, 1}, true); }, {rnd({3, 4})}));
}
TEST(GradCheck, Pad) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return pad(g, x[0], {{0, 0}, {1, 2}, {2, 1}, {0, 1}}); },
                               {rnd({2, 2, 3, 2})}));
}
TEST(GradCheck, ReshapeFlatten) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return reshape(g, x[0], {-1, 6}); }, {rnd({2, 3, 2, 2})}));
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return flatten(g, x[0]); }, {rnd({2, 3, 2, 2})}));
}
TEST(GradCheck, Softmax) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return softmax(g, x[0]); }, {rnd({3, 5})}));
}
TEST(GradCheck, SoftmaxCrossEntropyDense) {
  Tensor labels = random_tensor({3, 4}, rng(), 0.f, 1.f);
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return softmax_cross_entropy(g, x[0], x[1]); },
                               {rnd({3, 4}), labels}, {.check = {true, false}}));
}
TEST(GradCheck, SoftmaxCrossEntropySparse) {
  Tensor labels(DType::kInt32, {3});
  labels.data<int32_t>()[0] = 2;
  labels.data<int32_t>()[1] = 0;
  labels.data<int32_t>()[2] = 3;
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return softmax_cross_entropy(g, x[0], x[1]); },
                               {rnd({3, 4}), labels}));
}
TEST(GradCheck, IdentityAndNeg) {
  EXPECT_EQ(0, check_gradients([](Graph& g, V& x) { return identity(g, x[0]); }, {rnd({2, 3})}));
}
TEST(GradCheck, SmallNetworkEndToEnd) {
  // conv -> bn -> relu6 -> maxpool -> flatten -> matmul -> bias -> xent: the chain rule across ops.
  auto build = [](Graph& g, V& x) {
    Output h = conv2d(g, x[0], x[1]);
    Output mm = variable(g, "mm", Tensor::zeros({3}), false);
    Output mv = variable(g, "mv", Tensor::filled({3}, 1.f), false);
    h = batch_norm(g, h, x[2], x[3], mm, mv, true).y;
    h = relu(g, h);
    h = avg_pool(g, h);
    h = flatten(g, h);
    h = bias_add(g, matmul(g, h, x[4]), x[5]);
    Tensor lab(DType::kInt32, {2});
    lab.data<int32_t>()[1] = 1;
    return softmax_cross_entropy(g, h, constant(g, lab));
  };
  EXPECT_EQ(0, check_gradients(build,
                               {rnd({2, 4, 4, 2}), rnd({3, 3, 2, 3}), random_tensor({3}, rng(), 0.5f, 1.5f), rnd({3}),
                                rnd({12, 2}), rnd({2})},
                               {.step = 3e-3, .atol = 5e-3}));
}

}  // namespace
}  // namespace qat::testing
