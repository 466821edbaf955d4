// Pieces of the squish._squish module, each defined in its own file and added by module.cpp.
#pragma once
#include <nanobind/nanobind.h>

#include <string>

#include "squish/common/progress.h"

namespace squish::python {

namespace nb = nanobind;

// Adds squish._squish.Model (load, generate, perplexity, logits, tokenize, inspect).
void bind_model(nb::module_& m);
// Adds squish._squish.quantize (the CLI's `squish quantize` code path).
void bind_quantize(nb::module_& m);
// Adds squish._squish.plan_json, inspect_json and compare_json (the CLI's --json data).
void bind_reports(nb::module_& m);
// Adds squish._squish.tensors (a file's tensors as numpy arrays over its mapping).
void bind_tensors(nb::module_& m);

// While alive, checks for Python signals (Ctrl-C) at every progress step of the calling thread and
// passes (label, done, total) to `callback` when it is not None; a pending KeyboardInterrupt or an
// exception from the callback is thrown as nb::python_error, unwinding the C++ work. Construct it
// with the GIL held, then release the GIL for the work.
class SignalCheckingProgress {
 public:
  explicit SignalCheckingProgress(nb::object callback);
  ~SignalCheckingProgress();
  SignalCheckingProgress(const SignalCheckingProgress&) = delete;
  SignalCheckingProgress& operator=(const SignalCheckingProgress&) = delete;
  // The same check for code paths without a Progress bar (e.g. perplexity's per-chunk hook);
  // callable without the GIL.
  void poll(const std::string& label, int64_t done, int64_t total);

 private:
  nb::object callback_;
  ProgressObserver previous_;
};

}  // namespace squish::python
