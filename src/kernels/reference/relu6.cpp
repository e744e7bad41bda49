// RELU6 has no kernel of its own: ReluXFloat / MakeReluXTable (relu.cpp) with [0, 6]. This file
// keeps the one-op-per-file layout and documents the choice.
#include "kernels/reference/activations.h"
