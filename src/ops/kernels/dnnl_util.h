// Private helpers shared by the oneDNN-backed kernels of this folder: the process-wide CPU
// engine / stream, memory descriptors for qat's TF layouts, and a small thread-safe plan cache.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

namespace qat::ops::kernels::detail {

dnnl::engine& cpu_engine();
// oneDNN's CPU streams are plain handles with no state between executions, but creating one
// allocates; each calling thread keeps its own.
dnnl::stream& cpu_stream();

// Wraps a caller's buffer without copying (the handle is replaced before every execution).
inline dnnl::memory user_memory(const dnnl::memory::desc& md) { return dnnl::memory(md, cpu_engine(), nullptr); }
inline void bind(dnnl::memory& m, const void* p) { m.set_data_handle(const_cast<void*>(p)); }

// Cache of per-shape plans (primitives + bound memory objects). Keys are small int arrays; the
// plans live until process exit, so a pointer returned by get() stays valid. Each plan carries
// its own mutex because its memory objects are re-bound on every call.
template <class Plan, size_t K>
class PlanCache {
 public:
  using Key = std::array<int, K>;
  template <class Make>
  Plan& get(const Key& key, Make&& make) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) return *it->second;
    auto plan = make();  // oneDNN primitive creation: once per shape
    auto& ref = *plan;
    map_.emplace(key, std::move(plan));
    return ref;
  }

 private:
  struct Hash {
    size_t operator()(const Key& k) const {
      uint64_t h = 1469598103934665603ull;
      for (int v : k) h = (h ^ (uint32_t)v) * 1099511628211ull;
      return (size_t)h;
    }
  };
  std::mutex mu_;
  std::unordered_map<Key, std::unique_ptr<Plan>, Hash> map_;
};

}  // namespace qat::ops::kernels::detail
