// `squish generate MODEL --prompt P`: streams a continuation (or, with --chat, an assistant reply).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/model/chat_template.h"
#include "squish/model/model.h"
#include "squish/model/sampler.h"

namespace squish::cli {
namespace {

struct GenerateArgs {
  WeightArgs weights{"f32"};  // --weights, --convert
  std::string kv_cache = "f32";  // --kv-cache-dtype
  std::string model;
  std::string prompt;
  std::string system;
  int64_t max_tokens = 128;
  float temp = 0.f;
  int32_t top_k = 0;
  float top_p = 1.f;
  uint64_t seed = 0;
  bool chat = false;
  bool timings = false;
  int threads = 0;
  std::string logits_out;  // --logits-out: the prompt's tokens and logits at every position
};

// Writes {"tokens": [...], "logits": [[n_vocab floats] per prompt position]} to path.
void write_prompt_logits(const std::string& path, const std::vector<int32_t>& tokens,
                         const std::vector<float>& logits) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Error(path, "cannot open for writing");
  const size_t n_vocab = logits.size() / tokens.size();
  std::fputs("{\"tokens\": [", f);
  for (size_t i = 0; i < tokens.size(); ++i) std::fprintf(f, "%s%d", i ? ", " : "", tokens[i]);
  std::fputs("], \"logits\": [", f);
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::fputs(t ? ", [" : "[", f);
    for (size_t v = 0; v < n_vocab; ++v) std::fprintf(f, "%s%.9g", v ? ", " : "", logits[t * n_vocab + v]);
    std::fputc(']', f);
  }
  std::fputs("]}\n", f);
  if (std::fclose(f) != 0) throw Error(path, "write failed");
}

void run_generate(const GenerateArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  Sampler sampler({a.temp, a.top_k, a.top_p, a.seed});
  using clock = std::chrono::steady_clock;
  const auto t_load = clock::now();
  std::shared_ptr<const Model> model = Model::load(a.model, a.weights.options());
  const Tokenizer& tok = model->tokenizer();

  std::string text = a.prompt;
  if (a.chat) {
    const ChatTemplate tmpl =
        ChatTemplate::recognise(model->chat_template(), arch_name(model->config().arch), a.model);
    std::vector<ChatMessage> messages;
    if (!a.system.empty()) messages.push_back({"system", a.system});
    messages.push_back({"user", a.prompt});
    text = tmpl.apply(messages, /*add_generation_prompt=*/true);
  } else if (!a.system.empty()) {
    throw Error("", "--system needs --chat");
  }
  const std::vector<int32_t> prompt = tok.encode(text, /*add_special=*/true, /*parse_special=*/true);
  if (prompt.empty()) throw Error("", "the prompt encodes to no tokens");
  Session session(model, static_cast<int64_t>(prompt.size()) + a.max_tokens, parse_kv_cache_type(a.kv_cache));

  const auto t0 = clock::now();
  std::vector<float> logits;
  if (!a.logits_out.empty()) {
    logits = session.eval(prompt, /*all_logits=*/true);
    write_prompt_logits(a.logits_out, prompt, logits);
    logits.erase(logits.begin(), logits.end() - static_cast<std::ptrdiff_t>(logits.size() / prompt.size()));
  } else {
    logits = session.eval(prompt);
  }
  const auto t1 = clock::now();
  int64_t generated = 0;
  for (; generated < a.max_tokens; ++generated) {
    const int32_t id = sampler.sample(logits);
    if (tok.is_end_of_generation(id)) break;
    if (!tok.is_special(id)) {
      const std::string piece = tok.token_to_piece(id);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    if (generated + 1 < a.max_tokens) logits = session.eval(std::vector<int32_t>{id});
  }
  const auto t2 = clock::now();
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (a.timings) {
    const double load = std::chrono::duration<double>(t0 - t_load).count();
    const double pp = std::chrono::duration<double>(t1 - t0).count();
    const double tg = std::chrono::duration<double>(t2 - t1).count();
    const int64_t decoded = generated > 0 ? generated - (generated == a.max_tokens ? 1 : 0) : 0;
    std::fprintf(stderr,
                 "load %.2f s | prompt %zu tokens %.2f s (%.1f tokens/s) | generated %lld tokens, "
                 "%lld decode steps %.2f s (%.1f tokens/s) | %d threads\n",
                 load, prompt.size(), pp, prompt.size() / pp, static_cast<long long>(generated),
                 static_cast<long long>(decoded), tg, decoded > 0 ? decoded / tg : 0.0,
                 num_threads());
  }
}

CommandRegistrar reg(40, [](CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt, streamed to stdout");
  add_model_argument(cmd, args->model, "GGUF file or HF model directory");
  add_weights_option(cmd, args->weights);
  add_kv_cache_option(cmd, args->kv_cache);
  cmd->add_option("-p,--prompt", args->prompt, "Prompt text")->required();
  cmd->add_option("-n,--max-tokens,--n-predict", args->max_tokens, "Maximum tokens to generate (--n-predict: llama.cpp's spelling)")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--temp", args->temp, "Sampling temperature (0: greedy)")
      ->capture_default_str()->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", args->top_k, "Keep only the K most likely tokens (0: all)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--top-p", args->top_p, "Nucleus sampling threshold")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", args->seed, "Random seed for sampling")->capture_default_str();
  cmd->add_flag("--chat", args->chat, "Wrap the prompt in the model's chat template");
  cmd->add_option("--system", args->system, "System message (with --chat)");
  add_threads_option(cmd, args->threads);
  cmd->add_flag("--timings", args->timings, "Print load / prompt / decode speed on stderr");
  cmd->add_option("--logits-out", args->logits_out,
                  "Write the prompt's token ids and logits at every position to this JSON file");
  cmd->callback([args] { run_generate(*args); });
});

}  // namespace
}  // namespace squish::cli
