// Errors that carry the file they are about, so every failure prints as one line naming it.
#pragma once
#include <stdexcept>
#include <string>

namespace squish {

// An error about a named file (or input): what() reads "<file>: <problem>".
class Error : public std::runtime_error {
 public:
  Error(const std::string& file, const std::string& problem)
      : std::runtime_error(file.empty() ? problem : file + ": " + problem),
        file_(file), problem_(problem) {}
  // The file or input the error is about (may be empty).
  const std::string& file() const { return file_; }
  // The problem without the file prefix.
  const std::string& problem() const { return problem_; }

 private:
  std::string file_;
  std::string problem_;
};

// Throws squish::Error(file, problem) when cond is false.
inline void check(bool cond, const std::string& file, const std::string& problem) {
  if (!cond) throw Error(file, problem);
}

}  // namespace squish
