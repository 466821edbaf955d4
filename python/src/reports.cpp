// squish._squish.plan_json / inspect_json: the data of `squish plan --json` and `squish inspect --json`.
#include <nanobind/stl/string.h>

#include <string>

#include "bindings.h"
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
}

}  // namespace squish::python
