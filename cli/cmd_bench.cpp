// `squish bench MODEL`: prompt-processing and generation speed (llama-bench's pp/tg definitions).
#include <cstdio>
#include <memory>
#include <string>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "command.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/eval/throughput.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"

namespace squish::cli {
namespace {

std::string fmt1(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
std::string fmt2(double a, double b) { return fmt1(a) + " / " + fmt1(b); }

struct BenchArgs {
  WeightArgs weights{"quantized"};  // --weights, --convert
  std::string kv_cache = "f32";  // --kv-cache-dtype
  std::string model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int threads = 0;
  int reps = 5;
  bool json = false;
  bool roofline = true;
  std::vector<int64_t> batches;  // --batch: batched-decoding sweep
};

// Peak resident set size of this process so far, in bytes.
double peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) * 1024.0;
}

void run_bench(const BenchArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  std::shared_ptr<const Model> model = Model::load(a.model, a.weights.options());
  SpeedOptions opts;
  opts.n_prompt = a.n_prompt;
  opts.n_gen = a.n_gen;
  opts.reps = a.reps;
  opts.kv_type = parse_kv_cache_type(a.kv_cache);
  std::vector<SpeedTest> tests = measure_speed(model, opts);
  for (int64_t b : a.batches) {
    if (b < 1 || b > 1024) throw Error("--batch " + std::to_string(b), "batch sizes must be 1..1024");
    tests.push_back(measure_batched_decode(model, b, opts));
  }
  // Bytes a decoding step reads: every weight except the embedding table (one row per token)
  // unless it doubles as the output projection.
  const ModelWeights& w = model->weights();
  const double model_bytes = static_cast<double>(w.bytes());
  const double step_bytes = model_bytes - (w.output.empty() ? 0.0 : static_cast<double>(w.token_embd.bytes()));
  const ModelConfig& c = model->config();
  const KVCacheType kv = parse_kv_cache_type(a.kv_cache);
  const double kv_per_token = static_cast<double>(c.n_layer * c.n_head_kv) *
                              static_cast<double>(kv_row_bytes(kv, c.head_dim_k) + kv_row_bytes(kv, c.head_dim_v));
  const double rss = peak_rss_bytes();  // before the bandwidth probe's buffer
  const ReadBandwidth probe = a.roofline ? measure_read_bandwidth() : ReadBandwidth{};
  const double machine_bw = probe.bytes_per_second;
  auto achieved = [&](const SpeedTest& t) {
    return t.name.rfind("tg", 0) == 0 ? step_bytes * t.tokens_per_second / static_cast<double>(t.batch) : 0.0;
  };
  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"threads", num_threads()}, {"reps", a.reps},
                        {"weights", a.weights.describe()}, {"model_bytes", model_bytes},
                        {"decode_bytes_per_token", step_bytes}, {"peak_rss_bytes", rss},
                        {"machine_read_bandwidth", machine_bw}, {"kv_cache_dtype", kv_cache_type_name(kv)},
                        {"kv_cache_bytes_per_token", kv_per_token}};
    if (a.roofline) {
      nlohmann::json pats = nlohmann::json::array();
      for (const BandwidthPattern& p : probe.patterns)
        pats.push_back({{"streams_per_thread", p.streams_per_thread}, {"bytes_per_second", p.bytes_per_second}});
      j["read_bandwidth_streams_per_thread"] = probe.streams_per_thread;
      j["read_bandwidth_patterns"] = pats;
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const SpeedTest& t : tests) {
      nlohmann::json e = {{"test", t.name}, {"n_tokens", t.n_tokens}, {"tokens_per_second", t.tokens_per_second},
                          {"stddev", t.stddev}, {"seconds", t.seconds}, {"batch", t.batch}};
      if (t.name.rfind("pp", 0) == 0) {
        double mean = 0;
        for (double s : t.seconds) mean += s / t.seconds.size();
        e["time_to_first_token_ms"] = 1e3 * mean;
      } else {
        e["latency_p50_ms"] = t.latency_p50_ms;
        e["latency_p95_ms"] = t.latency_p95_ms;
        e["achieved_bandwidth"] = achieved(t);
        if (machine_bw > 0) e["roofline_share"] = achieved(t) / machine_bw;
      }
      arr.push_back(e);
    }
    j["tests"] = arr;
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("model %s: %.1f MiB of weights (%s), %.1f MiB read per decoded token; peak RSS %.1f MiB\n",
              a.model.c_str(), model_bytes / 1048576.0, a.weights.describe().c_str(), step_bytes / 1048576.0,
              rss / 1048576.0);
  std::printf("KV cache %s: %.1f KiB per token (%.1f MiB at 4096 tokens)\n", kv_cache_type_name(kv).c_str(),
              kv_per_token / 1024.0, kv_per_token * 4096 / 1048576.0);
  if (machine_bw > 0) {
    std::printf("machine read bandwidth: %.1f GB/s (best of", machine_bw / 1e9);
    for (const BandwidthPattern& p : probe.patterns)
      std::printf(" %d: %.1f", p.streams_per_thread, p.bytes_per_second / 1e9);
    std::printf(" GB/s at 1/2/4/8 streams per thread; %d won)\n", probe.streams_per_thread);
  }
  std::printf("\n| threads | test | t/s | latency p50 / p95 (ms) | GB/s | roofline |\n"
              "|---:|---:|---:|---:|---:|---:|\n");
  for (const SpeedTest& t : tests) {
    const bool tg = t.name.rfind("tg", 0) == 0;
    double mean = 0;
    for (double s : t.seconds) mean += s / t.seconds.size();
    std::printf("| %d | %s | %.2f ± %.2f | %s | %s | %s |\n", num_threads(), t.name.c_str(),
                t.tokens_per_second, t.stddev,
                !tg ? ("TTFT " + fmt1(1e3 * mean)).c_str()
                    : t.batch > 1 ? "" : fmt2(t.latency_p50_ms, t.latency_p95_ms).c_str(),
                tg ? fmt1(achieved(t) / 1e9).c_str() : "",
                tg && machine_bw > 0 ? (fmt1(100.0 * achieved(t) / machine_bw) + "%").c_str() : "");
  }
}

CommandRegistrar reg(80, [](CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Prompt-processing (pp) and generation (tg) tokens/s, as llama-bench");
  add_model_argument(cmd, args->model, "GGUF file or HF model directory");
  add_weights_option(cmd, args->weights);
  add_kv_cache_option(cmd, args->kv_cache);
  cmd->add_option("-p,--n-prompt", args->n_prompt, "Prompt tokens evaluated in one batch (0: skip)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-n,--n-gen", args->n_gen, "Tokens generated one at a time (0: skip)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 20));
  add_threads_option(cmd, args->threads);
  cmd->add_option("-r,--reps", args->reps, "Timed repetitions per test")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_option("--batch", args->batches, "Also decode this many sequences together (comma list: 1,2,4,8,16,32)")
      ->delimiter(',');
  cmd->add_flag("!--no-roofline", args->roofline, "Skip measuring the machine's read bandwidth");
  cmd->callback([args] { run_bench(*args); });
});

}  // namespace
}  // namespace squish::cli
