// MediaPipe's custom TFLite ops, registered on demand (the CLI and tests call this; they are not
// part of RegisterBuiltinOps because they are not TFLite builtins).
#pragma once
#include "lite/op_resolver.h"

namespace qat::lite {

// Adds "Convolution2DTransposeBias" (custom_conv2d_transpose_bias.cpp).
void RegisterMediaPipeOps(OpResolver& resolver);

}  // namespace qat::lite
