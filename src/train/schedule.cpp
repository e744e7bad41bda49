// Learning-rate schedules. Cosine is per step over all training steps, as the PyTorch peer
// recipe sets it: lr = 0.5 * base * (1 + cos(pi * step / total)).
#include <cmath>
#include <numbers>

#include "qat/error.h"
#include "qat/optimizer.h"

namespace qat::train {

double Schedule::lr(int64_t step) const {
  double r = base_lr;
  switch (kind) {
    case Kind::kConstant: break;
    case Kind::kStep:
      r = base_lr * std::pow(gamma, (double)(step / std::max<int64_t>(step_size, 1)));
      break;
    case Kind::kCosine: {
      double t = std::clamp((double)step / (double)std::max<int64_t>(total_steps, 1), 0.0, 1.0);
      r = 0.5 * base_lr * (1.0 + std::cos(std::numbers::pi * t));
      break;
    }
  }
  if (warmup_steps > 0 && step < warmup_steps) r *= (double)(step + 1) / (double)warmup_steps;
  return r;
}

Schedule::Kind Schedule::parse_kind(const std::string& name) {
  if (name == "constant") return Kind::kConstant;
  if (name == "step") return Kind::kStep;
  if (name == "cosine") return Kind::kCosine;
  fail<UsageError>("unknown schedule '{}' (expected constant, step or cosine)", name);
}

const char* Schedule::kind_name(Kind k) {
  switch (k) {
    case Kind::kConstant: return "constant";
    case Kind::kStep: return "step";
    case Kind::kCosine: return "cosine";
  }
  return "?";
}

}  // namespace qat::train
