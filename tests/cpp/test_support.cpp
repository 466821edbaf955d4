#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace squish::test {
namespace fs = std::filesystem;

std::string source_dir() { return SQUISH_SOURCE_DIR; }

std::string models_dir() {
  if (const char* e = std::getenv("SQUISH_MODELS")) return e;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/squish/models";
}

std::string python_exe() {
  if (const char* e = std::getenv("SQUISH_PYTHON")) return e;
  std::string venv;
  if (const char* e = std::getenv("SQUISH_VENV")) {
    venv = e;
  } else {
    const char* home = std::getenv("HOME");
    venv = std::string(home ? home : "/root") + "/.cache/squish/venv";
  }
  return std::filesystem::exists(venv + "/bin/python") ? venv + "/bin/python" : "python3";
}

std::string smollm2_path() { return models_dir() + "/SmolLM2-135M-Instruct.Q4_1.gguf"; }
std::string gemma3_path() { return models_dir() + "/gemma-3-270m-q4_k_m.gguf"; }

std::string shared_data(const std::string& name) {
  return source_dir() + "/../shared/data/" + name;
}

namespace {
struct TempRoot {
  std::string path;
  TempRoot() {
    char tmpl[] = "/tmp/squish-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir() {
  static TempRoot root;
  static int counter = 0;
  std::string p = root.path + "/" + std::to_string(counter++);
  fs::create_directories(p);
  return p;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

RunResult run_shell(const std::string& cmd) {
  const std::string dir = temp_dir();
  const std::string out = dir + "/stdout", err = dir + "/stderr";
  const std::string full = "(" + cmd + ") >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(full.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

RunResult run_squish(const std::string& args) {
  return run_shell(std::string("SQUISH_PROGRESS=0 ") + SQUISH_BINARY + " " + args);
}

}  // namespace squish::test
