// SafeTensors checkpoints: one file, or shards listed by model.safetensors.index.json.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "squish/common/error.h"
#include "squish/io/safetensors.h"

namespace squish {

namespace fs = std::filesystem;

namespace {

// Index files are small; refuse anything absurd before reading it into memory.
constexpr uintmax_t kMaxIndexBytes = 256ull << 20;

nlohmann::json read_index_json(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(path, "cannot open: " + ec.message());
  if (size > kMaxIndexBytes) throw Error(path, "index file is absurdly large");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    throw Error(path, "not valid JSON: " + what);
  }
}

// A shard name from an index must stay inside the index's directory.
bool safe_shard_name(const std::string& name) {
  if (name.empty() || name[0] == '/') return false;
  for (const auto& part : fs::path(name))
    if (part == "..") return false;
  return true;
}

}  // namespace

SafeTensorsSet SafeTensorsSet::open(const std::string& path) {
  SafeTensorsSet set;
  set.path_ = path;
  std::error_code ec;
  std::string file = path;
  if (fs::is_directory(path, ec)) {
    const fs::path dir(path);
    if (fs::exists(dir / "model.safetensors.index.json")) {
      file = (dir / "model.safetensors.index.json").string();
    } else if (fs::exists(dir / "model.safetensors")) {
      file = (dir / "model.safetensors").string();
    } else {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".safetensors") found.push_back(e.path().string());
      if (found.empty()) throw Error(path, "no .safetensors file in the directory");
      if (found.size() > 1)
        throw Error(path, std::to_string(found.size()) +
                              " .safetensors files but no model.safetensors.index.json");
      file = found[0];
    }
  }

  if (file.size() >= 5 && file.compare(file.size() - 5, 5, ".json") == 0) {
    set.index_path_ = file;
    set.path_ = file;
    const nlohmann::json index = read_index_json(file);
    if (!index.is_object()) throw Error(file, "index is not a JSON object");
    const auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object() || wm->empty())
      throw Error(file, "index has no \"weight_map\" object");
    if (const auto md = index.find("metadata"); md != index.end() && md->is_object())
      for (auto it = md->begin(); it != md->end(); ++it)
        set.metadata_[it.key()] = it.value().is_string() ? it.value().get<std::string>()
                                                          : it.value().dump();
    // Shards in order of their names (HF names them -0000i-of-0000n).
    std::vector<std::string> shard_names;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string())
        throw Error(file, "weight_map entry of '" + it.key() + "' is not a file name");
      const std::string shard = it.value().get<std::string>();
      if (!safe_shard_name(shard))
        throw Error(file, "weight_map names a shard outside the directory: '" + shard + "'");
      shard_names.push_back(shard);
    }
    std::sort(shard_names.begin(), shard_names.end());
    shard_names.erase(std::unique(shard_names.begin(), shard_names.end()), shard_names.end());
    const fs::path dir = fs::path(file).parent_path();
    std::unordered_map<std::string, const SafeTensorsFile*> by_shard;
    for (const auto& shard : shard_names) {
      const std::string shard_path = (dir / shard).string();
      if (!fs::exists(shard_path, ec))
        throw Error(shard_path, "missing shard (listed in " + fs::path(file).filename().string() + ")");
      set.files_.push_back(std::make_shared<SafeTensorsFile>(shard_path));
      by_shard[shard] = set.files_.back().get();
    }
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      const SafeTensorsFile* f = by_shard.at(it.value().get<std::string>());
      if (!f->find(it.key()))
        throw Error(f->path(), "tensor '" + it.key() + "' listed in the index is not in this shard");
    }
  } else {
    set.files_.push_back(std::make_shared<SafeTensorsFile>(file));
    set.metadata_ = set.files_[0]->metadata();
  }

  for (const auto& f : set.files_) {
    for (const auto& t : f->tensors()) {
      const auto [it, inserted] = set.by_name_.emplace(t.name, &t);
      if (!inserted)
        throw Error(f->path(), "tensor '" + t.name + "' also appears in " + it->second->file);
      set.order_.push_back(&t);
    }
  }
  return set;
}

const SafeTensor* SafeTensorsSet::find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const SafeTensor& SafeTensorsSet::tensor(const std::string& name) const {
  const SafeTensor* t = find(name);
  if (!t) throw Error(path_, "missing tensor " + name);
  return *t;
}

uint64_t SafeTensorsSet::total_bytes() const {
  uint64_t n = 0;
  for (const auto* t : order_) n += t->nbytes;
  return n;
}

}  // namespace squish
