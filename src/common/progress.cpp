#include "squish/common/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace squish {
namespace {

bool progress_enabled() {
  if (const char* env = std::getenv("SQUISH_PROGRESS")) return std::string(env) != "0";
  return isatty(fileno(stderr));
}

std::string clock_text(double seconds) {
  if (seconds < 0 || seconds > 360000) return "?";
  const int s = static_cast<int>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%d:%02d", s / 60, s % 60);
  return buf;
}

thread_local ProgressObserver t_observer;

}  // namespace

ProgressObserver set_progress_observer(ProgressObserver observer) {
  std::swap(observer, t_observer);
  return observer;
}

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), enabled_(progress_enabled()),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

Progress::~Progress() {
  if (enabled_ && !finished_ && done_ > 0) std::fputc('\n', stderr);
}

void Progress::add(int64_t n) { set(done_ + n); }

void Progress::set(int64_t done) {
  done_ = done;
  if (t_observer) t_observer(label_, done_, total_);
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  if (t_observer) t_observer(label_, done_, total_);
  draw(true);
  if (enabled_) std::fputc('\n', stderr);
  finished_ = true;
}

void Progress::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0;
  const double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 0;
  const int width = 30;
  const int filled = static_cast<int>(frac * width);
  std::string bar(filled, '#');
  bar.resize(width, '.');
  const double eta = rate > 0 ? (total_ - done_) / rate : -1;
  std::fprintf(stderr, "\r%s [%s] %lld/%lld %.1f/s ETA %s ", label_.c_str(), bar.c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_), rate,
               clock_text(eta).c_str());
  std::fflush(stderr);
}

}  // namespace squish
