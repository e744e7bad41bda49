// `qat report --run runs/demo`: the main job's report (docs/pipeline.md). Reads the run folder
// that scripts/demo fills, measures what needs the test set itself (interpreter accuracy of each
// .tflite, the fake-quant eval graphs' per-image predictions, top-1 agreement), and writes
// report.md and report.html (inline SVG plots) with the acceptance checks marked PASS/FAIL.
//
// Also home of evaluate_tflite(), which `qat eval MODEL.tflite` uses.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "lite/tool_support.h"
#include "qat/error.h"
#include "qat/freeze.h"
#include "qat/interpreter.h"
#include "qat/thread_pool.h"
#include "qat/train.h"

namespace qat::cli {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int32_t argmax(const float* p, int64_t k) {
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (p[j] > p[best]) best = j;
  return (int32_t)best;
}

double accuracy_of(const std::vector<int32_t>& pred, const data::Dataset& ds) {
  int64_t ok = 0;
  for (size_t i = 0; i < pred.size(); ++i) ok += pred[i] == ds.labels[i];
  return pred.empty() ? 0.0 : (double)ok / (double)pred.size();
}
}  // namespace

// Interpreter accuracy of a classifier .tflite: one image per Invoke (the converted batch is 1),
// pixels * scale fed as float or quantized with the input's own scale / zero point (what
// TFLite's QUANTIZE does: round half away from zero, clamp), argmax of the dequantized output.
// `threads` interpreters (one thread each) take contiguous slices of the test set.
ClassifierEval evaluate_tflite(const std::string& path, const data::Dataset& ds, float scale, int threads) {
  auto t0 = Clock::now();
  lite::InterpreterOptions opt;
  opt.threads = 1;
  const int workers = (int)std::clamp<int64_t>(threads, 1, std::max<int64_t>(ds.n, 1));
  std::vector<std::unique_ptr<lite::Interpreter>> interps;
  for (int w = 0; w < workers; ++w) {
    interps.push_back(lite::Interpreter::FromFile(path, lite::DefaultOpResolver(), opt));
    interps.back()->AllocateTensors();
  }
  lite::Interpreter& first = *interps[0];
  if (first.inputs_size() != 1 || first.outputs_size() != 1)
    fail<UsageError>("{}: a classifier needs one input and one output, it has {} and {}", path, first.inputs_size(),
                     first.outputs_size());
  const lite::TensorDetails in = first.input_details()[0];
  const int64_t img = ds.image_size();
  int64_t n_in = 1;
  for (auto d : in.shape) n_in *= d;
  if (n_in != img)
    fail<UsageError>("{}: input '{}' has {} elements per run but the images have {} ({}x{}x{})", path, in.name, n_in,
                     img, ds.h, ds.w, ds.c);
  const bool quantized = in.type != DType::kFloat32;
  if (quantized && (in.scales.size() != 1 || (in.type != DType::kUInt8 && in.type != DType::kInt8)))
    fail<UsageError>("{}: input '{}' must be float32, or uint8/int8 with one scale", path, in.name);
  // Lookup table: every pixel value 0..255 -> the input's representation.
  std::vector<float> fl(256);
  std::vector<int32_t> q(256);
  for (int p = 0; p < 256; ++p) {
    fl[p] = (float)p * scale;
    if (quantized) {
      const int lo = in.type == DType::kUInt8 ? 0 : -128, hi = in.type == DType::kUInt8 ? 255 : 127;
      q[p] = std::clamp((int)std::round(fl[p] / in.scales[0]) + (int)in.zero_points[0], lo, hi);
    }
  }
  ClassifierEval r;
  r.predictions.resize(ds.n);
  auto work = [&](int w) {
    lite::Interpreter& it = *interps[w];
    std::vector<uint8_t> bytes(quantized ? img : img * 4);
    const int64_t b = ds.n * w / workers, e = ds.n * (w + 1) / workers;
    for (int64_t i = b; i < e; ++i) {
      const uint8_t* px = ds.pixels.data() + i * img;
      if (!quantized) {
        float* f = reinterpret_cast<float*>(bytes.data());
        for (int64_t j = 0; j < img; ++j) f[j] = fl[px[j]];
      } else {
        for (int64_t j = 0; j < img; ++j) bytes[j] = (uint8_t)q[px[j]];  // int8: two's complement byte
      }
      it.SetInput(0, bytes.data(), bytes.size());
      it.Invoke();
      std::vector<float> out = it.DequantizeOutput(0);
      r.predictions[i] = argmax(out.data(), (int64_t)out.size());
    }
  };
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errs(workers);
  for (int w = 1; w < workers; ++w)
    pool.emplace_back([&, w] {
      try {
        work(w);
      } catch (...) {
        errs[w] = std::current_exception();
      }
    });
  try {
    work(0);
  } catch (...) {
    errs[0] = std::current_exception();
  }
  for (auto& t : pool) t.join();
  for (auto& e : errs)
    if (e) std::rethrow_exception(e);
  r.examples = ds.n;
  r.accuracy = accuracy_of(r.predictions, ds);
  r.seconds = since(t0);
  return r;
}

namespace {

// Per-image predictions of an inference graph (a run's graph.json: for a QAT run, the
// fake-quant eval graph) with a checkpoint.
ClassifierEval evaluate_graph(const std::string& graph_path, const std::string& ckpt, const data::Dataset& ds,
                              float scale) {
  auto t0 = Clock::now();
  freeze::register_all_ops();
  train::register_train_ops();
  auto g = graph::Graph::load(graph_path);
  graph::Node* in = g->find("input");
  graph::Node* lg = g->find("logits");
  if (!in || !lg) fail<FormatError>("{}: graph has no 'input' and 'logits' nodes", graph_path);
  train::Checkpoint c = train::load_checkpoint(ckpt);
  graph::VariableStore vars;
  train::restore_store(*g, vars, c, ckpt);
  graph::Session s(*g, vars);
  data::LoaderOptions lo;
  lo.batch = std::min<int64_t>(500, ds.n);
  lo.shuffle = false;
  lo.drop_last = false;
  lo.scale = scale;
  data::Loader loader(ds, lo);
  loader.seek(0);
  data::Batch b;
  graph::Session::Feeds feeds{{in->output(0), Tensor()}};
  std::vector<graph::Output> fetches{lg->output(0)};
  ClassifierEval r;
  while (loader.next(b)) {
    feeds[0].second = b.images;
    Tensor y = s.run(feeds, fetches)[0];
    const int64_t k = y.dim(1);
    for (int64_t i = 0; i < b.size; ++i) r.predictions.push_back(argmax(y.data<float>() + i * k, k));
  }
  r.examples = (int64_t)r.predictions.size();
  r.accuracy = accuracy_of(r.predictions, ds);
  r.seconds = since(t0);
  return r;
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p) {
  std::vector<nlohmann::json> v;
  std::ifstream f(p);
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

std::string esc(const std::string& s) {
  std::string o;
  for (char ch : s) o += ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '&' ? "&amp;" : std::string(1, ch);
  return o;
}

// A minimal SVG line chart: one polyline per series over x = 1..n (epochs).
struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> pts;
};
std::string line_chart(const std::string& title, const std::string& ylabel, const std::vector<Series>& ss) {
  const double W = 480, H = 280, L = 60, R = 130, T = 30, B = 40;
  double x0 = 1e30, x1 = -1e30, y0 = 1e30, y1 = -1e30;
  for (auto& s : ss)
    for (auto [x, y] : s.pts) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  const double pad = (y1 - y0) * 0.08 + 1e-6;
  y0 -= pad, y1 += pad;
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  std::ostringstream o;
  o << fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
                   "font-size=\"11\">\n<text x=\"{}\" y=\"18\" font-size=\"13\">{}</text>\n",
                   W, H, L, esc(title));
  o << fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#444\"/><line x1=\"{0}\" y1=\"{3}\" "
                   "x2=\"{0}\" y2=\"{1}\" stroke=\"#444\"/>\n",
                   L, H - B, W - R, T);
  for (int i = 0; i <= 4; ++i) {
    const double v = y0 + (y1 - y0) * i / 4;
    o << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.3f}</text><line x1=\"{}\" y1=\"{}\" x2=\"{}\" "
                     "y2=\"{}\" stroke=\"#ddd\"/>\n",
                     L - 4, Y(v) + 4, v, L, Y(v), W - R, Y(v));
  }
  for (int e = (int)std::ceil(x0); e <= (int)std::floor(x1); ++e)
    o << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", X(e), H - B + 14, e);
  o << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">epoch</text>\n", (L + W - R) / 2, H - 6);
  o << fmt::format("<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>\n",
                   (T + H - B) / 2, (T + H - B) / 2, esc(ylabel));
  int li = 0;
  for (auto& s : ss) {
    std::string pts;
    for (auto [x, y] : s.pts) {
      pts += fmt::format("{:.1f},{:.1f} ", X(x), Y(y));
      o << fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", X(x), Y(y), s.color);
    }
    o << fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", s.color, pts);
    o << fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"3\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
                     W - R + 10, T + 10 + 16 * li, s.color, W - R + 26, T + 14 + 16 * li, esc(s.name));
    ++li;
  }
  o << "</svg>\n";
  return o.str();
}

// Horizontal bar chart of accuracies (percent), zoomed to the interesting range.
std::string bar_chart(const std::string& title, const std::vector<std::pair<std::string, double>>& bars) {
  const double W = 560, rowh = 26, L = 190, R = 70, T = 30;
  const double H = T + rowh * bars.size() + 30;
  double lo = 100, hi = 0;
  for (auto& [n, v] : bars) lo = std::min(lo, v), hi = std::max(hi, v);
  lo = std::max(0.0, std::floor(lo - 2.0)), hi = std::min(100.0, std::ceil(hi + 0.5));
  if (hi <= lo) hi = lo + 1;
  auto X = [&](double v) { return L + (v - lo) / (hi - lo) * (W - L - R); };
  std::ostringstream o;
  o << fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
                   "font-size=\"11\">\n<text x=\"10\" y=\"18\" font-size=\"13\">{} (axis from {:.0f}%)</text>\n",
                   W, H, esc(title), lo);
  const char* colors[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"};
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y = T + rowh * i;
    o << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", L - 6, y + 16, esc(bars[i].first));
    o << fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"/>\n", L, y + 4,
                     std::max(1.0, X(bars[i].second) - L), rowh - 8, colors[i % 7]);
    o << fmt::format("<text x=\"{:.1f}\" y=\"{}\">{:.2f}%</text>\n", X(bars[i].second) + 4, y + 16, bars[i].second);
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace

void register_report(CLI::App& app) {
  struct Args {
    std::string run = "runs/demo", data = "fashion-mnist", data_dir;
    int threads = 1;
    int64_t test_limit = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("report", "Write RUN/report.md and RUN/report.html for the main job (scripts/demo)");
  c->add_option("--run", a->run, "the demo's folder (default runs/demo; layout: docs/pipeline.md)");
  c->add_option("--data", a->data, "dataset name: fashion-mnist");
  c->add_option("--data-dir", a->data_dir, "MNIST-format folder");
  c->add_option("--test-limit", a->test_limit, "use the first N test images (default: all)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--threads", a->threads, "threads")->check(CLI::Range(1, 1024));
  c->callback([a] {
    namespace fs = std::filesystem;
    const fs::path dir(a->run);
    if (!fs::is_directory(dir)) fail<UsageError>("report: run folder '{}' not found", a->run);
    set_num_threads(a->threads);
    data::MnistSplits d = load_data_or_usage_error(resolve_data_dir(a->data, a->data_dir));
    data::Dataset test = a->test_limit > 0 ? d.test.head(a->test_limit) : d.test;
    const float scale = 1.0f / 255.0f;

    // Training curves.
    auto fm = read_jsonl(dir / "float" / "metrics.jsonl");
    auto mu = read_jsonl(dir / "qat_uint8" / "metrics.jsonl");
    auto mi = read_jsonl(dir / "qat_int8" / "metrics.jsonl");
    if (fm.empty()) fail<UsageError>("report: {} is missing (run scripts/demo first)", (dir / "float/metrics.jsonl").string());
    const double n_float = (double)fm.size();
    auto curve = [&](const std::vector<nlohmann::json>& m, const char* key, double x_off, const std::string& name,
                     const std::string& color, double mul = 1.0) {
      Series s{name, color, {}};
      for (auto& j : m)
        if (j.contains(key) && j[key].is_number() && j[key].get<double>() >= 0)
          s.pts.push_back({x_off + j["epoch"].get<double>(), mul * j[key].get<double>()});
      return s;
    };
    std::string svg_loss = line_chart("Training loss per epoch (QAT continues the float run)", "train loss",
                                      {curve(fm, "train_loss", 0, "float", "#4c72b0"),
                                       curve(mu, "train_loss", n_float, "QAT uint8", "#dd8452"),
                                       curve(mi, "train_loss", n_float, "QAT int8", "#55a868")});
    std::string svg_acc = line_chart("Test accuracy per epoch (%)", "test accuracy %",
                                     {curve(fm, "test_acc", 0, "float", "#4c72b0", 100),
                                      curve(mu, "test_acc", n_float, "QAT uint8", "#dd8452", 100),
                                      curve(mi, "test_acc", n_float, "QAT int8", "#55a868", 100)});

    // Accuracies measured now on the same test images.
    auto graph_eval = [&](const std::string& run) -> std::optional<ClassifierEval> {
      fs::path r = dir / run;
      if (!fs::exists(r / "graph.json")) return std::nullopt;
      std::printf("report: %s (graph + latest checkpoint) on %lld test images\n", run.c_str(), (long long)test.n);
      std::fflush(stdout);
      return evaluate_graph((r / "graph.json").string(), train::latest_checkpoint(r.string()), test, scale);
    };
    std::map<std::string, ClassifierEval> tfl;
    std::map<std::string, uintmax_t> size;
    std::map<std::string, nlohmann::json> bench;
    const std::vector<std::pair<std::string, std::string>> models = {
        {"float", "float.tflite"}, {"uint8", "uint8.tflite"}, {"int8", "int8.tflite"}, {"ptq_int8", "ptq_int8.tflite"}};
    for (auto& [key, file] : models) {
      fs::path p = dir / file;
      if (!fs::exists(p)) continue;
      size[key] = fs::file_size(p);
      // Predictions written by `qat eval MODEL --predictions` (scripts/demo step 7) are reused
      // when they cover exactly these test images and are newer than the model.
      fs::path pred = dir / "eval" / (key + ".pred");
      ClassifierEval ev;
      if (fs::exists(pred) && fs::last_write_time(pred) >= fs::last_write_time(p)) {
        std::ifstream pf(pred);
        int32_t v;
        while (pf >> v) ev.predictions.push_back(v);
      }
      if ((int64_t)ev.predictions.size() == test.n) {
        std::printf("report: %s: predictions from %s\n", file.c_str(), pred.string().c_str());
        ev.examples = test.n;
        ev.accuracy = accuracy_of(ev.predictions, test);
      } else {
        std::printf("report: %s through the interpreter on %lld test images\n", file.c_str(), (long long)test.n);
        std::fflush(stdout);
        ev = evaluate_tflite(p.string(), test, scale, a->threads);
      }
      tfl[key] = std::move(ev);
      std::ifstream bj(dir / "bench" / (key + ".json"));
      if (bj) {
        try {
          bench[key] = nlohmann::json::parse(bj);
        } catch (const std::exception&) {
        }
      }
    }
    auto gf = graph_eval("float");
    auto gu = graph_eval("qat_uint8");
    auto gi = graph_eval("qat_int8");

    auto pct = [](double v) { return fmt::format("{:.2f}%", 100 * v); };
    auto agree = [](const ClassifierEval& x, const ClassifierEval& y) {
      int64_t same = 0;
      for (size_t i = 0; i < x.predictions.size() && i < y.predictions.size(); ++i) same += x.predictions[i] == y.predictions[i];
      return x.predictions.empty() ? 0.0 : (double)same / (double)x.predictions.size();
    };

    // Rows: name, accuracy, how.
    struct Row {
      std::string name, how;
      double acc;
      std::string size, latency;
    };
    std::vector<Row> rows;
    auto sz = [&](const std::string& k) {
      return size.count(k) ? fmt::format("{:.1f} KiB", size[k] / 1024.0) : std::string("-");
    };
    auto lat = [&](const std::string& k) {
      return bench.count(k) && bench[k].contains("median_ms")
                 ? fmt::format("{:.3f} ms", bench[k]["median_ms"].get<double>())
                 : std::string("-");
    };
    if (gf) rows.push_back({"float (graph)", "float eval graph, qat Session", gf->accuracy, "-", "-"});
    if (tfl.count("float")) rows.push_back({"float .tflite", "interpreter", tfl["float"].accuracy, sz("float"), lat("float")});
    if (gu) rows.push_back({"fake-quant uint8", "QAT eval graph", gu->accuracy, "-", "-"});
    if (gi) rows.push_back({"fake-quant int8", "QAT eval graph (symmetric, per-channel)", gi->accuracy, "-", "-"});
    if (tfl.count("uint8")) rows.push_back({"uint8 .tflite", "interpreter", tfl["uint8"].accuracy, sz("uint8"), lat("uint8")});
    if (tfl.count("int8")) rows.push_back({"int8 .tflite", "interpreter", tfl["int8"].accuracy, sz("int8"), lat("int8")});
    if (tfl.count("ptq_int8"))
      rows.push_back({"PTQ int8 .tflite", "float model + representative data, interpreter", tfl["ptq_int8"].accuracy,
                      sz("ptq_int8"), lat("ptq_int8")});

    // Acceptance (issue 5).
    struct Check {
      std::string what, value;
      bool pass;
    };
    std::vector<Check> checks;
    const double float_acc = gf ? gf->accuracy : tfl.count("float") ? tfl["float"].accuracy : -1;
    if (gi && tfl.count("int8")) {
      const double diff = std::abs(tfl["int8"].accuracy - gi->accuracy) * 100;
      checks.push_back({"int8 interpreter accuracy within 0.1 points of the fake-quant eval graph",
                        fmt::format("{} vs {} ({:.2f} points)", pct(tfl["int8"].accuracy), pct(gi->accuracy), diff),
                        diff <= 0.1 + 1e-9});
      const double ag = agree(tfl["int8"], *gi);
      checks.push_back({"int8 interpreter and fake-quant graph: same top-1 class on >= 99.5% of the images",
                        fmt::format("{:.2f}% ({} images)", 100 * ag, tfl["int8"].predictions.size()), ag >= 0.995});
    }
    if (gu && tfl.count("uint8")) {
      const double ag = agree(tfl["uint8"], *gu);
      checks.push_back({"(extra) uint8 interpreter vs its fake-quant graph: same top-1 class on >= 99.5%",
                        fmt::format("{:.2f}%, accuracy {} vs {}", 100 * ag, pct(tfl["uint8"].accuracy), pct(gu->accuracy)),
                        ag >= 0.995});
    }
    for (const char* k : {"int8", "uint8"}) {
      if (!tfl.count(k) || float_acc < 0) continue;
      const double dlt = (tfl[k].accuracy - float_acc) * 100;
      checks.push_back({fmt::format("{} SmallCNN accuracy >= float - 0.3 points", k),
                        fmt::format("{} vs float {} ({:+.2f} points)", pct(tfl[k].accuracy), pct(float_acc), dlt),
                        dlt >= -0.3 - 1e-9});
    }
    for (const char* k : {"int8", "uint8"}) {
      if (!size.count(k) || !size.count("float")) continue;
      const double ratio = (double)size[k] / (double)size["float"];
      checks.push_back({fmt::format("{} .tflite size <= 0.3x the float .tflite", k),
                        fmt::format("{} / {} bytes = {:.3f}x", size[k], size["float"], ratio), ratio <= 0.3});
    }
    bool all = !checks.empty();
    for (auto& ch : checks) all = all && ch.pass;

    std::vector<std::pair<std::string, double>> bars;
    for (auto& r : rows) bars.push_back({r.name, 100 * r.acc});
    std::string svg_bar = bar_chart("Test accuracy", bars);

    // ---- report.md
    std::ostringstream md;
    md << "# qat main job: SmallCNN on Fashion-MNIST\n\n";
    md << fmt::format("Test images: {}. Folder: `{}`. Written by `qat report` (scripts/demo).\n\n", test.n, a->run);
    md << "| model | accuracy | measured with | .tflite size | latency (median, 1 thread) |\n|---|---|---|---|---|\n";
    for (auto& r : rows) md << fmt::format("| {} | {} | {} | {} | {} |\n", r.name, pct(r.acc), r.how, r.size, r.latency);
    md << "\n## Acceptance\n\n| check | value | result |\n|---|---|---|\n";
    for (auto& ch : checks) md << fmt::format("| {} | {} | **{}** |\n", ch.what, ch.value, ch.pass ? "PASS" : "FAIL");
    md << fmt::format("\nOverall: **{}**\n\n", all ? "PASS" : "FAIL");
    md << "## Training\n\n| run | epoch | train loss | train acc | test acc | images/s | seconds |\n|---|---|---|---|---|---|---|\n";
    for (auto [name, m] : {std::pair{"float", &fm}, std::pair{"QAT uint8", &mu}, std::pair{"QAT int8", &mi}})
      for (auto& j : *m)
        md << fmt::format("| {} | {} | {:.4f} | {:.4f} | {:.4f} | {:.0f} | {:.1f} |\n", name, j.value("epoch", 0),
                          j.value("train_loss", 0.0), j.value("train_acc", 0.0), j.value("test_acc", 0.0),
                          j.value("images_per_s", 0.0), j.value("seconds", 0.0));
    md << "\n![training loss](loss.svg)\n\n![test accuracy](accuracy_curve.svg)\n\n![accuracies](accuracy.svg)\n";
    auto write = [&](const fs::path& p, const std::string& s) {
      std::ofstream f(p, std::ios::binary);
      f << s;
      if (!f) fail<IoError>("report: cannot write {}", p.string());
    };
    write(dir / "report.md", md.str());
    write(dir / "loss.svg", svg_loss);
    write(dir / "accuracy_curve.svg", svg_acc);
    write(dir / "accuracy.svg", svg_bar);

    // ---- report.html (self-contained: the SVGs inline)
    std::ostringstream h;
    h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>qat report</title><style>body{font-family:"
         "sans-serif;max-width:980px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
         "padding:3px 8px;text-align:left}.PASS{color:#080;font-weight:bold}.FAIL{color:#c00;font-weight:bold}"
         "</style></head><body>\n<h1>qat main job: SmallCNN on Fashion-MNIST</h1>\n";
    h << fmt::format("<p>Test images: {}. Folder: <code>{}</code>.</p>\n", test.n, esc(a->run));
    h << "<table><tr><th>model</th><th>accuracy</th><th>measured with</th><th>.tflite size</th><th>latency (median, "
         "1 thread)</th></tr>\n";
    for (auto& r : rows)
      h << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", esc(r.name), pct(r.acc),
                       esc(r.how), r.size, r.latency);
    h << "</table>\n<h2>Acceptance</h2>\n<table><tr><th>check</th><th>value</th><th>result</th></tr>\n";
    for (auto& ch : checks)
      h << fmt::format("<tr><td>{0}</td><td>{1}</td><td class=\"{2}\">{2}</td></tr>\n", esc(ch.what), esc(ch.value),
                       ch.pass ? "PASS" : "FAIL");
    h << fmt::format("</table><p>Overall: <span class=\"{0}\">{0}</span></p>\n<h2>Plots</h2>\n", all ? "PASS" : "FAIL");
    h << svg_bar << "<br>\n" << svg_loss << svg_acc << "</body></html>\n";
    write(dir / "report.html", h.str());

    // Short summary on stdout.
    std::printf("\n%-20s %9s %12s %12s\n", "model", "accuracy", "size", "latency");
    for (auto& r : rows) std::printf("%-20s %9s %12s %12s\n", r.name.c_str(), pct(r.acc).c_str(), r.size.c_str(), r.latency.c_str());
    for (auto& ch : checks) std::printf("%s  %s: %s\n", ch.pass ? "PASS" : "FAIL", ch.what.c_str(), ch.value.c_str());
    std::printf("wrote %s and %s\n", (dir / "report.md").string().c_str(), (dir / "report.html").string().c_str());
  });
}

}  // namespace qat::cli
