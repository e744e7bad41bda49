// Optimised PAD (any element type): the reference's bytes (kernels/reference/pad.h), written once
// each. Trailing axes without padding merge into one contiguous run; each output row of the
// innermost (merged) axis is then the before-fill, one copy of the input row and the after-fill,
// or all fill outside the input; a zero pad value fills with memset. Rows split over the pool.
#pragma once
#include <cstddef>

#include "kernels/reference/pad.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

void Pad(const reference::PadParams& p, const void* input, void* output, size_t elem_size, const void* pad_value,
         ThreadPool* pool);

}  // namespace qat::kernels::optimized
