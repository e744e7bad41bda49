// Training throughput of the graph engine on SmallCNN (models/small_cnn.json: 3 x conv3x3+BN+
// ReLU, two max pools, global average pool, dense 10), batch 128, plain SGD built from graph
// ops. Prints images/s; compare with /root/.cache/qat-peers/torch_speed.py --threads 2.
// QAT_BENCH_STEPS overrides the number of timed steps.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "qat/graph.h"
#include "qat/ops.h"

namespace qat::graph {
namespace {
namespace o = qat::ops;

Tensor he(const Shape& s, int fan_in, std::mt19937& rng) {
  std::normal_distribution<float> d(0.f, std::sqrt(2.f / fan_in));
  Tensor t = Tensor::zeros(s);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

TEST(SmallCnnThroughput, TrainStep) {
  o::register_standard_ops();
  const int B = 128;
  std::mt19937 rng(1);
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {-1, 28, 28, 1}, "images");
  Output y = o::placeholder(g, DType::kInt32, {-1}, "labels");
  Output h = x;
  int cin = 1;
  for (int i = 1; i <= 3; ++i) {
    int cout = 16 << i;
    std::string s = "conv" + std::to_string(i);
    Output w = o::variable(g, s + "/weights", he({3, 3, cin, cout}, 9 * cin, rng));
    h = o::conv2d(g, h, w, {}, s + "/Conv2D");
    std::string b = "bn" + std::to_string(i);
    Output gamma = o::variable(g, b + "/gamma", Tensor::filled({cout}, 1));
    Output beta = o::variable(g, b + "/beta", Tensor::zeros({cout}));
    Output mm = o::variable(g, b + "/moving_mean", Tensor::zeros({cout}), false);
    Output mv = o::variable(g, b + "/moving_variance", Tensor::filled({cout}, 1), false);
    h = o::batch_norm(g, h, gamma, beta, mm, mv, true, 0.9, 1e-5, b).y;
    h = o::relu(g, h);
    if (i < 3) h = o::max_pool(g, h);
    cin = cout;
  }
  h = o::mean(g, h, {1, 2});
  Output fw = o::variable(g, "fc/weights", he({128, 10}, 128, rng));
  Output fb = o::variable(g, "fc/bias", Tensor::zeros({10}));
  Output logits = o::bias_add(g, o::matmul(g, h, fw), fb);
  Output loss = o::mean(g, o::softmax_cross_entropy(g, logits, y), {0});
  std::vector<Output> vars_out;
  for (Node* n : trainable_variables(g)) vars_out.push_back(n->output(0));
  auto grads = gradients(g, loss, vars_out);
  std::vector<Node*> targets = g.collection(kUpdateOps);
  Output lr = o::constant(g, Tensor::scalar(0.01f), "lr");
  for (size_t i = 0; i < grads.size(); ++i)
    targets.push_back(g.add_node("AssignSub", g.unique_name("sgd"), {vars_out[i], o::mul(g, grads[i], lr)}));

  VariableStore vars;
  vars.initialize(g);
  Session s(g, vars);
  Tensor images = Tensor::zeros({B, 28, 28, 1});
  std::uniform_real_distribution<float> u(0, 1);
  for (int64_t i = 0; i < images.size(); ++i) images.data<float>()[i] = u(rng);
  Tensor labels(DType::kInt32, {B});
  for (int i = 0; i < B; ++i) labels.data<int32_t>()[i] = i % 10;
  Session::Feeds feeds{{x, images}, {y, labels}};
  for (int i = 0; i < 3; ++i) s.run(feeds, {loss}, targets);  // warm-up (plans, primitives)
  int steps = std::getenv("QAT_BENCH_STEPS") ? std::atoi(std::getenv("QAT_BENCH_STEPS")) : 30;
  auto t0 = std::chrono::steady_clock::now();
  float last = 0;
  for (int i = 0; i < steps; ++i) last = s.run(feeds, {loss}, targets)[0].data<float>()[0];
  double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("SmallCNN train: %d steps x %d images in %.3f s = %.1f images/s (threads %d, loss %.4f)\n", steps, B,
              sec, steps * B / sec, qat::num_threads(), last);
  EXPECT_TRUE(std::isfinite(last));
  s.set_profiling(true);
  for (int i = 0; i < 5; ++i) s.run(feeds, {loss}, targets);
  std::printf("%s", s.profile_report().c_str());
}

}  // namespace
}  // namespace qat::graph
