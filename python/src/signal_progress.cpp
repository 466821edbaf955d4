// SignalCheckingProgress: Ctrl-C and progress callbacks for long calls that run without the GIL.
#include <Python.h>
#include <nanobind/stl/string.h>

#include "bindings.h"

namespace squish::python {

SignalCheckingProgress::SignalCheckingProgress(nb::object callback) : callback_(std::move(callback)) {
  previous_ = set_progress_observer(
      [this](const std::string& label, int64_t done, int64_t total) { poll(label, done, total); });
}

SignalCheckingProgress::~SignalCheckingProgress() { set_progress_observer(std::move(previous_)); }

void SignalCheckingProgress::poll(const std::string& label, int64_t done, int64_t total) {
  nb::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw nb::python_error();
  if (callback_.is_valid() && !callback_.is_none()) callback_(label, done, total);  // raises python_error
}

}  // namespace squish::python
