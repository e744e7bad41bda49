// The expand + depthwise fusion (see expand_depthwise_float.h).
#include "kernels/optimized/expand_depthwise_float.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "kernels/optimized/parallel.h"

namespace qat::kernels::optimized {
namespace {
std::atomic<int> g_ring_rows_for_tests{0};
}  // namespace

void SetExpandRingRowsForTests(int rows) { g_ring_rows_for_tests.store(rows, std::memory_order_relaxed); }

bool ExpandDepthwiseApplies(const PackedConvFloat& pc, const PackedDepthwiseFloat& pd) {
  const reference::ConvParams &e = pc.p, &d = pd.p;
  return ConvFloatContiguous(pc) && d.depth_multiplier == 1 && e.batches == d.batches && e.output_h == d.input_h &&
         e.output_w == d.input_w && e.output_c == d.input_c && d.input_c == d.output_c;
}

void ExpandDepthwiseFloat(const PackedConvFloat& pc, const PackedDepthwiseFloat& pd, const float* input,
                          float* output, ThreadPool* pool, KernelPath path, FloatMath math) {
  const reference::ConvParams& p = pd.p;
  const int H = p.input_h, W = p.input_w, C = p.input_c, in_c = pc.p.input_c;
  const int64_t rows = (int64_t)p.batches * p.output_h;
  if (rows == 0 || p.output_w == 0) return;
  const int64_t row_floats = (int64_t)W * C;
  // The window's height in input rows; the ring holds at least that many, by default ~256 KiB.
  const int span = (p.filter_h - 1) * p.dilation_h + 1;
  int ring_rows = g_ring_rows_for_tests.load(std::memory_order_relaxed);
  if (ring_rows <= 0) ring_rows = (int)std::min<int64_t>(H, std::max<int64_t>(1, (256 << 10) / (row_floats * 4)));
  ring_rows = std::max(ring_rows, std::min(span, H));
  const int threads = ParallelThreads(pool);
  const int tasks = (int)std::min<int64_t>(threads, rows);
  ParallelTasks(pool, tasks, [&](int task) {
    const int64_t r0 = rows * task / tasks, r1 = rows * (task + 1) / tasks;
    thread_local std::vector<float> ring_buf;
    ring_buf.resize((size_t)(ring_rows * row_floats + 16));
    float* const ring = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(ring_buf.data()) + 63) & ~uintptr_t(63));
    const DwRowSource src{ring, 0, ring_rows, row_floats};
    int b = -1;
    int next = 0;  // the image's next expanded row not yet in the ring
    for (int64_t r = r0; r < r1; ++r) {
      const int rb = (int)(r / p.output_h), oy = (int)(r % p.output_h);
      if (rb != b) {  // a new image: an empty ring
        b = rb;
        next = 0;
      }
      // The input rows of this output row's window inside the image: [lo, hi]. (Clipped window
      // rows, not the first tap row inside: with dilation that one can step back as oy grows.)
      const int top = oy * p.stride_h - p.pad_top;
      const int lo = std::max(top, 0), hi = std::min(top + (p.filter_h - 1) * p.dilation_h, H - 1);
      if (lo <= hi) {
        next = std::max(next, lo);
        // Expand rows next .. hi, in runs that neither wrap the ring nor overwrite row lo: at most
        // ring_rows - (next - lo) rows ahead of lo. Runs reach past hi (up to that bound) so that
        // each ConvFloatPixels call has many pixels.
        while (next <= hi) {
          const int room = ring_rows - (next - lo);
          const int to_end = ring_rows - next % ring_rows;
          const int n = std::min({room, to_end, H - next});
          ConvFloatPixels(pc, input + ((int64_t)b * H + next) * W * in_c, (int64_t)n * W,
                          ring + (int64_t)(next % ring_rows) * row_floats, path, math);
          next += n;
        }
      }
      DepthwiseConvFloatRows(pd, src, 0, oy, oy + 1, output + r * p.output_w * p.output_c, path, math);
    }
  });
}

}  // namespace qat::kernels::optimized
