// Executor. A Plan is built once per (graph version, feeds, fetches, targets): the nodes needed,
// in a topological order that follows creation order (so state updates created last run last),
// a value slot per output and the step after which each slot is dead. Running a plan is then a
// flat loop over pre-resolved kernels with no name lookups and, after the first step, no output
// allocation (each node output keeps the previous step's buffer for reuse).
//
// Concurrent towers (Session::set_concurrent_towers): the plan's steps are split into lanes (one
// per tower); each lane runs its steps in plan order on its own thread and waits, before a step,
// for the steps of other lanes it depends on (per-step done flags). Dependencies always point to
// earlier plan positions, so the lanes cannot deadlock. Slots are freed by the last of their
// readers to finish (atomic reader counts) instead of at a fixed plan position.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "qat/graph.h"

namespace qat::graph {

// Buffers of one plan: tensors whose storage the executor allocated, counted by the value slots
// that reference them (a Reshape/Identity output aliases its input's storage). When the count
// drops to zero the storage goes back to a free list keyed by (dtype, elements) and is handed
// out again by allocate_output — so memory follows the live set of a step, and a step in the
// steady state allocates nothing.
class BufferPool {
 public:
  // Thread-safe (concurrent towers): one lock per call; buffers taken but not yet held are kept
  // per lane (qat::thread_lane()) until that lane's settle().
  Tensor* take(DType dtype, const Shape& shape) {
    thread_local Tensor scratch;  // copied by the caller (allocate_output) right away
    int64_t n = num_elements(shape);
    std::lock_guard<std::mutex> lk(mu_);
    auto& list = free_[key(dtype, n)];
    if (!list.empty()) {
      scratch = list.back().reshaped(shape);
      list.pop_back();
    } else {
      scratch = Tensor(dtype, shape);
    }
    live_.emplace(scratch.raw(), Entry{scratch, 0});
    pending(qat::thread_lane()).push_back(scratch.raw());
    return &scratch;
  }
  // A slot now holds t (counts only storage this pool handed out).
  void hold(const Tensor& t) {
    if (!t.defined()) return;
    std::lock_guard<std::mutex> lk(mu_);
    auto it = live_.find(t.raw());
    if (it != live_.end()) ++it->second.refs;
  }
  // A slot holding t is cleared.
  void drop(const Tensor& t) {
    if (!t.defined()) return;
    std::lock_guard<std::mutex> lk(mu_);
    auto it = live_.find(t.raw());
    if (it == live_.end()) return;
    if (--it->second.refs <= 0) {
      Tensor& base = it->second.tensor;
      free_[key(base.dtype(), base.size())].push_back(std::move(base));
      live_.erase(it);
    }
  }
  // After a step's outputs are held: buffers this lane took but did not keep in any slot go back.
  void settle(int lane) {
    std::lock_guard<std::mutex> lk(mu_);
    for (const void* p : pending(lane)) {
      auto it = live_.find(p);
      if (it != live_.end() && it->second.refs <= 0) {
        Tensor& base = it->second.tensor;
        free_[key(base.dtype(), base.size())].push_back(std::move(base));
        live_.erase(it);
      }
    }
    pending(lane).clear();
  }
  void clear() {
    std::lock_guard<std::mutex> lk(mu_);
    live_.clear();
    free_.clear();
    pending_.clear();
  }

 private:
  static uint64_t key(DType t, int64_t n) { return (uint64_t)n << 8 | (uint64_t)t; }
  std::vector<const void*>& pending(int lane) {
    if ((size_t)lane >= pending_.size()) pending_.resize((size_t)lane + 1);
    return pending_[(size_t)lane];
  }
  struct Entry {
    Tensor tensor;
    int refs;
  };
  std::mutex mu_;
  std::unordered_map<const void*, Entry> live_;
  std::unordered_map<uint64_t, std::vector<Tensor>> free_;
  std::vector<std::vector<const void*>> pending_;
};

Tensor* buffer_pool_take(BufferPool* pool, DType dtype, const Shape& shape) { return pool->take(dtype, shape); }

struct Session::Plan {
  uint64_t version = 0;
  std::vector<Output> feed_keys, fetch_keys;
  std::vector<Node*> target_keys;

  struct Step {
    Node* node;
    const OpDef* def;
    std::vector<int> in_slots;  // -1: the fused edge (an undefined tensor)
    int out_base;
    int num_out;
    std::vector<int> free_after;  // slots dead after this step
    // Fused chain node -> second (FusionRule): outputs are node's then second's.
    const FusionRule* fusion = nullptr;
    Node* second = nullptr;
    int skip_output = -1;  // output not produced (the fused edge)
    std::string profile_name;
    // Concurrent towers: this step's lane; steps of other lanes to wait for (at most one per
    // lane: the latest, since a lane runs in plan order); distinct input slots; outputs no step
    // reads (freed right away unless fetched).
    int lane = 0;
    std::vector<int> wait;
    std::vector<int> reads;
  };
  std::vector<Step> steps;
  std::vector<int> feed_slots;   // per feed key
  std::vector<int> fetch_slots;  // per fetch key
  std::vector<Tensor> values;    // one per slot
  BufferPool buffers;
  // Concurrent towers (lanes > 1).
  int lanes = 1;
  std::vector<std::vector<int>> lane_steps;  // step indices of each lane, in plan order
  std::vector<int> readers;                  // per slot: steps that read it
  std::vector<char> keep;                    // per slot: fed or fetched (kept to the end)
  std::unique_ptr<std::atomic<int>[]> done;  // per step, per run: 0 pending, 1 done, 2 aborted
  std::unique_ptr<std::atomic<int>[]> remaining;  // per slot, per run: readers still to finish
};

// Lane threads of a concurrent Session: a runner with one thread per lane (the caller is lane
// 0's) and, per lane, the pool its kernels get as KernelContext::pool().
struct Session::Lanes {
  int count = 0, total = 0;
  std::unique_ptr<ThreadPool> runner;
  std::vector<std::unique_ptr<ThreadPool>> pools;
  std::vector<int> threads;
};

Session::Session(Graph& g, VariableStore& vars, ThreadPool& pool) : g_(g), vars_(vars), pool_(pool) {
  // QAT_NO_FUSION=1 turns plan-time fusion off (a debugging switch: fused and unfused results
  // differ only by float rounding).
  if (const char* e = std::getenv("QAT_NO_FUSION"); e && *e && *e != '0') fusion_ = false;
  // QAT_SEQUENTIAL_TOWERS=1: towers run one after the other (a debugging switch).
  if (const char* e = std::getenv("QAT_SEQUENTIAL_TOWERS"); e && *e && *e != '0') concurrent_ = 0;
}
Session::~Session() = default;

void Session::set_fusion(bool on) {
  fusion_ = on;
  plans_.clear();
}

void Session::set_concurrent_towers(bool on) {
  concurrent_ = on ? 1 : 0;
  plans_.clear();
}

namespace {
struct OutputHash {
  size_t operator()(const Output& o) const { return std::hash<const void*>()(o.node) * 31 + (size_t)o.index; }
};

// k for a node named ".../tower_k/..." (the first such path component), else -1.
int tower_of(const std::string& name) {
  size_t pos = 0;
  while (pos < name.size()) {
    size_t end = name.find('/', pos);
    if (end == std::string::npos) end = name.size();
    std::string_view c(name.data() + pos, end - pos);
    if (c.size() > 6 && c.substr(0, 6) == "tower_" &&
        std::all_of(c.begin() + 6, c.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) && c.size() < 12)
      return std::atoi(std::string(c.substr(6)).c_str());
    pos = end + 1;
  }
  return -1;
}

bool writes_state(const OpDef* d) { return d && d->stateful && d->name != "Variable"; }

bool shape_compatible(const Shape& declared, const Shape& actual) {
  if (declared.size() != actual.size()) return false;
  for (size_t i = 0; i < declared.size(); ++i)
    if (declared[i] >= 0 && declared[i] != actual[i]) return false;
  return true;
}
}  // namespace

Session::Plan& Session::plan_for(const Feeds& feeds, const std::vector<Output>& fetches,
                                 const std::vector<Node*>& targets) {
  for (auto& p : plans_) {
    if (p->version != g_.version() || p->feed_keys.size() != feeds.size() || p->fetch_keys.size() != fetches.size() ||
        p->target_keys.size() != targets.size())
      continue;
    bool same = std::equal(fetches.begin(), fetches.end(), p->fetch_keys.begin()) &&
                std::equal(targets.begin(), targets.end(), p->target_keys.begin());
    for (size_t i = 0; same && i < feeds.size(); ++i) same = feeds[i].first == p->feed_keys[i];
    if (same) return *p;
  }
  // Drop plans of older graph versions.
  std::erase_if(plans_, [&](const std::unique_ptr<Plan>& p) { return p->version != g_.version(); });

  auto plan = std::make_unique<Plan>();
  Plan& P = *plan;
  P.version = g_.version();
  for (auto& f : feeds) P.feed_keys.push_back(f.first);
  P.fetch_keys.assign(fetches.begin(), fetches.end());
  P.target_keys.assign(targets.begin(), targets.end());

  std::unordered_set<Output, OutputHash> fed;
  for (auto& f : feeds) {
    QAT_CHECK_T(UsageError, f.first.node && &f.first.node->graph() == &g_, "Session::run: feed for a node of another graph");
    fed.insert(f.first);
  }
  // Needed nodes: reverse reachability from fetches and targets, not crossing fed outputs.
  std::unordered_set<const Node*> needed;
  std::vector<Node*> stack;
  for (auto& o : fetches) {
    QAT_CHECK_T(UsageError, o.node && &o.node->graph() == &g_, "Session::run: fetch of a null node or another graph");
    if (o.index < 0 || o.index >= o.node->num_outputs())
      fail<UsageError>("Session::run: fetch {} out of range", o.str());
    if (!fed.count(o)) stack.push_back(o.node);
  }
  for (Node* t : targets) {
    QAT_CHECK_T(UsageError, t && &t->graph() == &g_, "Session::run: target of a null node or another graph");
    stack.push_back(t);
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (!needed.insert(n).second) continue;
    for (auto& in : n->inputs())
      if (!fed.count(in)) stack.push_back(in.node);
    for (Node* c : n->control_inputs()) stack.push_back(c);
  }

  std::vector<Node*> order;
  for (Node* n : g_.topo_order())
    if (needed.count(n)) order.push_back(n);

  // Plan-time fusion: pick chains first -> second (see FusionRule).
  std::unordered_map<const Node*, std::pair<const FusionRule*, Node*>> fuse_first;  // first -> (rule, second)
  std::unordered_set<const Node*> fused_second;
  if (fusion_) {
    auto rules = fusion_rules();
    std::unordered_map<const Node*, int> pos;
    for (int i = 0; i < (int)order.size(); ++i) pos[order[i]] = i;
    std::unordered_map<Output, int, OutputHash> readers;
    for (Node* n : order)
      for (auto& in : n->inputs()) ++readers[in];
    std::unordered_set<Output, OutputHash> fetched(fetches.begin(), fetches.end());
    std::unordered_set<const Node*> control_dep;  // nodes others wait for: keep their position
    for (Node* n : order)
      for (Node* c : n->control_inputs()) control_dep.insert(c);
    for (Node* second : order) {
      if (!second->control_inputs().empty() || control_dep.count(second)) continue;
      for (const FusionRule* r : rules) {
        if (r->second_op != second->op() || r->second_input >= second->num_inputs()) continue;
        Output e = second->inputs()[r->second_input];
        Node* first = e.node;
        if (first->op() != r->first_op || e.index != r->first_output || fed.count(e) || fetched.count(e)) continue;
        if (!pos.count(first) || readers[e] != 1 || fuse_first.count(first) || fused_second.count(first) ||
            fuse_first.count(second) || !first->control_inputs().empty() || control_dep.count(first))
          continue;
        bool ready = true;
        for (int i = 0; i < second->num_inputs() && ready; ++i) {
          if (i == r->second_input) continue;
          Output o = second->inputs()[i];
          ready = fed.count(o) || (pos.count(o.node) && pos[o.node] < pos[first]);
        }
        if (!ready || (r->applies && !r->applies(*first, *second))) continue;
        fuse_first[first] = {r, second};
        fused_second.insert(second);
        break;
      }
    }
  }

  // Slots: fed outputs first, then every output of every step (a fused step's outputs are
  // contiguous: first's then second's).
  std::unordered_map<Output, int, OutputHash> slot_of;
  int nslots = 0;
  for (auto& f : feeds) {
    auto [it, inserted] = slot_of.emplace(f.first, nslots);
    if (inserted) ++nslots;
    P.feed_slots.push_back(it->second);
  }
  for (Node* n : order) {
    if (fused_second.count(n)) continue;
    Plan::Step s;
    s.node = n;
    s.def = find_op(n->op());
    if (!s.def || !s.def->kernel) fail<UsageError>("{}: op has no kernel registered", n->describe());
    s.out_base = nslots;
    s.num_out = n->num_outputs();
    for (int i = 0; i < n->num_outputs(); ++i) slot_of.emplace(Output{n, i}, nslots + i);
    nslots += n->num_outputs();
    s.profile_name = n->op();
    if (auto it = fuse_first.find(n); it != fuse_first.end()) {
      s.fusion = it->second.first;
      s.second = it->second.second;
      s.skip_output = s.fusion->first_output;
      for (int i = 0; i < s.second->num_outputs(); ++i) slot_of.emplace(Output{s.second, i}, nslots + i);
      nslots += s.second->num_outputs();
      s.num_out += s.second->num_outputs();
      s.profile_name = s.fusion->name;
    }
    P.steps.push_back(std::move(s));
  }
  for (auto& s : P.steps) {
    for (auto& in : s.node->inputs()) s.in_slots.push_back(slot_of.at(in));
    if (s.second)
      for (int i = 0; i < s.second->num_inputs(); ++i)
        s.in_slots.push_back(i == s.fusion->second_input ? -1 : slot_of.at(s.second->inputs()[i]));
  }
  for (auto& o : fetches) P.fetch_slots.push_back(slot_of.at(o));

  // Last use of each slot; fetched and fed slots are kept to the end.
  std::vector<int> last(nslots, -1);
  for (int i = 0; i < (int)P.steps.size(); ++i) {
    for (int s : P.steps[i].in_slots)
      if (s >= 0) last[s] = i;
    for (int k = 0; k < P.steps[i].num_out; ++k) {
      int s = P.steps[i].out_base + k;
      if (last[s] < i) last[s] = i;  // unused outputs die right after their producer
    }
  }
  std::vector<bool> keep(nslots, false);
  for (int s : P.fetch_slots) keep[s] = true;
  for (int s : P.feed_slots) keep[s] = true;
  for (int s = 0; s < nslots; ++s)
    if (!keep[s] && last[s] >= 0) P.steps[last[s]].free_after.push_back(s);
  P.values.resize(nslots);

  // Concurrent towers: lanes from the node names, when the pool has a thread per lane.
  bool concurrent = concurrent_ == 1 || (concurrent_ < 0 && !g_.collection(kTowers).empty());
  int K = 0;
  if (concurrent)
    for (auto& st : P.steps) {
      int k = tower_of(st.node->name());
      st.lane = k < 0 ? 0 : k;
      K = std::max(K, st.lane + 1);
    }
  if (K >= 2 && pool_.size() >= K) {
    const int n = (int)P.steps.size();
    P.lanes = K;
    P.lane_steps.assign(K, {});
    std::vector<int> producer(nslots, -1);
    std::unordered_map<const Node*, int> step_of;
    for (int i = 0; i < n; ++i) {
      auto& st = P.steps[i];
      P.lane_steps[st.lane].push_back(i);
      for (int k = 0; k < st.num_out; ++k) producer[st.out_base + k] = i;
      step_of[st.node] = i;
      if (st.second) step_of[st.second] = i;
    }
    std::vector<std::vector<int>> want(n, std::vector<int>(K, -1));  // latest step of each lane to wait for
    auto need = [&](int i, int j) {
      if (j >= 0 && j < i && P.steps[j].lane != P.steps[i].lane) want[i][P.steps[j].lane] = std::max(want[i][P.steps[j].lane], j);
    };
    for (int i = 0; i < n; ++i) {
      auto& st = P.steps[i];
      for (int sl : st.in_slots)
        if (sl >= 0) need(i, producer[sl]);
      for (Node* c : st.node->control_inputs())
        if (auto it = step_of.find(c); it != step_of.end()) need(i, it->second);
      if (st.second)
        for (Node* c : st.second->control_inputs())
          if (auto it = step_of.find(c); it != step_of.end()) need(i, it->second);
    }
    // A step that writes state is a barrier: after every earlier step, before every later one.
    for (int i = 0; i < n; ++i) {
      auto& st = P.steps[i];
      if (!writes_state(st.def) && !(st.second && writes_state(find_op(st.second->op())))) continue;
      for (int j = i - 1; j >= 0; --j) need(i, j);
      std::vector<bool> seen(K, false);
      for (int j = i + 1; j < n; ++j) {
        int l = P.steps[j].lane;
        if (l == st.lane || seen[l]) continue;
        seen[l] = true;
        need(j, i);
      }
    }
    P.readers.assign(nslots, 0);
    for (int i = 0; i < n; ++i) {
      auto& st = P.steps[i];
      for (int l = 0; l < K; ++l)
        if (want[i][l] >= 0) st.wait.push_back(want[i][l]);
      for (int sl : st.in_slots)
        if (sl >= 0 && std::find(st.reads.begin(), st.reads.end(), sl) == st.reads.end()) st.reads.push_back(sl);
      for (int sl : st.reads) ++P.readers[sl];
    }
    P.keep.assign(keep.begin(), keep.end());
    P.done = std::make_unique<std::atomic<int>[]>(n);
    P.remaining = std::make_unique<std::atomic<int>[]>(nslots);
  }
  plans_.push_back(std::move(plan));
  return *plans_.back();
}


namespace {
// Runs one plan step in ctx: binds its inputs and outputs, runs the kernel (naming the node in
// errors), checks the outputs, holds them in the buffer pool and settles the lane's buffers.
template <class StepT, class Profile>
void exec_step(StepT& s, KernelContext& ctx, std::vector<Tensor>& values, BufferPool& buffers, int lane,
               Profile* profile) {
  static const Tensor kNone;
  ctx.node_ = s.node;
  ctx.inputs_.resize(s.in_slots.size());
  for (size_t i = 0; i < s.in_slots.size(); ++i) ctx.inputs_[i] = s.in_slots[i] >= 0 ? &values[s.in_slots[i]] : &kNone;
  ctx.outputs_ = std::span<Tensor>(values.data() + s.out_base, s.num_out);
  try {
    if (profile) {
      auto t0 = std::chrono::steady_clock::now();
      if (s.fusion)
        s.fusion->kernel(ctx, *s.node, *s.second);
      else
        s.def->kernel(ctx);
      (*profile)(s.profile_name, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } else if (s.fusion) {
      s.fusion->kernel(ctx, *s.node, *s.second);
    } else {
      s.def->kernel(ctx);
    }
  } catch (const ShapeError& e) {
    std::string m = e.what();
    if (m.find(s.node->name()) == std::string::npos) throw ShapeError(s.node->describe() + ": " + m);
    throw;
  } catch (const UsageError& e) {
    std::string m = e.what();
    if (m.find(s.node->name()) == std::string::npos) throw UsageError(s.node->describe() + ": " + m);
    throw;
  } catch (const Error& e) {
    std::string m = e.what();
    if (m.find(s.node->name()) == std::string::npos) throw Error(s.node->describe() + ": " + m);
    throw;
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: {}", s.node->describe(), e.what()));
  }
  for (int k = 0; k < s.num_out; ++k) {
    if (k == s.skip_output) continue;
    const Node* on = k < s.node->num_outputs() ? s.node : s.second;
    int ok = k < s.node->num_outputs() ? k : k - s.node->num_outputs();
    const Tensor& t = values[s.out_base + k];
    if (!t.defined()) fail("{}: kernel did not produce output {}", on->describe(), ok);
    if (t.dtype() != on->output_infos()[ok].dtype)
      fail("{}: output {} is {}, shape inference said {}", on->describe(), ok, dtype_name(t.dtype()),
           dtype_name(on->output_infos()[ok].dtype));
  }
  for (int k = 0; k < s.num_out; ++k) buffers.hold(values[s.out_base + k]);
  buffers.settle(lane);
}
}  // namespace

void Session::run_sequential(Plan& P) {
  KernelContext ctx;
  ctx.pool_ = &pool_;
  ctx.vars_ = &vars_;
  ctx.buffers_ = &P.buffers;
  auto record = [this](const std::string& op, double sec) {
    auto& pt = profile_[op];
    pt.seconds += sec;
    ++pt.calls;
  };
  for (auto& s : P.steps) {
    exec_step(s, ctx, P.values, P.buffers, 0, profiling_ ? &record : nullptr);
    for (int sl : s.free_after) {
      P.buffers.drop(P.values[sl]);
      P.values[sl] = Tensor();
    }
  }
}

void Session::run_concurrent(Plan& P) {
  const int K = P.lanes, T = pool_.size();
  if (!lanes_ || lanes_->count != K || lanes_->total != T) {
    auto L = std::make_unique<Lanes>();
    L->count = K;
    L->total = T;
    L->runner = std::make_unique<ThreadPool>(K);
    for (int k = 0; k < K; ++k) {
      L->threads.push_back(T / K + (k < T % K ? 1 : 0));
      L->pools.push_back(std::make_unique<ThreadPool>(L->threads.back()));
    }
    lanes_ = std::move(L);
  }
  const int n = (int)P.steps.size();
  for (int i = 0; i < n; ++i) P.done[i].store(0, std::memory_order_relaxed);
  for (size_t sl = 0; sl < P.readers.size(); ++sl) P.remaining[sl].store(P.readers[sl], std::memory_order_relaxed);
  std::mutex mu;  // error and profile
  std::exception_ptr error;
  // Waiting: a short spin, then a condition variable (not std::atomic::wait, whose GCC 12
  // implementation can miss notifications). done stores and the sleeper count are seq_cst, so
  // either the finishing lane sees a sleeper and notifies, or the sleeper sees the flag.
  std::mutex wait_mu;
  std::condition_variable wait_cv;
  std::atomic<int> sleepers{0};
  auto wake = [&] {
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> lk(wait_mu);
      wait_cv.notify_all();
    }
  };
  auto abort_all = [&] {
    for (int i = 0; i < n; ++i) {
      int zero = 0;
      P.done[i].compare_exchange_strong(zero, 2);
    }
    std::lock_guard<std::mutex> lk(wait_mu);
    wait_cv.notify_all();
  };
  auto wait_for = [&](int j) {
    for (int spin = 0; spin < 256; ++spin) {
      int v = P.done[j].load(std::memory_order_acquire);
      if (v != 0) return v == 1;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    std::unique_lock<std::mutex> lk(wait_mu);
    sleepers.fetch_add(1);
    wait_cv.wait(lk, [&] { return P.done[j].load() != 0; });
    sleepers.fetch_sub(1);
    return P.done[j].load() == 1;
  };
  auto clear_slot = [&](int sl) {
    P.buffers.drop(P.values[sl]);
    P.values[sl] = Tensor();
  };
  auto record = [&](const std::string& op, double sec) {
    std::lock_guard<std::mutex> lk(mu);
    auto& pt = profile_[op];
    pt.seconds += sec;
    ++pt.calls;
  };
  lanes_->runner->run_tasks(K, [&](int lane) {
    ScopedThreadLimit limit(lanes_->threads[lane], lane);
    KernelContext ctx;
    ctx.pool_ = lanes_->pools[lane].get();
    ctx.vars_ = &vars_;
    ctx.buffers_ = &P.buffers;
    try {
      for (int i : P.lane_steps[lane]) {
        auto& s = P.steps[i];
        if (profiling_ && !s.wait.empty()) {
          auto t0 = std::chrono::steady_clock::now();
          for (int j : s.wait)
            if (!wait_for(j)) return;  // another lane failed
          record("(tower lane waits)", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        } else {
          for (int j : s.wait)
            if (!wait_for(j)) return;  // another lane failed
        }
        exec_step(s, ctx, P.values, P.buffers, lane, profiling_ ? &record : nullptr);
        for (int sl : s.reads)
          if (!P.keep[sl] && P.remaining[sl].fetch_sub(1, std::memory_order_acq_rel) == 1) clear_slot(sl);
        for (int k = 0; k < s.num_out; ++k) {
          int sl = s.out_base + k;
          if (!P.keep[sl] && P.readers[sl] == 0) clear_slot(sl);
        }
        P.done[i].store(1);
        wake();
      }
    } catch (...) {
      {
        std::lock_guard<std::mutex> lk(mu);
        if (!error) error = std::current_exception();
      }
      abort_all();
    }
  });
  if (error) std::rethrow_exception(error);
}

std::vector<Tensor> Session::run(const Feeds& feeds, const std::vector<Output>& fetches,
                                 const std::vector<Node*>& targets) {
  Plan& P = plan_for(feeds, fetches, targets);
  for (size_t i = 0; i < feeds.size(); ++i) {
    const Output& o = feeds[i].first;
    const Tensor& t = feeds[i].second;
    const TensorInfo& info = o.node->output_info(o.index);
    if (!t.defined()) fail<UsageError>("feed for '{}' is an undefined tensor", o.str());
    if (t.dtype() != info.dtype || !shape_compatible(info.shape, t.shape()))
      fail<ShapeError>("feed for '{}' is {}{}, expected {}{}", o.str(), dtype_name(t.dtype()), shape_str(t.shape()),
                       dtype_name(info.dtype), shape_str(info.shape));
    P.values[P.feed_slots[i]] = t;
  }
  last_lanes_ = P.lanes;
  try {
    if (P.lanes > 1)
      run_concurrent(P);
    else
      run_sequential(P);
  } catch (...) {
    for (auto& v : P.values) v = Tensor();
    P.buffers.clear();
    throw;
  }
  std::vector<Tensor> result;
  result.reserve(P.fetch_slots.size());
  for (int sl : P.fetch_slots) result.push_back(P.values[sl].clone());
  for (int sl = 0; sl < (int)P.values.size(); ++sl) {
    P.buffers.drop(P.values[sl]);
    P.values[sl] = Tensor();
  }
  return result;
}

std::string Session::profile_report() const {
  std::vector<std::pair<std::string, OpTime>> v(profile_.begin(), profile_.end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0;
  for (auto& [_, t] : v) total += t.seconds;
  std::string r;
  for (auto& [op, t] : v)
    r += fmt::format("{:<40} {:9.3f} ms {:6.1f}% {:8} calls\n", op, t.seconds * 1e3, total > 0 ? 100 * t.seconds / total : 0.0,
                     t.calls);
  return r;
}

std::vector<Tensor> Session::run(const std::map<std::string, Tensor>& feeds, const std::vector<std::string>& fetches,
                                 const std::vector<std::string>& targets) {
  Feeds f;
  for (auto& [name, t] : feeds) f.emplace_back(g_.output(name), t);
  std::vector<Output> fo;
  for (auto& name : fetches) fo.push_back(g_.output(name));
  std::vector<Node*> tn;
  for (auto& name : targets) tn.push_back(g_.get(name));
  return run(f, fo, tn);
}

}  // namespace qat::graph
