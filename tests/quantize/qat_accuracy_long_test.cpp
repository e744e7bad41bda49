// Acceptance: float training, then QAT fine-tuning from the float checkpoint, on Fashion-MNIST.
// The fake-quant test accuracy must stay within 0.2 points of float, for uint8 per-tensor and
// int8 symmetric per-channel (issue 4, items 2 and 3). Long: several minutes on 2 cores.
// QAT_ACCURACY_MODELS=small_cnn (or mobilenet_tiny) limits the models run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "qat/data.h"
#include "qat/model.h"
#include "qat/quantize.h"
#include "qat/train.h"

using namespace qat;
namespace q = qat::quantize;

namespace {

bool wanted(const std::string& model) {
  const char* e = std::getenv("QAT_ACCURACY_MODELS");
  return !e || std::string(e).find(model) != std::string::npos;
}

void run_model(const train::ModelSpec& spec) {
  if (!wanted(spec.name)) GTEST_SKIP() << "not in QAT_ACCURACY_MODELS";
  data::MnistSplits d;
  try {
    d = data::load_mnist(data::fashion_mnist_dir());
  } catch (const Error& e) {
    GTEST_SKIP() << "Fashion-MNIST not available: " << e.what();
  }
  std::string root = (std::filesystem::temp_directory_path() / ("qat_acc_" + spec.name)).string();
  std::filesystem::remove_all(root);
  train::TrainConfig f;
  f.model = spec;
  f.epochs = 3;
  f.lr = 0.05;
  f.batch = 128;
  f.out_dir = root + "/float";
  f.log_every = 200;
  train::TrainResult fr = train::train(f, d);
  std::fprintf(stderr, "%s float: test acc %.4f, %.0f img/s\n", spec.name.c_str(), fr.test_acc, fr.images_per_s);

  struct Variant {
    const char* name;
    q::QuantizeOptions o;
  };
  const int64_t steps = d.train.n / 128;
  std::vector<Variant> variants = {{"uint8 per-tensor", {}}, {"int8 symmetric per-channel", {}}};
  variants[1].o.symmetric = true;
  variants[1].o.per_channel = true;
  for (auto& v : variants) {
    v.o.freeze_bn_delay = steps / 2;  // the PyTorch recipe freezes BN statistics half-way
    train::TrainConfig qc = f;
    qc.epochs = 1;
    qc.lr = 0.005;
    qc.out_dir = root + "/qat_" + std::to_string(&v - variants.data());
    qc.restore = fr.checkpoint;
    qc.train_rewrite = q::training_rewrite(v.o);
    qc.eval_rewrite = q::eval_rewrite(v.o);
    train::TrainResult qr = train::train(qc, d);
    std::fprintf(stderr, "%s QAT %s: fake-quant test acc %.4f (float %.4f), %.0f img/s\n", spec.name.c_str(), v.name,
                 qr.test_acc, fr.test_acc, qr.images_per_s);
    EXPECT_GE(qr.test_acc, fr.test_acc - 0.002) << v.name;
  }
}

}  // namespace

TEST(QatAccuracy, SmallCnn) { run_model(train::small_cnn()); }
TEST(QatAccuracy, MobileNetTiny) { run_model(train::mobilenet_tiny()); }
