// _phaseless: the compiled half of the `phaseless` Python package. It exposes sim/io's
// session API (load a model, run it, export it) and nothing of the kernel, so engine
// changes do not reach Python. Runs step with the GIL released, in a worker thread,
// while the calling thread polls for Ctrl-C (see run_interruptible).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <google/protobuf/text_format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "sim/core/errors.hpp"
#include "sim/io/isolated_read.hpp"
#include "sim/io/model_validate.hpp"
#include "sim/io/network_builder.hpp"
#include "sim/io/session.hpp"
#include "sim/io/sonata_export.hpp"
#include "sim/rules/event_network.hpp"

namespace py = pybind11;
namespace io = phaseless::io;
namespace core = phaseless::core;

namespace {

template <class T>
py::array_t<T> to_array(const std::vector<T>& v) {
  return py::array_t<T>(static_cast<py::ssize_t>(v.size()), v.data());
}

// The metrics table as columns, named as in a trace's /metrics group.
py::dict metrics(const io::run_result& r) {
  std::vector<std::uint64_t> samples, events, ops;
  std::vector<std::int64_t> ticks;
  std::vector<double> train_loss, acc, test_loss, wall;
  std::vector<std::vector<double>> extra(r.extra_columns.size());
  for (const auto& row : r.rows) {
    samples.push_back(row.samples);
    ticks.push_back(row.ticks);
    train_loss.push_back(row.train_loss);
    acc.push_back(row.test_accuracy);
    test_loss.push_back(row.test_loss);
    events.push_back(row.events);
    ops.push_back(row.synaptic_ops);
    wall.push_back(row.wall_time);
    for (std::size_t k = 0; k < extra.size(); ++k) extra[k].push_back(k < row.extra.size() ? row.extra[k] : NAN);
  }
  py::dict d;
  d["samples"] = to_array(samples);
  d["ticks"] = to_array(ticks);
  d["train_loss"] = to_array(train_loss);
  d["test_accuracy"] = to_array(acc);
  d["test_loss"] = to_array(test_loss);
  d["events"] = to_array(events);
  d["synaptic_ops"] = to_array(ops);
  d["wall_time"] = to_array(wall);
  for (std::size_t k = 0; k < extra.size(); ++k) d[py::str(r.extra_columns[k])] = to_array(extra[k]);
  return d;
}

py::dict result_dict(const io::run_result& r) {
  py::dict d;
  d["metrics"] = metrics(r);
  py::dict weights, biases;
  for (const auto& wm : r.weights) {
    auto w = to_array(wm.w);
    weights[py::str(wm.name)] = w.reshape({py::ssize_t(wm.rows), py::ssize_t(wm.cols)});
    if (!wm.b.empty()) biases[py::str(wm.name)] = to_array(wm.b);
  }
  d["weights"] = weights;
  d["biases"] = biases;
  py::list w_start, w_end;
  for (const auto& w : r.w_start) w_start.append(to_array(w));
  for (const auto& w : r.w_end) w_end.append(to_array(w));
  d["projections"] = r.projections;
  d["w_start"] = w_start;
  d["w_end"] = w_end;
  d["samples"] = r.samples;
  d["train_seconds"] = r.train_seconds;
  d["interval"] = r.interval;
  d["vertices"] = r.vertices;
  d["edges"] = r.edges;
  d["interrupted"] = r.interrupted;
  d["diverged"] = r.diverged;
  return d;
}

// Runs io::run in a worker thread. The calling thread waits without the GIL and takes
// it back every 100 ms to let Python handle signals: on Ctrl-C (KeyboardInterrupt, or
// any exception a signal handler raises) it sets the session's stop flag, so the run
// finishes its chunk, flushes and closes the trace, and then the exception propagates.
io::run_result run_interruptible(const io::loaded_model& lm, io::run_options opt) {
  std::atomic<bool> stop{false};
  opt.stop = &stop;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  io::run_result result;
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      result = io::run(lm, opt);
    } catch (...) {
      failure = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  });
  std::unique_ptr<py::error_already_set> interrupt;
  for (;;) {
    {
      py::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; });
      if (done) break;
    }
    if (!interrupt && PyErr_CheckSignals() != 0) {
      interrupt = std::make_unique<py::error_already_set>();   // holds the exception until the run stops
      stop.store(true);
    }
  }
  {
    py::gil_scoped_release release;
    worker.join();
  }
  if (interrupt) throw *interrupt;
  if (failure) std::rethrow_exception(failure);
  return result;
}

struct model {
  io::loaded_model lm;

  std::string effective_text() const {
    std::string s;
    google::protobuf::TextFormat::PrintToString(lm.model, &s);
    return s;
  }

  py::dict validate() const {
    io::validate_model(lm);
    const auto spec = io::build_network_spec(lm.model);
    py::dict d;
    py::list pops, projs;
    for (const auto& p : spec.populations) pops.append(py::make_tuple(p.name, p.size));
    for (const auto& p : spec.projections)
      projs.append(py::dict(py::arg("name") = p.name, py::arg("pre") = spec.populations[p.pre].name,
                            py::arg("post") = spec.populations[p.post].name, py::arg("synapses") = p.syn.size(),
                            py::arg("min_delay") = p.forward.class_delay.empty() ? core::tick_t{1} : p.forward.class_delay.front(),
                            py::arg("max_delay") = p.forward.max()));
    d["name"] = lm.model.name();
    d["populations"] = pops;
    d["projections"] = projs;
    d["rule"] = spec.learning.rule;
    d["critical_path"] = phaseless::rules::critical_path(spec);
    d["presentation_interval"] = io::presentation_interval(lm.model, spec);
    return d;
  }

  py::dict run(const std::string& out, unsigned threads, bool progress, const std::string& engine,
               const std::string& command_line) const {
    io::run_options o;
    o.engine = engine == "baseline" ? io::engine_kind::baseline : io::engine_kind::event;
    o.trace = out;
    o.threads = threads;
    o.progress = progress;
    o.command_line = command_line;
    const auto r = run_interruptible(lm, o);
    return result_dict(r);
  }
};

}  // namespace

PYBIND11_MODULE(_phaseless, m) {
  m.doc() = "Compiled part of the phaseless package; use `import phaseless`.";
  // Errors become the package's exception classes (phaseless/_errors.py), which parse
  // "FILE:LINE:COL: FIELD: problem" into attributes.
  py::register_exception_translator([](std::exception_ptr p) {
    const auto raise = [](const char* factory, const char* what) {
      py::object errors = py::module_::import("phaseless._errors");
      py::object exc = errors.attr(factory)(py::str(what));
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const core::user_error& e) {
      raise("from_user_error", e.what());
    } catch (const core::io_error& e) {
      raise("from_io_error", e.what());
    } catch (const core::numeric_error& e) {
      raise("from_numeric_error", e.what());
    }
  });

  py::class_<model>(m, "Model")
      .def_property_readonly("text", &model::effective_text)
      .def_property_readonly("source_text", [](const model& x) { return x.lm.text; })
      .def_property_readonly("path", [](const model& x) { return x.lm.path.string(); })
      .def_property_readonly("overrides", [](const model& x) { return x.lm.overrides; })
      .def_property_readonly("name", [](const model& x) { return x.lm.model.name(); })
      .def_property_readonly("seed", [](const model& x) { return x.lm.model.seed(); })
      .def("validate", &model::validate)
      .def("run", &model::run, py::arg("out"), py::arg("threads"), py::arg("progress"), py::arg("engine"),
           py::arg("command_line"));

  m.def(
      "load",
      [](const std::string& path, const std::vector<std::string>& overrides) {
        return model{io::load_model(path, overrides)};
      },
      py::arg("path"), py::arg("overrides"));
  m.def(
      "export_sonata",
      [](const std::string& source, const std::string& dir, const std::vector<std::string>& overrides) {
        const auto s = io::export_sonata(source, dir, overrides);
        py::dict d;
        d["weights_from"] = s.weights_from;
        d["nodes"] = s.nodes;
        d["edges"] = s.edges;
        d["node_populations"] = s.node_populations;
        d["edge_populations"] = s.edge_populations;
        std::vector<std::string> files;
        for (const auto& f : s.files) files.push_back(f.string());
        d["files"] = files;
        return d;
      },
      py::arg("source"), py::arg("dir"), py::arg("overrides"));
  // Trace calls it before h5py touches a file: h5py runs on the same libhdf5, which a
  // damaged file can crash or make loop for ever (see sim/io/isolated_read.hpp).
  m.def(
      "_require_decodable",
      [](const std::string& path, double stall_seconds, const std::string& what) {
        py::gil_scoped_release free_python;   // the watch sleeps; other threads go on
        io::require_decodable(path, what, stall_seconds);
      },
      py::arg("path"), py::arg("stall_seconds"), py::arg("what"));
  m.attr("__version__") = PHASELESS_VERSION;
}
