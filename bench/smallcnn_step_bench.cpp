// Kernel-level ceiling of qat's SmallCNN training speed: one SGD step (forward, backward,
// momentum update) at batch 128 chained directly from the float kernels of src/ops/kernels, with
// no graph engine. Prints per-stage time shares and one JSON line with images_per_s.
//   smallcnn_step_bench [--threads 2] [--steps 60] [--batch 128] [--mode fused|bnrelu|chain] [--cpu-time] [--json]
// --mode chain: BN, ReLU, MaxPool as separate kernels (a graph engine without fusion);
//        bnrelu: batch_norm_act_* (BN+ReLU fused) then MaxPool;
//        fused (default): batch_norm_act_max_pool_* for conv1/conv2, batch_norm_act_* for conv3.
// SmallCNN (NHWC 28x28x1): conv3x3(1->32, SAME, no bias)+BN+ReLU, maxpool2; conv3x3(32->64)+BN+
// ReLU, maxpool2; conv3x3(64->128)+BN+ReLU; global average pool; dense(128->10); softmax CE.
// ReLU, softmax cross-entropy and SGD are written inline here (the graph engine owns them).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "ops/kernels/float_kernels.h"
#include "qat/thread_pool.h"

using namespace qat::ops::kernels;
using Clock = std::chrono::steady_clock;

namespace {

// Per-stage wall time, or with --cpu-time the process CPU time (robust to other processes sharing
// the cores, meaningful with --threads 1 only).
bool g_cpu_time = false;
double now_s() {
  if (g_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  }
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

struct Timer {
  std::vector<std::string> names;
  std::vector<double> secs;
  double t = now_s();
  void lap(const char* name) {
    double now = now_s();
    double s = now - t;
    t = now;
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      names.push_back(name);
      secs.push_back(s);
    } else {
      secs[it - names.begin()] += s;
    }
  }
};

ConvGeom conv3x3_same(int N, int H, int C, int O) {
  return ConvGeom{N, H, H, C, 3, 3, O, 1, 1, 1, 1, 1, 1, 1, 1, H, H, false};
}
PoolGeom pool2(int N, int H, int C) { return PoolGeom{N, H, H, C, 2, 2, 2, 2, 0, 0, 0, 0, H / 2, H / 2}; }

struct Param {
  std::vector<float> w, g, m;  // value, gradient, momentum
  explicit Param(size_t n, float scale, std::mt19937& rng, float fill = NAN) : w(n), g(n, 0.f), m(n, 0.f) {
    std::normal_distribution<float> d(0.f, scale);
    for (auto& v : w) v = std::isnan(fill) ? d(rng) : fill;
  }
  void sgd(float lr, float mom) {
    for (size_t i = 0; i < w.size(); ++i) {
      m[i] = mom * m[i] + g[i];
      w[i] -= lr * m[i];
    }
  }
};

void relu(std::vector<float>& v) {
  for (auto& x : v) x = x > 0.f ? x : 0.f;
}
// dz = dy where the ReLU output y > 0.
void relu_backward(const std::vector<float>& y, std::vector<float>& d) {
  for (size_t i = 0; i < d.size(); ++i) d[i] = y[i] > 0.f ? d[i] : 0.f;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, steps = 60, N = 128;
  bool json_only = false;
  std::string mode = "fused";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--batch" && i + 1 < argc) N = std::atoi(argv[++i]);
    else if (a == "--json") json_only = true;
    else if (a == "--cpu-time") g_cpu_time = true;
    else if (a == "--mode" && i + 1 < argc) mode = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--threads T] [--steps S] [--batch N] [--mode fused|bnrelu|chain] [--cpu-time] [--json]\n", argv[0]);
      return 2;
    }
  }
  qat::set_num_threads(threads);
  std::mt19937 rng(1);
  const ConvGeom c1 = conv3x3_same(N, 28, 1, 32), c2 = conv3x3_same(N, 14, 32, 64), c3 = conv3x3_same(N, 7, 64, 128);
  const PoolGeom p1 = pool2(N, 28, 32), p2 = pool2(N, 14, 64);
  const PoolGeom gap{N, 7, 7, 128, 7, 7, 1, 1, 0, 0, 0, 0, 1, 1};

  Param w1(9 * 32, 0.3f, rng), w2(9 * 32 * 64, 0.06f, rng), w3(9 * 64 * 128, 0.04f, rng);
  Param g1(32, 0, rng, 1.f), b1(32, 0, rng, 0.f), g2(64, 0, rng, 1.f), b2(64, 0, rng, 0.f), g3(128, 0, rng, 1.f),
      b3(128, 0, rng, 0.f);
  Param wd(128 * 10, 0.1f, rng), bd(10, 0, rng, 0.f);

  // Activations (pre-allocated once, like a graph engine's arena).
  std::vector<float> x((size_t)N * 784), y1((size_t)N * 784 * 32), z1(y1.size()), q1((size_t)N * 196 * 32);
  std::vector<float> y2((size_t)N * 196 * 64), z2(y2.size()), q2((size_t)N * 49 * 64);
  std::vector<float> y3((size_t)N * 49 * 128), z3(y3.size()), gp((size_t)N * 128), logits((size_t)N * 10);
  std::vector<int32_t> a1(q1.size()), a2(q2.size());
  std::vector<float> m1(32), v1(32), m2(64), v2(64), m3(128), v3(128);
  std::vector<float> dlog(logits.size()), dgp(gp.size()), dz3(z3.size()), dy3(y3.size()), dq2(q2.size()),
      dz2(z2.size()), dy2(y2.size()), dq1(q1.size()), dz1(z1.size()), dy1(y1.size());
  std::vector<int> labels(N);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (auto& v : x) v = u(rng);
  for (auto& l : labels) l = (int)(rng() % 10);
  const float eps = 1e-3f, lr = 0.05f, mom = 0.9f;

  Timer tm;
  double loss = 0;
  // conv output y -> BN -> ReLU (z) -> MaxPool (q, argmax a), in the chosen mode.
  auto bn_act_pool_fwd = [&](const PoolGeom& pg, std::vector<float>& y, Param& g, Param& b, std::vector<float>& z,
                             std::vector<float>& q, std::vector<int32_t>& a, std::vector<float>& m,
                             std::vector<float>& v, const char* name) {
    const int64_t rows = (int64_t)pg.N * pg.H * pg.W;
    if (mode == "fused") {
      batch_norm_act_max_pool_forward_training(pg, y.data(), g.w.data(), b.w.data(), eps, Act::kRelu, q.data(),
                                               a.data(), m.data(), v.data());
    } else {
      if (mode == "chain") {
        batch_norm_forward_training(rows, pg.C, y.data(), g.w.data(), b.w.data(), eps, z.data(), m.data(), v.data());
        relu(z);
      } else {
        batch_norm_act_forward_training(rows, pg.C, y.data(), g.w.data(), b.w.data(), eps, Act::kRelu, z.data(),
                                        m.data(), v.data());
      }
      max_pool_forward(pg, z.data(), q.data(), a.data());
    }
    tm.lap(name);
  };
  auto bn_act_pool_bwd = [&](const PoolGeom& pg, std::vector<float>& y, Param& g, std::vector<float>& z,
                             std::vector<float>& q, std::vector<float>& dq, std::vector<int32_t>& a,
                             std::vector<float>& m, std::vector<float>& v, std::vector<float>& dz,
                             std::vector<float>& dy, const char* name) {
    const int64_t rows = (int64_t)pg.N * pg.H * pg.W;
    Param& b = &g == &g1 ? b1 : &g == &g2 ? b2 : b3;
    if (mode == "fused") {
      batch_norm_act_max_pool_backward(pg, y.data(), q.data(), dq.data(), a.data(), g.w.data(), m.data(), v.data(),
                                       eps, Act::kRelu, dy.data(), g.g.data(), b.g.data());
    } else {
      max_pool_backward(pg, dq.data(), a.data(), dz.data());
      if (mode == "chain") {
        relu_backward(z, dz);
        batch_norm_backward(rows, pg.C, y.data(), dz.data(), g.w.data(), m.data(), v.data(), eps, dy.data(),
                            g.g.data(), b.g.data());
      } else {
        batch_norm_act_backward(rows, pg.C, y.data(), z.data(), dz.data(), g.w.data(), m.data(), v.data(), eps,
                                Act::kRelu, dy.data(), g.g.data(), b.g.data());
      }
    }
    tm.lap(name);
  };
  auto step = [&] {
    tm.t = now_s();
    conv2d_forward(c1, x.data(), w1.w.data(), nullptr, y1.data());
    tm.lap("conv1 fwd");
    bn_act_pool_fwd(p1, y1, g1, b1, z1, q1, a1, m1, v1, "bn1+relu+pool1 fwd");
    conv2d_forward(c2, q1.data(), w2.w.data(), nullptr, y2.data());
    tm.lap("conv2 fwd");
    bn_act_pool_fwd(p2, y2, g2, b2, z2, q2, a2, m2, v2, "bn2+relu+pool2 fwd");
    conv2d_forward(c3, q2.data(), w3.w.data(), nullptr, y3.data());
    tm.lap("conv3 fwd");
    if (mode == "chain") {
      batch_norm_forward_training((int64_t)N * 49, 128, y3.data(), g3.w.data(), b3.w.data(), eps, z3.data(),
                                  m3.data(), v3.data());
      relu(z3);
    } else {
      batch_norm_act_forward_training((int64_t)N * 49, 128, y3.data(), g3.w.data(), b3.w.data(), eps, Act::kRelu,
                                      z3.data(), m3.data(), v3.data());
    }
    tm.lap("bn3+relu fwd");
    avg_pool_forward(gap, z3.data(), gp.data());
    for (int n = 0; n < N; ++n) std::memcpy(&logits[n * 10], bd.w.data(), 10 * sizeof(float));
    matmul(false, false, N, 10, 128, 1.f, gp.data(), 128, wd.w.data(), 10, 1.f, logits.data(), 10);
    // softmax cross-entropy (mean over the batch) and its gradient
    loss = 0;
    for (int n = 0; n < N; ++n) {
      float* l = &logits[n * 10];
      float mx = *std::max_element(l, l + 10), s = 0;
      for (int k = 0; k < 10; ++k) s += std::exp(l[k] - mx);
      loss += std::log(s) + mx - l[labels[n]];
      for (int k = 0; k < 10; ++k) dlog[n * 10 + k] = (std::exp(l[k] - mx) / s - (k == labels[n])) / N;
    }
    loss /= N;
    matmul(true, false, 128, 10, N, 1.f, gp.data(), 128, dlog.data(), 10, 0.f, wd.g.data(), 10);
    std::fill(bd.g.begin(), bd.g.end(), 0.f);
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < 10; ++k) bd.g[k] += dlog[n * 10 + k];
    matmul(false, true, N, 128, 10, 1.f, dlog.data(), 10, wd.w.data(), 10, 0.f, dgp.data(), 128);
    avg_pool_backward(gap, dgp.data(), dz3.data());
    tm.lap("gap+dense+loss fwd/bwd");
    if (mode == "chain") {
      relu_backward(z3, dz3);
      batch_norm_backward((int64_t)N * 49, 128, y3.data(), dz3.data(), g3.w.data(), m3.data(), v3.data(), eps,
                          dy3.data(), g3.g.data(), b3.g.data());
    } else {
      batch_norm_act_backward((int64_t)N * 49, 128, y3.data(), z3.data(), dz3.data(), g3.w.data(), m3.data(),
                              v3.data(), eps, Act::kRelu, dy3.data(), g3.g.data(), b3.g.data());
    }
    tm.lap("bn3+relu bwd");
    conv2d_backward_weights(c3, q2.data(), dy3.data(), w3.g.data(), nullptr);
    tm.lap("conv3 bwd weights");
    conv2d_backward_data(c3, dy3.data(), w3.w.data(), dq2.data());
    tm.lap("conv3 bwd data");
    bn_act_pool_bwd(p2, y2, g2, z2, q2, dq2, a2, m2, v2, dz2, dy2, "pool2+relu+bn2 bwd");
    conv2d_backward_weights(c2, q1.data(), dy2.data(), w2.g.data(), nullptr);
    tm.lap("conv2 bwd weights");
    conv2d_backward_data(c2, dy2.data(), w2.w.data(), dq1.data());
    tm.lap("conv2 bwd data");
    bn_act_pool_bwd(p1, y1, g1, z1, q1, dq1, a1, m1, v1, dz1, dy1, "pool1+relu+bn1 bwd");
    conv2d_backward_weights(c1, x.data(), dy1.data(), w1.g.data(), nullptr);
    tm.lap("conv1 bwd weights");
    for (Param* p : {&w1, &w2, &w3, &g1, &b1, &g2, &b2, &g3, &b3, &wd, &bd}) p->sgd(lr, mom);
    tm.lap("sgd");
  };
  for (int i = 0; i < 5; ++i) step();  // warm-up: primitive creation, page faults
  tm = Timer();
  std::vector<double> step_s;
  double t0 = now_s();
  for (int i = 0; i < steps; ++i) {
    double s0 = now_s();
    step();
    step_s.push_back(now_s() - s0);
  }
  double total = now_s() - t0;
  std::sort(step_s.begin(), step_s.end());
  double median = step_s[step_s.size() / 2];
  if (!json_only) {
    std::printf("mode %s: ", mode.c_str());
    std::printf("SmallCNN step, batch %d, %d threads, %d steps: mean %.2f ms, median %.2f ms, loss %.4f\n", N,
                threads, steps, 1e3 * total / steps, 1e3 * median, loss);
    double sum = 0;
    for (double s : tm.secs) sum += s;
    for (size_t i = 0; i < tm.names.size(); ++i)
      std::printf("  %-26s %7.3f ms  %5.1f%%\n", tm.names[i].c_str(), 1e3 * tm.secs[i] / steps,
                  100 * tm.secs[i] / sum);
  }
  std::printf("{\"images_per_s\": %.1f, \"images_per_s_median_step\": %.1f, \"step_ms\": %.3f, \"threads\": %d, "
              "\"batch\": %d}\n",
              N * steps / total, N / median, 1e3 * total / steps, threads, N);
  return 0;
}
