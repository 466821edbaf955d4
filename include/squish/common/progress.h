// A terminal progress bar with rate and ETA, drawn on stderr.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace squish {

// Draws "label [#####.....] 42/100 12.3 it/s ETA 0:05" on stderr, at most ~10 times a second.
// Quiet when stderr is not a terminal unless SQUISH_PROGRESS=1; never when SQUISH_PROGRESS=0.
class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();
  // Advances by n units.
  void add(int64_t n = 1);
  // Sets the absolute position.
  void set(int64_t done);
  // Draws the final state and ends the line.
  void finish();

 private:
  void draw(bool force);
  std::string label_;
  int64_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Sees every progress position (label, done, total) on the thread that advances it; it may throw to
// abandon the work (the Python module raises KeyboardInterrupt this way), which unwinds as any error.
using ProgressObserver = std::function<void(const std::string& label, int64_t done, int64_t total)>;

// Installs the calling thread's observer (empty: none) and returns the one it replaces.
ProgressObserver set_progress_observer(ProgressObserver observer);

}  // namespace squish
