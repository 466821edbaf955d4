// squish tokenize MODEL (--text STR | --file F) [--no-special] [--parse-special] [--ids-only|--json]
// Prints the token ids (and pieces) of a text, using the tokenizer of a GGUF file or an HF
// tokenizer.json (a file, or a model directory holding one).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "command.h"
#include "squish/common/error.h"
#include "squish/io/gguf_reader.h"
#include "squish/model/tokenizer.h"

namespace squish::cli {

namespace {

struct TokenizeOptions {
  std::string model, text, file;
  bool no_special = false, parse_special = false, ids_only = false, json = false;
};

bool is_gguf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(model, ec)) {
    const fs::path json = fs::path(model) / "tokenizer.json";
    if (!fs::exists(json)) throw Error(model, "directory has no tokenizer.json");
    return Tokenizer::from_hf_json(json.string());
  }
  if (!fs::exists(model, ec)) throw Error(model, "no such file");
  if (is_gguf(model)) {
    GGUFFile f(model);
    return Tokenizer::from_gguf(f);
  }
  return Tokenizer::from_hf_json(model);
}

// Piece with control characters and backslashes escaped, for the one-token-per-line listing.
std::string escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

void run_tokenize(const TokenizeOptions& o) {
  std::string text = o.text;
  if (!o.file.empty()) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) throw Error(o.file, "cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const std::unique_ptr<Tokenizer> tok = load_tokenizer(o.model);
  const std::vector<int32_t> ids = tok->encode(text, !o.no_special, o.parse_special);
  std::string out;
  if (o.json) {
    nlohmann::json j;
    j["n_tokens"] = ids.size();
    j["ids"] = ids;
    nlohmann::json pieces = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(tok->token_to_piece(id));
    j["pieces"] = pieces;
    out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else if (o.ids_only) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out.push_back(' ');
      out += std::to_string(ids[i]);
    }
    out.push_back('\n');
  } else {
    for (int32_t id : ids) out += std::to_string(id) + "\t" + escape(tok->token_to_piece(id)) + "\n";
    out += "# " + std::to_string(ids.size()) + " tokens\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

const CommandRegistrar kRegister(60, [](CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids (and pieces) of a text");
  add_model_argument(cmd, opts->model, "GGUF file, tokenizer.json, or HF model directory");
  auto* text = cmd->add_option("-p,--prompt,--text", opts->text, "Text to tokenize (--text: earlier spelling)");
  auto* file = add_text_file_option(cmd, opts->file, "File whose bytes to tokenize");
  text->excludes(file);
  cmd->add_flag("--no-special", opts->no_special, "Do not add BOS/EOS");
  cmd->add_flag("--parse-special", opts->parse_special, "Recognise special-token text such as <|im_start|>");
  auto* ids_only = cmd->add_flag("--ids-only", opts->ids_only, "Print only the ids, on one line");
  auto* json = cmd->add_flag("--json", opts->json, "Print JSON: ids and pieces");
  ids_only->excludes(json);
  cmd->callback([opts, text, file]() {
    if (text->count() == 0 && file->count() == 0) throw CLI::RequiredError("--text or --file");
    run_tokenize(*opts);
  });
});

}  // namespace

}  // namespace squish::cli
