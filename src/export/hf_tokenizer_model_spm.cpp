// SentencePiece's ModelProto, hand-encoded (protobuf wire format): pieces (1) = {piece (1),
// score (2), type (3)}, trainer_spec (2) = {model_type (3) = BPE, byte_fallback (35), unk/bos/eos/
// pad ids (40..43)}, normalizer_spec (3) = {name (1), add_dummy_prefix (3),
// remove_extra_whitespaces (4), escape_whitespaces (5)}.
#include "hf_tokenizer_model_spm.h"

#include <cstdint>
#include <cstring>

namespace squish {

namespace {

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void tag(std::string& out, uint32_t field, uint32_t wire) { varint(out, (uint64_t{field} << 3) | wire); }

void int_field(std::string& out, uint32_t field, int64_t v) {
  tag(out, field, 0);
  varint(out, static_cast<uint64_t>(v));  // negative int32: sign-extended, ten bytes
}

void bytes_field(std::string& out, uint32_t field, const std::string& s) {
  tag(out, field, 2);
  varint(out, s.size());
  out += s;
}

}  // namespace

std::optional<std::string> spm_model_proto(const ModelSource& src) {
  const GGUFValue* model = src.find("tokenizer.ggml.model");
  const GGUFValue* tokens = src.find("tokenizer.ggml.tokens");
  if (!model || model->as_string() != "llama" || !tokens) return std::nullopt;
  const GGUFValue* scores = src.find("tokenizer.ggml.scores");
  const GGUFValue* types = src.find("tokenizer.ggml.token_type");
  const auto& toks = tokens->as_array().items;
  const size_t n = toks.size();
  auto id = [&](const char* key, int64_t def) {
    const GGUFValue* v = src.find(key);
    const int64_t x = v ? v->as_int() : def;
    return x >= 0 && static_cast<size_t>(x) < n ? x : -1;
  };
  auto flag = [&](const char* key, bool def) {
    const GGUFValue* v = src.find(key);
    return v ? v->as_bool() : def;
  };
  std::string out, piece;
  for (size_t i = 0; i < n; ++i) {
    piece.clear();
    bytes_field(piece, 1, toks[i].as_string());
    const float s = scores && scores->as_array().items.size() > i ? static_cast<float>(scores->as_array().items[i].as_double()) : 0.f;
    tag(piece, 2, 5);
    char f[4];
    std::memcpy(f, &s, 4);  // little-endian hosts only, as the GGUF reader
    piece.append(f, 4);
    const int64_t t = types && types->as_array().items.size() > i ? types->as_array().items[i].as_int() : 1;
    int_field(piece, 3, t >= 1 && t <= 6 ? t : 1);
    bytes_field(out, 1, piece);
  }
  std::string trainer;
  int_field(trainer, 3, 2);  // BPE
  int_field(trainer, 35, 1);
  int_field(trainer, 40, id("tokenizer.ggml.unknown_token_id", 0));
  int_field(trainer, 41, id("tokenizer.ggml.bos_token_id", 1));
  int_field(trainer, 42, id("tokenizer.ggml.eos_token_id", 2));
  int_field(trainer, 43, id("tokenizer.ggml.padding_token_id", -1));
  bytes_field(out, 2, trainer);
  std::string norm;
  bytes_field(norm, 1, "identity");
  int_field(norm, 3, flag("tokenizer.ggml.add_space_prefix", true) ? 1 : 0);
  int_field(norm, 4, 0);
  int_field(norm, 5, 1);
  bytes_field(out, 3, norm);
  return out;
}

}  // namespace squish
