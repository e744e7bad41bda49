// Train / eval graph assembly, evaluation, and checkpoint <-> VariableStore.
#include <set>

#include "qat/ops.h"
#include "qat/train.h"

namespace qat::train {

TrainGraph build_train_graph(const ModelSpec& spec, const OptimizerOptions& opt, uint64_t seed,
                             const GraphRewrite& rewrite) {
  register_train_ops();
  TrainGraph t;
  t.graph = std::make_unique<graph::Graph>();
  graph::Graph& g = *t.graph;
  ModelGraph m = build_model(g, spec, Mode::kTrain, seed);
  t.input = m.input;
  t.logits = m.logits;
  t.labels = ops::placeholder(g, DType::kInt32, {-1}, "labels");
  Output xent = ops::softmax_cross_entropy(g, m.logits, t.labels, "xent");
  t.loss = ops::mean(g, xent, {0}, false, "loss");
  g.add_to_collection(graph::kLosses, t.loss.node);
  // TF1 order: the QAT rewrite sees the model and its loss, but no optimizer yet.
  if (rewrite) rewrite(g);
  t.learning_rate = learning_rate_placeholder(g);
  Optimizer o(opt);
  t.train_op = o.minimize(g, t.loss, t.learning_rate);
  return t;
}

EvalGraph build_eval_graph(const ModelSpec& spec, uint64_t seed, const GraphRewrite& rewrite) {
  register_train_ops();
  EvalGraph e;
  e.graph = std::make_unique<graph::Graph>();
  build_model(*e.graph, spec, Mode::kEval, seed);
  if (rewrite) rewrite(*e.graph);
  e.input = e.graph->get("input")->output(0);
  e.logits = e.graph->get("logits")->output(0);
  return e;
}

double evaluate(graph::Session& s, graph::Output input, graph::Output logits, const data::Dataset& ds, int64_t batch,
                float scale) {
  data::LoaderOptions lo;
  lo.batch = std::min<int64_t>(batch, ds.n);
  lo.shuffle = false;
  lo.drop_last = false;
  lo.scale = scale;
  data::Loader loader(ds, lo);
  loader.seek(0);
  data::Batch b;
  int64_t correct = 0, seen = 0;
  graph::Session::Feeds feeds{{input, Tensor()}};
  std::vector<graph::Output> fetches{logits};
  while (loader.next(b)) {
    feeds[0].second = b.images;
    Tensor y = s.run(feeds, fetches)[0];
    QAT_CHECK(y.rank() == 2 && y.dim(0) == b.size, "evaluate: logits have shape {}, expected [{}, K]",
              shape_str(y.shape()), b.size);
    const float* p = y.data<float>();
    const int32_t* lab = b.labels.data<int32_t>();
    int64_t k = y.dim(1);
    for (int64_t i = 0; i < b.size; ++i) {
      int64_t best = 0;
      for (int64_t j = 1; j < k; ++j)
        if (p[i * k + j] > p[i * k + best]) best = j;
      correct += best == lab[i];
    }
    seen += b.size;
  }
  return seen ? (double)correct / (double)seen : 0.0;
}

namespace {
std::set<std::string> slot_set(const graph::Graph& g) {
  std::set<std::string> s;
  for (graph::Node* n : g.collection(kOptimizerSlots)) s.insert(n->name());
  return s;
}
std::vector<graph::Node*> variable_nodes(const graph::Graph& g) {
  std::vector<graph::Node*> r;
  for (graph::Node* n : g.nodes())
    if (n->op() == "Variable") r.push_back(n);
  return r;
}
}  // namespace

Checkpoint checkpoint_from_store(const graph::Graph& g, const graph::VariableStore& vars) {
  Checkpoint c;
  auto slots = slot_set(g);
  for (graph::Node* n : variable_nodes(g)) {
    const Tensor& t = vars.get(n->name());
    (slots.count(n->name()) ? c.slots : c.variables)[n->name()] = t.clone();
  }
  auto it = c.variables.find("global_step");
  if (it != c.variables.end()) c.step = (int64_t)it->second.at(0);
  return c;
}

void restore_store(const graph::Graph& g, graph::VariableStore& vars, const Checkpoint& ckpt, const std::string& path) {
  auto slots = slot_set(g);
  std::map<std::string, Shape> want_vars, want_slots;
  for (graph::Node* n : variable_nodes(g))
    (slots.count(n->name()) ? want_slots : want_vars)[n->name()] = n->output_info(0).shape;
  // Model variables must match exactly; an eval graph has no slots, so extra slots are fine, and
  // a training graph must find all of its slots (else resuming would silently reset momentum).
  check_checkpoint_matches(ckpt, path, want_vars, false, /*allow_extra=*/slots.empty());
  for (const auto& [name, shape] : want_slots) {
    auto it = ckpt.slots.find(name);
    if (it == ckpt.slots.end())
      fail<FormatError>("{}: checkpoint has no optimizer slot '{}' (written with another optimizer?)", path, name);
    if (it->second.shape() != shape)
      fail<FormatError>("{}: optimizer slot '{}' has shape {} in the checkpoint but {} in the graph", path, name,
                        shape_str(it->second.shape()), shape_str(shape));
  }
  for (graph::Node* n : variable_nodes(g)) {
    const auto& src = slots.count(n->name()) ? ckpt.slots : ckpt.variables;
    const Tensor& t = src.at(n->name());
    if (t.dtype() != n->output_info(0).dtype)
      fail<FormatError>("{}: variable '{}' is {} in the checkpoint but {} in the graph", path, n->name(),
                        dtype_name(t.dtype()), dtype_name(n->output_info(0).dtype));
    vars.set(n->name(), t);
  }
}

std::vector<std::string> restore_partial(const graph::Graph& g, graph::VariableStore& vars, const Checkpoint& ckpt,
                                         const std::string& path) {
  auto slots = slot_set(g);
  std::map<std::string, Shape> want;
  for (graph::Node* n : variable_nodes(g))
    if (!slots.count(n->name()) && n->name() != "global_step") want[n->name()] = n->output_info(0).shape;
  std::vector<std::string> missing = check_checkpoint_matches(ckpt, path, want, true, true);
  for (const auto& [name, shape] : want)
    if (auto it = ckpt.variables.find(name); it != ckpt.variables.end()) vars.set(name, it->second);
  return missing;
}

}  // namespace qat::train
