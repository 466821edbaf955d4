// `squish compare`: the quantization matrix, its cache, the table and the charts.
#include "squish/eval/compare.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "squish/common/atomic_file.h"
#include "squish/common/error.h"
#include "squish/common/progress.h"
#include "squish/eval/chart.h"
#include "squish/eval/evaluate.h"
#include "squish/export/gguf_quantize.h"
#include "squish/export/model_source.h"
#include "squish/model/model.h"
#include "squish/quant/calibration_data.h"
#include "squish/quant/file_type.h"
#include "squish/export/calibrated_export.h"
#include "compare_matrix.h"

namespace squish {

namespace fs = std::filesystem;

namespace {

// 64-bit content hash of a file (8-byte words, multiply-xorshift mixing; not cryptographic).
uint64_t hash_file(const fs::path& path, uint64_t h) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string(), "cannot read");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, buf.data() + i, 8);
      h = (h ^ w) * 0x9E3779B97F4A7C15ull;
      h ^= h >> 29;
    }
    for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 0x100000001B3ull;
    h ^= n;
  }
  return h;
}

// Content hash of the input (a file, or every file of an HF directory in name order).
uint64_t hash_input(const std::string& path) {
  uint64_t h = 0xCBF29CE484222325ull;
  if (!fs::is_directory(path)) return hash_file(path, h);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(path))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    for (char c : f.filename().string()) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
    h = hash_file(f, h);
  }
  return h;
}

// Cache directory name of the input: its stem and content hash (a changed file is a new entry).
std::string input_key(const std::string& path) {
  return fmt::format("{}-{:016x}", fs::path(path).stem().string(), hash_input(path));
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
  if (fs::is_directory(path)) {  // a checkpoint: its tensor files (not tokenizer and config files)
    row.bytes = 0;
    for (const auto& e : fs::directory_iterator(path))
      if (e.is_regular_file() && e.path().extension() == ".safetensors") row.bytes += e.file_size();
  }
  row.bpw = r.n_params > 0 ? 8.0 * row.bytes / r.n_params : 0;
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

// Quantizes one configuration into qpath (a GGUF file or a checkpoint directory).
void produce(const CompareConfig& c, const ModelSource& source, const std::string& model_path,
             const std::string& qpath, const CompareOptions& o) {
  EngineOptions e;
  e.calib = o.calib;
  e.progress = o.progress;
  if (c.checkpoint) {
    CheckpointOptions co;
    co.out_dir = qpath;
    co.format = c.format;
    write_calibrated_checkpoint(model_path, c.recipe, co, e, /*measure=*/false);
    return;
  }
  QuantizeOptions qo;
  qo.ftype = c.ftype;
  if (c.method == "gptq") {  // the layer-by-layer engine: GPTQ inside the blocks
    qo.gptq_damp = o.gptq_damp;
    quantize_calibrated_gguf(model_path, qpath, qo, e);
  } else {
    quantize_to_gguf(source, qpath, qo);
  }
}

Chart kld_chart(const CompareReport& rep) {
  Chart c;
  c.title = "KL divergence vs size";
  c.x_label = "file size (MiB)";
  c.y_label = "mean KLD vs the input model (nats, log scale)";
  c.log_y = true;
  ChartSeries all, front;
  all.name = "configurations";
  front.name = "Pareto front";
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
  ChartSeries s;
  s.name = "quantized";
  for (size_t i = 1; i < rep.rows.size(); ++i) {
    s.x.push_back(rep.rows[i].bpw);
    s.y.push_back(rep.rows[i].ppl);
    s.labels.push_back(rep.rows[i].config);
  }
  ChartSeries ref;
  ref.name = "input model";
  ref.color = 0x2ca02c;
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

nlohmann::json CompareReport::rows_json() const {
  nlohmann::json all = nlohmann::json::array();
  for (const CompareRow& r : rows) all.push_back(r.to_json());
  return all;
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
  for (const CompareRow& r : rows)
    if (r.config.ends_with("]")) {
      s += "\nRows \"SCHEME/gN METHOD [format]\": SafeTensors checkpoints (ct = compressed-tensors, as vLLM "
           "loads them; gptq / awq = AutoGPTQ / AutoAWQ layouts) written by the layer-by-layer engine from "
           "calibration text (never the evaluation text), then loaded back by squish as a user's runtime "
           "would. Their size counts the .safetensors files (unquantized tensors in bfloat16); a GGUF "
           "row's size is the whole file.\n";
      break;
    }
  if (!skipped.empty()) {
    s += "\nLeft out of the matrix:\n";
    for (const std::string& k : skipped) s += "- " + k + "\n";
  }
  for (const CompareRow& r : rows)
    if (r.config.ends_with(" gptq")) {
      s += "\n\"gptq\" rows: GPTQ (calibration text, never the evaluation text) decides the rounding "
           "inside the blocks of every decoder linear, layer by layer on the quantized layers' outputs; "
           "embeddings and output are rounded as usual.\n";
      break;
    }
  return s;
}

CompareReport run_compare(const std::string& model_path, const CompareOptions& o) {
  if (!fs::exists(model_path)) throw Error(model_path, "no such file or directory");
  const CompareMatrix matrix = expand_compare_matrix(model_path, o);
  const bool any_calibrated = std::any_of(matrix.configs.begin(), matrix.configs.end(),
                                          [](const CompareConfig& c) { return c.calibrated(); });
  if (any_calibrated) {  // calibration text checked before any long work
    LoadOptions lo;
    lo.keep_quantized = true;
    calibration_samples(Model::load(model_path, lo)->tokenizer(), o.calib);
  }
  // "seq": files of the layer-by-layer engine (earlier caches hold one-pass statistics).
  const std::string calib_tag =
      any_calibrated ? fmt::format("seq-s{}x{}-seed{}-d{}-{:08x}", o.calib.n_samples, o.calib.seq_len, o.calib.seed,
                                   o.gptq_damp, hash_input(o.calib.path) & 0xffffffffu)
                     : "";
  const std::string cache = (fs::path(o.cache_dir) / input_key(model_path)).string();
  fs::create_directories(cache);
  fs::create_directories(o.out_dir);
  const std::string tag = fmt::format("ctx{}-c{}-{:08x}", o.n_ctx, o.chunks,
                                      hash_input(o.text_path) & 0xffffffffu);
  const std::string base_logits = cache + "/base-" + tag + ".sqlogits";

  CompareReport rep;
  rep.model_path = model_path;
  rep.skipped = matrix.skipped;
  for (const std::string& s : matrix.skipped) std::fprintf(stderr, "squish: compare: skipped %s\n", s.c_str());
  const std::string base_json = cache + "/base-" + tag + ".json";
  auto base = fs::exists(base_logits) ? read_cached(base_json) : std::nullopt;
  if (!base) {
    base = measure("input", model_path, base_logits, /*save_base=*/true, o);
    write_file_atomic(base_json, base->to_json().dump(1), true);
  }
  rep.rows.push_back(*base);

  const auto source = open_model_source(model_path);
  for (const CompareConfig& c : matrix.configs) {
    const std::string stem = c.calibrated() ? c.stem + "-" + calib_tag : c.stem;
    const std::string qpath = cache + "/" + stem + (c.checkpoint ? "" : ".gguf");
    const std::string result_json = cache + "/" + stem + "-" + tag + ".json";
    auto row = fs::exists(qpath) ? read_cached(result_json) : std::nullopt;
    if (!row) {
      if (!fs::exists(qpath)) produce(c, *source, model_path, qpath, o);
      row = measure(c.name, qpath, base_logits, /*save_base=*/false, o);
      write_file_atomic(result_json, row->to_json().dump(1), true);
    }
    rep.rows.push_back(*row);
  }

  const std::string out = o.out_dir + "/";
  write_file_atomic(out + "results.json", rep.rows_json().dump(1), o.overwrite);
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
