// Calibration windows from text or JSONL.
#include "squish/quant/calibration_data.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "squish/common/error.h"
#include "squish/model/tokenizer.h"

namespace squish {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string read_calibration_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open the calibration file");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (ends_with(path, ".jsonl")) {
    std::string joined, line;
    std::istringstream lines(text);
    for (int64_t n = 1; std::getline(lines, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      try {
        joined += nlohmann::json::parse(line).at("text").get<std::string>() + "\n\n";
      } catch (const std::exception& e) {
        throw Error(path, fmt::format("line {}: expected a JSON object with a \"text\" string", n));
      }
    }
    text = std::move(joined);
  }
  return text;
}

// Token windows given verbatim (one sample of token ids per line): the first n_samples lines, the
// first seq_len ids of each, nothing added — so another tool can be fed exactly the same samples.
std::vector<std::vector<int32_t>> token_id_samples(const Tokenizer& tok, const CalibrationSpec& s) {
  std::ifstream in(s.path);
  if (!in) throw Error(s.path, "cannot open the calibration file");
  std::vector<std::vector<int32_t>> out;
  std::string line;
  for (int64_t n = 1; static_cast<int64_t>(out.size()) < s.n_samples && std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream ids(line);
    std::vector<int32_t> sample;
    long long id = 0;
    while (static_cast<int64_t>(sample.size()) < s.seq_len && ids >> id) {
      if (id < 0 || id >= tok.vocab_size())
        throw Error(s.path, fmt::format("line {}: token id {} is outside the vocabulary ({})", n, id, tok.vocab_size()));
      sample.push_back(static_cast<int32_t>(id));
    }
    if (static_cast<int64_t>(sample.size()) < s.seq_len)
      throw Error(s.path, fmt::format("line {}: {} token ids; a sample needs {}", n, sample.size(), s.seq_len));
    out.push_back(std::move(sample));
  }
  if (static_cast<int64_t>(out.size()) < s.n_samples)
    throw Error(s.path, fmt::format("{} samples of token ids; {} asked for", out.size(), s.n_samples));
  return out;
}

}  // namespace

std::vector<std::vector<int32_t>> calibration_samples(const Tokenizer& tok, const CalibrationSpec& s) {
  const std::string name = std::filesystem::path(s.path).filename().string();
  if (name.find("wikitext") != std::string::npos)
    throw Error(s.path, "this is evaluation text; calibrating on it would bias every later "
                        "evaluation (use e.g. ../shared/data/calibration-mix.txt)");
  if (s.n_samples < 1 || s.seq_len < 2)
    throw Error(s.path, "need at least 1 sample of at least 2 tokens");
  if (ends_with(s.path, ".ids")) return token_id_samples(tok, s);
  const std::string text = read_calibration_text(s.path);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw Error(s.path, "the calibration text is empty");
  const std::vector<int32_t> tokens = tok.encode(text, /*add_special=*/false, /*parse_special=*/false);
  const bool bos = tok.add_bos() && tok.bos_id() >= 0;
  const int64_t body = s.seq_len - (bos ? 1 : 0);
  if (static_cast<int64_t>(tokens.size()) < body)
    throw Error(s.path, fmt::format("the calibration text has {} tokens; a sample needs {}",
                                    tokens.size(), body));
  std::mt19937_64 rng(s.seed);
  std::uniform_int_distribution<int64_t> start(0, static_cast<int64_t>(tokens.size()) - body);
  std::vector<std::vector<int32_t>> out;
  for (int64_t i = 0; i < s.n_samples; ++i) {
    std::vector<int32_t> sample;
    if (bos) sample.push_back(tok.bos_id());
    const int64_t p = start(rng);
    sample.insert(sample.end(), tokens.begin() + p, tokens.begin() + p + body);
    out.push_back(std::move(sample));
  }
  return out;
}

}  // namespace squish
