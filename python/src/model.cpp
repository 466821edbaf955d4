// squish._squish.Model: a loaded model with generation, perplexity, logits and the tokenizer.
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings.h"
#include "squish/common/error.h"
#include "squish/eval/perplexity.h"
#include "squish/model/chat_template.h"
#include "squish/model/kv_cache_type.h"
#include "squish/model/model.h"
#include "squish/model/sampler.h"
#include "squish/model/tokenizer.h"

namespace squish::python {
namespace {

// A model as Python holds it: the weights and the KV-cache type its sessions use.
struct PyModel {
  std::shared_ptr<const Model> model;
  KVCacheType kv_type;
  std::string path;
};

// One generation in progress: the CLI's `generate` loop, one token per next().
class TokenStream {
 public:
  TokenStream(std::shared_ptr<const Model> model, KVCacheType kv, std::vector<int32_t> prompt,
              int64_t max_tokens, SamplerParams params)
      : model_(model), session_(model, static_cast<int64_t>(prompt.size()) + max_tokens, kv),
        sampler_(params), prompt_(std::move(prompt)), max_tokens_(max_tokens) {}

  // The next token's text, or nullopt at the end (end-of-generation token or max_tokens).
  // Special tokens other than the end yield "" (the CLI prints nothing for them).
  std::optional<std::string> next() {
    if (done_) return std::nullopt;
    if (generated_ >= max_tokens_) return finish();
    if (generated_ == 0) logits_ = session_.eval(prompt_);
    else logits_ = session_.eval(std::vector<int32_t>{last_});
    last_ = sampler_.sample(logits_);
    const Tokenizer& tok = model_->tokenizer();
    if (tok.is_end_of_generation(last_)) return finish();
    ++generated_;
    return tok.is_special(last_) ? std::string() : tok.token_to_piece(last_);
  }
  // The ids generated so far (the end token excluded).
  int64_t n_generated() const { return generated_; }
  // The prompt's token ids.
  const std::vector<int32_t>& prompt() const { return prompt_; }

 private:
  std::optional<std::string> finish() {
    done_ = true;
    return std::nullopt;
  }
  std::shared_ptr<const Model> model_;
  Session session_;
  Sampler sampler_;
  std::vector<int32_t> prompt_;
  std::vector<float> logits_;
  int64_t max_tokens_, generated_ = 0;
  int32_t last_ = -1;
  bool done_ = false;
};

LoadOptions load_options(const std::string& weights, const std::string& convert, float threshold) {
  if (weights != "quantized" && weights != "f32")
    throw Error("weights=" + weights, "unknown weights mode (valid: quantized, f32)");
  LoadOptions o;
  o.keep_quantized = weights == "quantized";
  o.convert = parse_conversion(convert);
  o.llm_int8_threshold = threshold;
  return o;
}

std::vector<int32_t> encode_prompt(const PyModel& m, const std::string& prompt, bool chat,
                                   const std::string& system) {
  std::string text = prompt;
  if (chat) {
    const ChatTemplate tmpl = ChatTemplate::recognise(m.model->chat_template(),
                                                      arch_name(m.model->config().arch), m.path);
    std::vector<ChatMessage> messages;
    if (!system.empty()) messages.push_back({"system", system});
    messages.push_back({"user", prompt});
    text = tmpl.apply(messages, /*add_generation_prompt=*/true);
  } else if (!system.empty()) {
    throw Error("", "system needs chat=True");
  }
  std::vector<int32_t> ids = m.model->tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/true);
  if (ids.empty()) throw Error("", "the prompt encodes to no tokens");
  return ids;
}

nb::dict perplexity_dict(const PyModel& m, const std::string& text, int64_t ctx, int64_t chunks,
                         int64_t batch, const std::string& source, nb::object progress) {
  PerplexityOptions opts;
  opts.n_ctx = ctx;
  opts.n_batch = batch;
  opts.max_chunks = chunks;
  opts.kv_type = m.kv_type;
  SignalCheckingProgress check(std::move(progress));
  opts.on_chunk = [&](int64_t chunk, int64_t n_chunks, double) { check.poll("perplexity", chunk, n_chunks); };
  PerplexityResult r;
  {
    nb::gil_scoped_release nogil;
    r = perplexity(m.model, text, opts, source);
  }
  // The keys and values of `squish perplexity --json`.
  nb::dict d;
  d["model"] = m.path;
  d["file"] = source;
  d["ppl"] = r.ppl;
  d["stderr"] = r.ppl_stderr;
  d["n_ctx"] = r.n_ctx;
  d["chunks"] = r.n_chunks;
  d["n_tokens"] = r.n_scored;
  d["n_text_tokens"] = r.n_text_tokens;
  d["running_ppl"] = r.running_ppl;
  d["seconds"] = r.seconds;
  return d;
}

using Logits = nb::ndarray<nb::numpy, float, nb::ndim<2>>;

Logits logits_of(const PyModel& m, const std::vector<int32_t>& tokens) {
  if (tokens.empty()) throw Error("logits", "no tokens");
  const int64_t n_vocab = m.model->config().n_vocab;
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab)
      throw Error("logits", "token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                std::to_string(n_vocab - 1) + ")");
  auto* out = new std::vector<float>();
  nb::capsule owner(out, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  {
    nb::gil_scoped_release nogil;
    Session s(m.model, static_cast<int64_t>(tokens.size()), m.kv_type);
    *out = s.eval(tokens, /*all_logits=*/true);
  }
  return Logits(out->data(), {tokens.size(), static_cast<size_t>(n_vocab)}, owner);
}

}  // namespace

void bind_model(nb::module_& m) {
  nb::class_<TokenStream>(m, "TokenStream", "An ongoing generation: iterate for the tokens' text.")
      .def("__iter__", [](nb::handle self) { return self; })
      .def("__next__",
           [](TokenStream& s) {
             std::optional<std::string> piece;
             {
               nb::gil_scoped_release nogil;
               piece = s.next();
             }
             if (!piece) throw nb::stop_iteration();
             return nb::bytes(piece->data(), piece->size());
           })
      .def_prop_ro("n_generated", &TokenStream::n_generated, "Tokens generated so far.")
      .def_prop_ro("prompt_tokens", &TokenStream::prompt, "The prompt's token ids.");

  nb::class_<PyModel>(m, "Model", "A loaded model (GGUF file or HF directory).")
      .def(
          "__init__",
          [](PyModel* self, const std::string& path, const std::string& weights, const std::string& kv,
             const std::string& convert, float threshold) {
            const LoadOptions o = load_options(weights, convert, threshold);
            const KVCacheType kv_type = parse_kv_cache_type(kv);
            std::shared_ptr<const Model> model;
            {
              nb::gil_scoped_release nogil;
              model = Model::load(path, o);
            }
            new (self) PyModel{std::move(model), kv_type, path};
          },
          nb::arg("path"), nb::arg("weights") = "quantized", nb::arg("kv_cache_dtype") = "f16",
          nb::arg("convert") = "none", nb::arg("llm_int8_threshold") = 6.0f)
      .def_prop_ro("path", [](const PyModel& m) { return m.path; })
      .def_prop_ro("n_vocab", [](const PyModel& m) { return m.model->config().n_vocab; })
      .def_prop_ro("kv_cache_dtype", [](const PyModel& m) { return kv_cache_type_name(m.kv_type); })
      .def(
          "generate",
          [](const PyModel& m, const std::string& prompt, int64_t max_tokens, float temperature,
             int32_t top_k, float top_p, uint64_t seed, bool chat, const std::string& system) {
            if (max_tokens < 0) throw Error("max_tokens=" + std::to_string(max_tokens), "must be >= 0");
            if (temperature < 0) throw Error("temperature", "must be >= 0");
            if (top_p < 0 || top_p > 1) throw Error("top_p", "must be in [0, 1]");
            return new TokenStream(m.model, m.kv_type, encode_prompt(m, prompt, chat, system), max_tokens,
                                   SamplerParams{temperature, top_k, top_p, seed});
          },
          nb::arg("prompt"), nb::arg("max_tokens") = 128, nb::arg("temperature") = 0.0f, nb::arg("top_k") = 0,
          nb::arg("top_p") = 1.0f, nb::arg("seed") = 0, nb::arg("chat") = false, nb::arg("system") = "")
      .def("perplexity", &perplexity_dict, nb::arg("text"), nb::arg("ctx") = 512, nb::arg("chunks") = -1,
           nb::arg("batch") = 512, nb::arg("source") = "<text>", nb::arg("progress") = nb::none())
      .def("logits", &logits_of, nb::arg("tokens"))
      .def(
          "tokenize",
          [](const PyModel& m, const std::string& text, bool add_special, bool parse_special) {
            return m.model->tokenizer().encode(text, add_special, parse_special);
          },
          nb::arg("text"), nb::arg("add_special") = true, nb::arg("parse_special") = false)
      .def(
          "detokenize",
          [](const PyModel& m, const std::vector<int32_t>& ids, bool skip_special) {
            const int64_t n_vocab = m.model->config().n_vocab;
            for (int32_t t : ids)
              if (t < 0 || t >= n_vocab)
                throw Error("detokenize", "token id " + std::to_string(t) + " is outside the vocabulary");
            const std::string s = m.model->tokenizer().decode(ids, skip_special);
            return nb::bytes(s.data(), s.size());
          },
          nb::arg("ids"), nb::arg("skip_special") = false);
}

}  // namespace squish::python
