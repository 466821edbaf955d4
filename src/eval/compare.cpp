// `squish compare`: the quantization matrix, its cache, the table and the charts.
#include "squish/eval/compare.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "squish/common/atomic_file.h"
#include "squish/common/error.h"
#include "squish/eval/chart.h"
#include "squish/eval/evaluate.h"
#include "squish/export/gguf_quantize.h"
#include "squish/export/model_source.h"
#include "squish/model/model.h"
#include "squish/quant/file_type.h"

namespace squish {

namespace fs = std::filesystem;

namespace {

// Identity of the input for the cache: path, size and modification time.
std::string input_key(const std::string& path) {
  std::error_code ec;
  const auto size = fs::is_directory(path, ec) ? 0 : fs::file_size(path, ec);
  const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
  const std::string id = fs::absolute(path).string() + "|" + std::to_string(size) + "|" + std::to_string(mtime);
  return fmt::format("{}-{:016x}", fs::path(path).stem().string(), std::hash<std::string>{}(id));
}

CompareRow measure(const std::string& config, const std::string& path, const std::string& base_logits,
                   bool save_base, const CompareOptions& o) {
  const std::shared_ptr<const Model> model = Model::load(path);
  EvalOptions eo;
  eo.text_path = o.text_path;
  eo.n_ctx = o.n_ctx;
  eo.max_chunks = o.chunks;
  eo.progress = o.progress;
  (save_base ? eo.save_base_logits : eo.base_logits) = base_logits;
  eo.overwrite = true;
  const EvalReport r = evaluate(model, eo);
  CompareRow row;
  row.config = config;
  row.path = path;
  row.bytes = r.model_bytes;
  row.bpw = r.n_params > 0 ? 8.0 * r.model_bytes / r.n_params : 0;
  row.ppl = r.perplexity.ppl;
  row.ppl_stderr = r.perplexity.ppl_stderr;
  if (r.kld) {
    row.kld = r.kld->kld_mean.value;
    row.kld_stderr = r.kld->kld_mean.error;
    row.same_top = r.kld->same_top.value;
  }
  row.tokens_per_second = r.tokens_per_second;
  return row;
}

std::optional<CompareRow> read_cached(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    CompareRow row = CompareRow::from_json(nlohmann::json::parse(in));
    row.cached = true;
    return row;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged cache entry is measured again
  }
}

Chart kld_chart(const CompareReport& rep) {
  Chart c;
  c.title = "KL divergence vs size";
  c.x_label = "file size (MiB)";
  c.y_label = "mean KLD vs the input model (nats, log scale)";
  c.log_y = true;
  ChartSeries all{.name = "configurations"}, front{.name = "Pareto front"};
  front.line = true;
  front.markers = false;
  front.color = 0xd62728;
  std::vector<double> xs, ys;
  for (size_t i = 1; i < rep.rows.size(); ++i) {
    const CompareRow& r = rep.rows[i];
    const double kld = std::max(r.kld, 1e-6);  // log axis
    all.x.push_back(r.bytes / 1048576.0);
    all.y.push_back(kld);
    all.labels.push_back(r.config);
  }
  for (size_t i : pareto_front(all.x, all.y)) {
    front.x.push_back(all.x[i]);
    front.y.push_back(all.y[i]);
  }
  c.series = {all, front};
  return c;
}

Chart ppl_chart(const CompareReport& rep) {
  Chart c;
  c.title = "Perplexity vs bits per weight";
  c.x_label = "bits per weight (file)";
  c.y_label = "wikitext-2 perplexity";
  ChartSeries s{.name = "quantized", .line = false};
  for (size_t i = 1; i < rep.rows.size(); ++i) {
    s.x.push_back(rep.rows[i].bpw);
    s.y.push_back(rep.rows[i].ppl);
    s.labels.push_back(rep.rows[i].config);
  }
  ChartSeries ref{.name = "input model", .color = 0x2ca02c};
  ref.x = {rep.rows[0].bpw};
  ref.y = {rep.rows[0].ppl};
  ref.labels = {"input"};
  c.series = {s, ref};
  return c;
}

}  // namespace

nlohmann::json CompareRow::to_json() const {
  return {{"config", config}, {"path", path}, {"bytes", bytes}, {"bpw", bpw}, {"ppl", ppl},
          {"ppl_stderr", ppl_stderr}, {"kld", kld}, {"kld_stderr", kld_stderr},
          {"same_top", same_top}, {"tokens_per_second", tokens_per_second}};
}

CompareRow CompareRow::from_json(const nlohmann::json& j) {
  CompareRow r;
  r.config = j.at("config");
  r.path = j.at("path");
  r.bytes = j.at("bytes");
  r.bpw = j.at("bpw");
  r.ppl = j.at("ppl");
  r.ppl_stderr = j.at("ppl_stderr");
  r.kld = j.at("kld");
  r.kld_stderr = j.at("kld_stderr");
  r.same_top = j.at("same_top");
  r.tokens_per_second = j.at("tokens_per_second");
  return r;
}

std::string CompareReport::to_markdown() const {
  std::string s = fmt::format("# squish compare: {}\n\n", model_path);
  s += "| config | size (MiB) | bpw | PPL | ΔPPL | mean KLD | top-1 same | tokens/s |\n";
  s += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  const double ref = rows.empty() ? 0 : rows[0].ppl;
  for (const CompareRow& r : rows)
    s += fmt::format("| {} | {:.2f} | {:.3f} | {:.4f} ± {:.4f} | {:+.4f} | {:.6f} | {:.2f}% | {:.1f} |\n",
                     r.config, r.bytes / 1048576.0, r.bpw, r.ppl, r.ppl_stderr, r.ppl - ref, r.kld,
                     100 * r.same_top, r.tokens_per_second);
  s += "\nReference: the input model itself (its weights dequantized to F32). KLD and top-1 are "
       "measured against it on the same text and positions. A model that ships quantized (e.g. "
       "Q4_1 or Q4_K_M) re-quantized onto the same 32-element grid loses almost nothing: that "
       "proves little about a method. Configurations on a different grid (Q3_K, Q2_K, the k-quant "
       "super-blocks of 256, Q8_0 of a 4-bit input) are the informative ones.\n";
  return s;
}

CompareReport run_compare(const std::string& model_path, const CompareOptions& o) {
  std::vector<FileType> types;
  for (const std::string& t : o.types) {
    const auto f = parse_file_type(t);
    if (!f) {
      std::string hint;
      for (const std::string& s : suggest_file_types(t)) hint += (hint.empty() ? "" : ", ") + s;
      throw Error(t, "unknown quantization type (did you mean " + hint + "?)");
    }
    types.push_back(*f);
  }
  if (types.empty()) throw Error(model_path, "no configurations to compare");
  if (!fs::exists(model_path)) throw Error(model_path, "no such file or directory");
  const std::string cache = (fs::path(o.cache_dir) / input_key(model_path)).string();
  fs::create_directories(cache);
  fs::create_directories(o.out_dir);
  const std::string tag = fmt::format("ctx{}-c{}-{:08x}", o.n_ctx, o.chunks,
                                      std::hash<std::string>{}(fs::absolute(o.text_path).string()) & 0xffffffffu);
  const std::string base_logits = cache + "/base-" + tag + ".sqlogits";

  CompareReport rep;
  rep.model_path = model_path;
  const std::string base_json = cache + "/base-" + tag + ".json";
  auto base = fs::exists(base_logits) ? read_cached(base_json) : std::nullopt;
  if (!base) {
    base = measure("input", model_path, base_logits, /*save_base=*/true, o);
    write_file_atomic(base_json, base->to_json().dump(1), true);
  }
  rep.rows.push_back(*base);

  const auto source = open_model_source(model_path);
  for (FileType f : types) {
    const std::string name = file_type_name(f);
    const std::string qpath = cache + "/" + name + ".gguf";
    const std::string result_json = cache + "/" + name + "-" + tag + ".json";
    auto row = fs::exists(qpath) ? read_cached(result_json) : std::nullopt;
    if (!row) {
      if (!fs::exists(qpath)) {
        QuantizeOptions qo;
        qo.ftype = f;
        quantize_to_gguf(*source, qpath, qo);
      }
      row = measure(name, qpath, base_logits, /*save_base=*/false, o);
      write_file_atomic(result_json, row->to_json().dump(1), true);
    }
    rep.rows.push_back(*row);
  }

  nlohmann::json all = nlohmann::json::array();
  for (const CompareRow& r : rep.rows) all.push_back(r.to_json());
  const std::string out = o.out_dir + "/";
  write_file_atomic(out + "results.json", all.dump(1), o.overwrite);
  write_file_atomic(out + "report.md", rep.to_markdown(), o.overwrite);
  const Chart k = kld_chart(rep), p = ppl_chart(rep);
  write_file_atomic(out + "kld_vs_size.svg", render_svg(k), o.overwrite);
  write_file_atomic(out + "ppl_vs_bpw.svg", render_svg(p), o.overwrite);
  const auto kp = render_png(k), pp = render_png(p);
  write_file_atomic(out + "kld_vs_size.png", std::string_view(reinterpret_cast<const char*>(kp.data()), kp.size()), o.overwrite);
  write_file_atomic(out + "ppl_vs_bpw.png", std::string_view(reinterpret_cast<const char*>(pp.data()), pp.size()), o.overwrite);
  return rep;
}

}  // namespace squish
