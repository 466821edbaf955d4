// squish._squish.quantize: `squish quantize` (cli/run/quantize.h) with a progress callback and Ctrl-C.
#include <nanobind/stl/string.h>

#include <string>

#include "bindings.h"
#include "run/quantize.h"

namespace squish::python {

void bind_quantize(nb::module_& m) {
  m.def(
      "quantize",
      [](const std::string& src, const std::string& dst, const std::string& type, const std::string& scheme,
         const std::string& recipe, const std::string& method, const std::string& format,
         const std::string& calib, int64_t samples, int64_t seq_len, int64_t seed, int64_t group_size,
         double damp, double alpha, const std::string& act_order, const std::string& imatrix,
         const std::string& kv_cache_scheme, const std::string& dtype, bool force, bool leave_output_tensor,
         bool pure, bool awq_clip, bool resume, const std::string& max_memory, bool verbose, nb::object progress) {
        cli::QuantizeArgs a;
        a.input = src, a.output = dst, a.type = type, a.scheme = scheme, a.recipe = recipe;
        a.method = method, a.format = format, a.imatrix = imatrix, a.kv_cache = kv_cache_scheme;
        a.dtype = dtype, a.act_order = act_order, a.max_memory = max_memory;
        a.calib = calib, a.calib_set = !calib.empty();
        // Negative: not given (the CLI's default, or the recipe's value).
        if (samples >= 0) a.samples = samples, a.samples_set = true;
        if (seq_len >= 0) a.seq_len = seq_len, a.seq_len_set = true;
        if (seed >= 0) a.seed = static_cast<uint64_t>(seed), a.seed_set = true;
        a.group_size = group_size, a.damp = damp, a.alpha = alpha;
        a.force = force, a.leave_output = leave_output_tensor, a.pure = pure, a.awq_clip = awq_clip;
        a.resume = resume, a.verbose = verbose;
        a.log = verbose ? stdout : nullptr;
        SignalCheckingProgress check(std::move(progress));
        nb::gil_scoped_release nogil;
        cli::run_quantize(a);
      },
      nb::arg("src"), nb::arg("dst"), nb::arg("type") = "", nb::arg("scheme") = "", nb::arg("recipe") = "",
      nb::arg("method") = "rtn", nb::arg("format") = "compressed-tensors", nb::arg("calib") = "",
      nb::arg("samples") = -1, nb::arg("seq_len") = -1, nb::arg("seed") = -1, nb::arg("group_size") = -1,
      nb::arg("damp") = 0.01, nb::arg("alpha") = 0.5, nb::arg("act_order") = "static", nb::arg("imatrix") = "",
      nb::arg("kv_cache_scheme") = "", nb::arg("dtype") = "bfloat16", nb::arg("force") = false,
      nb::arg("leave_output_tensor") = false, nb::arg("pure") = false, nb::arg("awq_clip") = false,
      nb::arg("resume") = false, nb::arg("max_memory") = "", nb::arg("verbose") = false,
      nb::arg("progress") = nb::none(),
      "Runs `squish quantize` in-process (see squish.quantize for the arguments).");
}

}  // namespace squish::python
