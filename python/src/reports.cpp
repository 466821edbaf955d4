// squish._squish.plan_json / inspect_json / compare_json: the data of `squish plan --json`,
// `squish inspect --json` and `squish compare --json`.
#include <nanobind/stl/string.h>

#include <string>

#include "bindings.h"
#include "run/compare.h"
#include "run/plan.h"
#include "squish/eval/inspect.h"

namespace squish::python {

void bind_reports(nb::module_& m) {
  m.def(
      "plan_json",
      [](const std::string& model, const std::string& params, const std::string& hardware, const std::string& vram,
         const std::string& ram, const std::string& gpus, const std::string& bandwidth, const std::string& context,
         const std::string& users, const std::string& goal, const std::string& layers, const std::string& kv_heads,
         const std::string& head_dim, const std::string& heads, const std::string& hidden, const std::string& ffn,
         const std::string& vocab) {
        cli::PlanArgs a;
        a.model = model, a.params = params, a.hardware = hardware, a.vram = vram, a.ram = ram, a.gpus = gpus;
        a.bandwidth = bandwidth, a.context = context, a.users = users, a.goal = goal, a.layers = layers;
        a.kv_heads = kv_heads, a.head_dim = head_dim, a.heads = heads, a.hidden = hidden, a.ffn = ffn;
        a.vocab = vocab;
        nb::gil_scoped_release nogil;
        return plan::render_json(cli::make_plan(a)).dump(1);
      },
      nb::arg("model") = "", nb::arg("params") = "", nb::arg("hardware") = "", nb::arg("vram") = "",
      nb::arg("ram") = "", nb::arg("gpus") = "1", nb::arg("bandwidth") = "", nb::arg("context") = "4096",
      nb::arg("users") = "1", nb::arg("goal") = "balanced", nb::arg("layers") = "", nb::arg("kv_heads") = "",
      nb::arg("head_dim") = "", nb::arg("heads") = "", nb::arg("hidden") = "", nb::arg("ffn") = "",
      nb::arg("vocab") = "", "The JSON text `squish plan --json` prints for these flags.");
  m.def(
      "inspect_json",
      [](const std::string& path) {
        nb::gil_scoped_release nogil;
        return inspect_to_json(inspect_model(path)).dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
      },
      nb::arg("path"), "The JSON text `squish inspect --json` prints for a model file or directory.");
  m.def(
      "compare_json",
      [](const std::string& model, const std::string& output, const std::string& types, const std::string& schemes,
         const std::string& methods, const std::string& group_sizes, const std::string& formats,
         const std::string& calib, int64_t samples, int64_t seq_len, double damp, const std::string& text,
         int64_t ctx, int64_t chunks, const std::string& cache, bool force, nb::object progress) {
        cli::CompareArgs a;
        a.model = model, a.opt.out_dir = output;
        if (!types.empty()) a.types = types, a.types_given = true;
        a.schemes = schemes, a.methods = methods, a.group_sizes = group_sizes, a.formats = formats;
        a.opt.calib.path = calib, a.opt.gptq_damp = damp, a.opt.text_path = text;
        if (samples > 0) a.opt.calib.n_samples = samples;
        if (seq_len > 0) a.opt.calib.seq_len = seq_len;
        a.opt.n_ctx = ctx, a.opt.chunks = chunks, a.opt.cache_dir = cache, a.opt.overwrite = force;
        SignalCheckingProgress check(std::move(progress));
        nb::gil_scoped_release nogil;
        return cli::run_compare_args(a).rows_json().dump(1);
      },
      nb::arg("model"), nb::arg("output"), nb::arg("types") = "", nb::arg("schemes") = "", nb::arg("methods") = "rtn",
      nb::arg("group_sizes") = "", nb::arg("formats") = "compressed-tensors", nb::arg("calib") = "",
      nb::arg("samples") = -1, nb::arg("seq_len") = -1, nb::arg("damp") = 0.01, nb::arg("text") = "",
      nb::arg("ctx") = 512, nb::arg("chunks") = 8, nb::arg("cache") = "", nb::arg("force") = false,
      nb::arg("progress") = nb::none(),
      "Runs `squish compare` in-process; the JSON text `squish compare --json` prints.");
}

}  // namespace squish::python
