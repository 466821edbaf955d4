// run_calibration(): embed → for each layer (statistics pass, quantize, propagation pass, save).
#include "squish/quant/calibration_engine.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "squish/common/atomic_file.h"
#include "squish/common/error.h"
#include "squish/common/progress.h"
#include "squish/model/layer_pass.h"
#include "squish/model/weights.h"
#include "squish/quant/activation_store.h"

namespace squish {

namespace fs = std::filesystem;

namespace {

// Every tensor of a layer, for copying.
std::vector<Weight*> layer_tensors(LayerWeights& l) {
  std::vector<Weight*> out;
  for (LayerTensor k : kLayerTensors)
    if (Weight* w = l.find(k)) out.push_back(w);
  return out;
}

// An F32 copy of a layer (packed GGUF rows dequantized).
LayerWeights f32_layer(const LayerWeights& src) {
  LayerWeights out = src;
  for (Weight* w : layer_tensors(out)) {
    if (!w->is_packed()) continue;
    std::vector<float> v(static_cast<size_t>(w->rows() * w->cols()));
    for (int64_t r = 0; r < w->rows(); ++r) w->row_f32(r, v.data() + r * w->cols());
    w->data = std::move(v);
    w->packed = nullptr;
    w->panels = nullptr;  // a repacked copy would still run the original values
    w->type = GGMLType::F32;
  }
  return out;
}

std::string layer_file(const std::string& dir, int64_t il) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "layer-%04lld.bin", static_cast<long long>(il));
  return (fs::path(dir) / buf).string();
}

struct State {
  std::string fingerprint;
  int64_t layers_done = 0;
  std::string acts;  // file holding the activations after layers_done layers
};

State read_state(const std::string& dir) {
  const std::string p = (fs::path(dir) / "state.json").string();
  std::ifstream f(p);
  if (!f) throw Error(dir, "no resumable state here (state.json missing); run without --resume");
  try {
    const auto j = nlohmann::json::parse(f);
    return {j.at("fingerprint").get<std::string>(), j.at("layers_done").get<int64_t>(),
            j.at("acts").get<std::string>()};
  } catch (const std::exception& e) {
    throw Error(p, std::string("damaged state file: ") + e.what());
  }
}

void write_state(const std::string& dir, const State& s) {
  nlohmann::json j{{"fingerprint", s.fingerprint}, {"layers_done", s.layers_done}, {"acts", s.acts}};
  write_file_atomic((fs::path(dir) / "state.json").string(), j.dump(2), true);
}

std::string fingerprint_of(const Model& model, const LayerQuantizer& q, const CalibrationSpec& c,
                           int64_t n_samples) {
  std::error_code ec;
  const auto size = fs::is_regular_file(model.path(), ec) ? fs::file_size(model.path(), ec) : 0;
  return model.path() + "|" + std::to_string(size) + "|" + q.fingerprint() + "|" + c.path + "|" +
         std::to_string(n_samples) + "x" + std::to_string(c.seq_len) + "|seed " + std::to_string(c.seed);
}

}  // namespace

uint64_t peak_rss_bytes() {
  // VmHWM belongs to this address space; ru_maxrss would also count the parent's RSS at fork,
  // since Linux keeps it across execve.
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // value in kB
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

uint64_t parse_byte_size(const std::string& text, const std::string& what) {
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(text, &pos);
  } catch (...) {
    throw Error(what, "'" + text + "' is not a size (e.g. 512M, 2G)");
  }
  std::string unit = text.substr(pos);
  for (char& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  double mul = 1;
  if (unit == "" || unit == "B") mul = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB") mul = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB") mul = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB") mul = 1024.0 * 1024 * 1024;
  else throw Error(what, "'" + text + "' has an unknown unit (use K, M or G)");
  if (!(v > 0) || !std::isfinite(v)) throw Error(what, "'" + text + "' must be a positive size");
  return static_cast<uint64_t>(v * mul);
}

EngineReport run_calibration(const std::shared_ptr<const Model>& model, LayerQuantizer& quantizer,
                             const EngineOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig& c = model->config();
  const ModelWeights& W = model->weights();
  if (has_fused_tensors(arch_spec(c.arch)))  // q, k, v (gate, up) would share one quantized tensor
    throw Error(model->path(), std::string("calibrated quantization of ") + arch_name(c.arch) +
                                   "'s fused attn_qkv / ffn_up is not supported (use a GGUF type, with --imatrix)");
  if (c.is_moe())  // the experts would need per-expert statistics of the tokens routed to them
    throw Error(model->path(), std::string("calibrated quantization (gptq, awq, smoothquant, SafeTensors schemes) of a "
                                           "mixture of experts (") + arch_spec(c.arch).hf_architecture +
                                   ") is not implemented (use a GGUF type with --method rtn)");
  const auto samples = calibration_samples(model->tokenizer(), opt.calib);
  // A quantizer that needs no activations (plain rounding) gets its layers without any forward pass.
  const int64_t ns = quantizer.stats_options().propagate ? static_cast<int64_t>(samples.size()) : 0;
  const int64_t len = opt.calib.seq_len, E = c.n_embd;

  EngineReport rep;
  rep.n_samples = ns, rep.seq_len = len;
  rep.activation_bytes = static_cast<uint64_t>(ns * len * E) * sizeof(float);
  // Activations spill when they would take more than half of the budget (the rest: one layer's
  // weights, statistics and scratch).
  rep.spilled = opt.max_memory > 0 && rep.activation_bytes > opt.max_memory / 2;

  // The state directory: created fresh, or taken over on --resume when it belongs to this run.
  const bool own_tmp = opt.state_dir.empty();
  if (own_tmp && !opt.gather_results) throw Error("", "results left in layer files need a state directory");
  const std::string dir = own_tmp ? (fs::temp_directory_path() / ("squish-calib-" + std::to_string(::getpid()))).string()
                                  : opt.state_dir;
  const std::string fp = fingerprint_of(*model, quantizer, opt.calib, ns);
  State st{fp, 0, ""};
  std::error_code ec;
  if (opt.resume) {
    st = read_state(dir);
    if (st.fingerprint != fp)
      throw Error(dir, "the saved state is of a different run (model, settings or calibration); remove it or run without --resume");
    // The fingerprint matches, but the file is still input: range and name are checked before use.
    if (st.layers_done < 0 || st.layers_done > c.n_layer ||
        (st.layers_done > 0 && st.acts != "acts.bin" && st.acts != "acts-a.bin" && st.acts != "acts-b.bin"))
      throw Error((fs::path(dir) / "state.json").string(), "damaged state file: layers_done " +
                      std::to_string(st.layers_done) + " or acts '" + st.acts + "' out of range");
  } else {
    // Emptied rather than removed: the caller may hold a DirLock on this very directory.
    fs::create_directories(dir, ec);
    if (ec) throw Error(dir, "cannot create the state directory: " + ec.message());
    for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
    if (ec) throw Error(dir, "cannot empty the state directory: " + ec.message());
  }
  struct Cleanup {
    std::string dir;
    bool on;
    ~Cleanup() {
      std::error_code e;
      if (on) fs::remove_all(dir, e);
    }
  } cleanup{dir, own_tmp};

  // Two activation files when spilled (read one, write the other: the finished one is always
  // intact); one RAM buffer updated in place plus a snapshot file otherwise.
  const std::string fa = (fs::path(dir) / "acts-a.bin").string(), fb = (fs::path(dir) / "acts-b.bin").string();
  std::unique_ptr<ActivationStore> cur, next;
  if (rep.spilled) {
    const bool a_is_cur = !opt.resume || st.acts != fb;
    cur = std::make_unique<ActivationStore>(ns, len, E, a_is_cur ? fa : fb);
    next = std::make_unique<ActivationStore>(ns, len, E, a_is_cur ? fb : fa);
    cur->keep_file(), next->keep_file();
  } else {
    cur = std::make_unique<ActivationStore>(ns, len, E);
  }
  LayerPass pass(c, len);
  std::vector<float> buf(static_cast<size_t>(len * E));
  if (st.layers_done > 0) {
    cur->load((fs::path(dir) / st.acts).string());
    rep.resumed_layers = st.layers_done;
  } else {
    for (int64_t s = 0; s < ns; ++s) {
      pass.embed(W.token_embd, samples[static_cast<size_t>(s)], buf.data());
      cur->write(s, buf.data());
    }
  }

  const bool observe = quantizer.stats_options().observe;
  const int64_t passes = observe ? 2 : 1, per_layer = std::max<int64_t>(passes * ns, 1);
  Progress bar("calibrate layers", opt.progress ? c.n_layer * per_layer : 0);
  bar.set(st.layers_done * per_layer);
  const char* kill_after = std::getenv("SQUISH_TEST_KILL_AFTER_LAYER");  // tests: die like kill -9
  for (int64_t il = st.layers_done; il < c.n_layer; ++il) {
    LayerWeights L = f32_layer(W.layers[static_cast<size_t>(il)]);
    LayerStatsOptions so = quantizer.stats_options();
    so.total_tokens = ns * len;
    LayerStats stats(so);
    const LinearObserver obs = stats.observer();
    for (int64_t s = 0; s < ns && observe; ++s) {  // statistics on the inputs the quantized layers before produce
      cur->read(s, buf.data());
      pass.run(L, il, buf.data(), len, &obs);
      bar.add();
    }
    LayerResult r = quantizer.quantize(il, L, stats);
    if (ns == 0) bar.add();
    ActivationStore& out = next ? *next : *cur;
    float k_max = 0, v_max = 0;
    for (int64_t s = 0; s < ns; ++s) {  // the next layer's inputs, through the quantized layer
      cur->read(s, buf.data());
      pass.run(L, il, buf.data(), len, nullptr);
      float km = 0, vm = 0;  // what the quantized model caches: the KV-cache scales' statistics
      pass.kv_absmax(len, &km, &vm);
      k_max = std::max(k_max, km), v_max = std::max(v_max, vm);
      out.write(s, buf.data());
      bar.add();
    }
    r.kv_absmax[L.attn_k.name] = k_max;
    r.kv_absmax[L.attn_v.name] = v_max;
    if (next) std::swap(cur, next);
    r.save(layer_file(dir, il));
    st.acts = rep.spilled ? fs::path(cur->file()).filename().string() : "acts.bin";
    cur->save((fs::path(dir) / st.acts).string());
    st.layers_done = il + 1;
    write_state(dir, st);
    if (kill_after && std::atoll(kill_after) == il + 1) std::raise(SIGKILL);
  }
  bar.finish();
  // Results stay on disk until every layer is done, so calibration memory does not grow with depth.
  rep.peak_rss = peak_rss_bytes();
  for (int64_t il = 0; il < c.n_layer; ++il) rep.layer_files.push_back(layer_file(dir, il));
  if (opt.gather_results) {
    for (const std::string& f : rep.layer_files) rep.result.merge(LayerResult::load(f));
    rep.n_matrices = rep.result.matrices.size(), rep.n_blocks = rep.result.blocks.size();
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace squish
