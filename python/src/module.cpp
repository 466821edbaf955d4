// squish._squish: the native half of the `squish` Python package (python/squish/__init__.py wraps it).
#include <new>
#include <stdexcept>

#include "bindings.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"

namespace nb = nanobind;

NB_MODULE(_squish, m) {
  m.doc() = "squish native module: the C++ library behind the squish Python API";
  m.attr("__version__") = SQUISH_VERSION;

  // squish::Error (and any other library failure) -> squish.SquishError with the one-line message.
  // (A leaked reference: the class lives as long as the process, as the module does.)
  static PyObject* squish_error =
      nb::exception<squish::Error>(m, "SquishError", PyExc_RuntimeError).release().ptr();
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "squish: out of memory");
    } catch (const std::exception& e) {
      PyErr_SetString(squish_error, e.what());
    }
  });

  m.def("set_threads", &squish::set_num_threads, nb::arg("n"),
        "Sets the worker threads of every later call (n <= 0: all cores).");
  m.def("threads", &squish::num_threads, "The number of worker threads in use.");

  squish::python::bind_model(m);
  squish::python::bind_quantize(m);
  squish::python::bind_reports(m);
  squish::python::bind_tensors(m);
}
