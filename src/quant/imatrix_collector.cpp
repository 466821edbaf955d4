#include "squish/quant/imatrix_collector.h"

#include <algorithm>
#include <span>
#include <vector>

#include "squish/common/error.h"
#include "squish/model/model.h"

namespace squish {

ImportanceMatrix collect_imatrix(const std::shared_ptr<const Model>& model, const std::string& text,
                                 const ImatrixOptions& opt, const std::string& source) {
  if (opt.n_ctx < 16) throw Error(source, "context size must be at least 16 tokens");
  const Tokenizer& tok = model->tokenizer();
  std::vector<int32_t> tokens = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
  const int64_t n_tok = static_cast<int64_t>(tokens.size());
  if (n_tok < opt.n_ctx)
    throw Error(source, "the text tokenizes to " + std::to_string(n_tok) +
                            " tokens, fewer than one chunk of " + std::to_string(opt.n_ctx));
  const int64_t n_max = n_tok / opt.n_ctx;
  const int64_t n_chunk = opt.max_chunks < 0 ? n_max : std::min(opt.max_chunks, n_max);
  const int32_t bos = tok.add_bos() ? tok.bos_id() : -1;

  ImportanceMatrix m;
  m.chunk_size = static_cast<uint32_t>(opt.n_ctx);
  if (!opt.dataset.empty()) m.datasets.push_back(opt.dataset);
  Session session(model, opt.n_ctx);
  session.set_observer([&](const LinearInput& in) {
    const bool block = in.tensor.rfind("blk.", 0) == 0;
    if (!block && !(opt.process_output && in.tensor == "output.weight")) return;
    // Experts: every batch, per expert (llama.cpp's MUL_MAT_ID inputs).
    if (in.expert >= 0) return m.accumulate_expert(in.tensor, in.expert, in.n_experts, in.data, in.n_tokens, in.n_cols);
    // llama.cpp ignores batches of fewer than 16 tokens.
    if (in.n_tokens < 16) return;
    m.accumulate(in.tensor, in.data, in.n_tokens, in.n_cols);
  });
  const int64_t n_batch = std::max<int64_t>(16, std::min(opt.n_batch, opt.n_ctx));
  for (int64_t c = 0; c < n_chunk; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * opt.n_ctx, tokens.begin() + (c + 1) * opt.n_ctx);
    if (bos >= 0) chunk[0] = bos;
    session.reset();
    for (int64_t b = 0; b < opt.n_ctx; b += n_batch) {
      const int64_t n = std::min(n_batch, opt.n_ctx - b);
      session.eval(std::span<const int32_t>(chunk.data() + b, static_cast<size_t>(n)), false);
    }
    m.chunk_count = static_cast<uint32_t>(c + 1);
    if (opt.on_chunk) opt.on_chunk(c + 1, n_chunk);
  }
  return m;
}

}  // namespace squish
