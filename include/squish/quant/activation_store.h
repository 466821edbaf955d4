// Calibration activations: the residual stream of every calibration sample (n_samples × n_rows ×
// cols floats) held in RAM, or spilled to a scratch file read and written one sample at a time
// (pread/pwrite, so the pages are the kernel's cache, not the process's resident memory).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace squish {

// Fixed-size per-sample float blocks, in memory or in a file.
class ActivationStore {
 public:
  // file empty: in RAM; else the scratch file is created (truncated) at that path and removed
  // when the store is destroyed unless keep_file().
  ActivationStore(int64_t n_samples, int64_t rows_per_sample, int64_t cols, std::string file = "");
  ~ActivationStore();
  ActivationStore(const ActivationStore&) = delete;
  ActivationStore& operator=(const ActivationStore&) = delete;

  // Copies sample s into dst (rows_per_sample × cols floats).
  void read(int64_t s, float* dst) const;
  // Replaces sample s with src.
  void write(int64_t s, const float* src);
  // Writes every sample to `path` atomically (a resume snapshot); a spilled store just syncs.
  void save(const std::string& path) const;
  // Fills the store from a file written by save() (or a spilled store's own file).
  void load(const std::string& path);
  // Leaves the scratch file in place on destruction (it is part of a resumable state).
  void keep_file() { keep_ = true; }

  int64_t n_samples() const { return n_samples_; }
  int64_t sample_floats() const { return rows_ * cols_; }
  // Whether the samples live in the scratch file.
  bool spilled() const { return fd_ >= 0; }
  // Bytes of all samples.
  uint64_t bytes() const { return static_cast<uint64_t>(n_samples_ * rows_ * cols_) * sizeof(float); }
  // The scratch file ("" in RAM).
  const std::string& file() const { return file_; }

 private:
  int64_t n_samples_, rows_, cols_;
  std::string file_;
  int fd_ = -1;
  bool keep_ = false;
  std::vector<float> ram_;
};

}  // namespace squish
