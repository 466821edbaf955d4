// Reading a SentencePiece-style HF tokenizer.json: the BPE merge ranks become SentencePiece scores,
// so squish's SpmTokenizer (llama.cpp's algorithm, the one the GGUF path runs) merges in the same
// order as `tokenizers`' BPE would.
#include "tokenizer_hf_spm.h"

#include <cctype>

#include "squish/common/error.h"

namespace squish {

namespace {

using nlohmann::json;

const std::string kSpace = "\xe2\x96\x81";  // U+2581

bool is_string_pattern(const json& p, const std::string& s) {
  return p.is_object() && p.contains("String") && p["String"] == s;
}

bool is_replace_space(const json& n) {
  return n.is_object() && n.value("type", "") == "Replace" && is_string_pattern(n.value("pattern", json()), " ") &&
         n.value("content", "") == kSpace;
}

bool is_prepend_space(const json& n) {
  return n.is_object() && n.value("type", "") == "Prepend" && n.value("prepend", "") == kSpace;
}

bool is_byte_token(const std::string& t) {
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && std::isxdigit(static_cast<unsigned char>(t[3])) &&
         std::isxdigit(static_cast<unsigned char>(t[4])) && t[5] == '>';
}

}  // namespace

bool check_hf_spm_pipeline(const std::string& path, const json& j) {
  const json norm = j.value("normalizer", json());
  bool prefix = false;
  if (is_replace_space(norm)) {
    prefix = false;
  } else if (norm.is_object() && norm.value("type", "") == "Sequence") {
    const json list = norm.value("normalizers", json::array());
    if (list.size() == 1 && is_replace_space(list[0])) {
      prefix = false;
    } else if (list.size() == 2 && is_prepend_space(list[0]) && is_replace_space(list[1])) {
      prefix = true;
    } else {
      throw Error(path, "byte_fallback BPE with an unsupported normalizer Sequence " + norm.dump());
    }
  } else {
    throw Error(path, "byte_fallback BPE needs the normalizer Replace \" \" -> U+2581, not " + norm.dump());
  }
  const json pre = j.value("pre_tokenizer", json());
  const bool split_space = pre.is_object() && pre.value("type", "") == "Split" &&
                           is_string_pattern(pre.value("pattern", json()), " ") && !pre.value("invert", false);
  if (!pre.is_null() && !split_space)
    throw Error(path, "byte_fallback BPE with pre_tokenizer " + pre.value("type", std::string("?")) +
                          " is not supported");
  if (j["model"].value("ignore_merges", false)) throw Error(path, "byte_fallback BPE with ignore_merges is not supported");
  return prefix;
}

void set_hf_spm_vocab(const std::string& path, const json& model, Vocab& v) {
  const int32_t n = v.size();
  std::vector<uint8_t> scored(n, 0);
  int64_t rank = 0;
  std::string joined;
  for (const json& m : model.at("merges")) {
    std::string l, r;
    if (m.is_array() && m.size() == 2) {
      l = m[0].get<std::string>();
      r = m[1].get<std::string>();
    } else if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) throw Error(path, "malformed entry in model.merges: " + s);
      l = s.substr(0, sp);
      r = s.substr(sp + 1);
    } else {
      throw Error(path, "malformed entry in model.merges");
    }
    joined = l + r;
    const int32_t id = v.find(joined);
    if (id < 0 || v.find(l) < 0 || v.find(r) < 0)
      throw Error(path, "merge '" + l + " " + r + "' uses or makes a token not in the vocabulary");
    if (!scored[id]) {
      v.score[id] = -static_cast<float>(rank);
      scored[id] = 1;
    }
    ++rank;
  }
  if (rank + n >= (int64_t{1} << 24)) throw Error(path, "too many merges (" + std::to_string(rank) + ")");
  for (int32_t id = 0; id < n; ++id) {
    if (!scored[id]) v.score[id] = -static_cast<float>(rank + id);  // made by no merge: last
    if (v.attr[id] == kAttrNormal && is_byte_token(v.text[id])) v.attr[id] = kAttrByte;
  }
  const json unk = model.value("unk_token", json());
  if (unk.is_string()) v.unk = v.find(unk.get<std::string>());
}

}  // namespace squish
