// Shared helpers for squish's GoogleTest suites: locating models, data and the CLI.
#pragma once
#include <string>

namespace squish::test {

// Repository root.
std::string source_dir();
// Directory holding the default models ($SQUISH_MODELS or ~/.cache/squish/models).
std::string models_dir();
// Python with the oracle packages ($SQUISH_PYTHON, else $SQUISH_VENV/bin/python, else python3).
std::string python_exe();
// Path of the SmolLM2-135M-Instruct Q4_1 GGUF.
std::string smollm2_path();
// Path of the Gemma 3 270M Q4_K_M GGUF.
std::string gemma3_path();
// ../shared/data/<name> relative to the repository.
std::string shared_data(const std::string& name);
// A fresh temporary directory, removed at process exit.
std::string temp_dir();
// Result of running a command.
struct RunResult {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the squish CLI with the given argument string (shell-quoted by the caller).
RunResult run_squish(const std::string& args);
// Runs an arbitrary shell command.
RunResult run_shell(const std::string& cmd);
// Whole file contents.
std::string read_file(const std::string& path);

}  // namespace squish::test
