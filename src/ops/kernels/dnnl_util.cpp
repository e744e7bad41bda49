#include "ops/kernels/dnnl_util.h"

namespace qat::ops::kernels::detail {

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream s(cpu_engine());
  return s;
}

}  // namespace qat::ops::kernels::detail
