"""phaseless: event-driven simulation of local learning rules, from Python.

    import phaseless
    m = phaseless.load("models/fmnist_zil.textproto", set={"schedule.max_samples": 2000})
    r = m.run(out="run.h5", threads=2)
    r.metrics["test_accuracy"], r.samples, r.weights["w1"]      # NumPy arrays
    t = phaseless.Trace("run.h5")                               # works on live and killed runs
    t.snapshots("w1").data, t.report("h1")["eps"], t.provenance["model_text"]
    table = phaseless.sweep(m, grid={"rule.zil.optimizer.lr": [0.01, 0.02]}, seeds=[1, 2], processes=2)
"""
import sys as _sys

from . import _phaseless
from ._errors import Diverged, Error, ModelError, TraceIOError
from ._model import Comparison, Model, RunResult, load
from ._phaseless import __version__
from ._sweep import SweepTable, sweep
from ._trace import Events, Report, Snapshots, Trace


# Damaged HDF5 files are probed in a watched child process (a file can crash libhdf5 or
# make it loop). This process may not fork for that: a run thread may hold libhdf5's global
# lock, and a forked child would wait for it for ever. The child is a fresh interpreter
# that loads only the compiled extension and probes the file given last.
# Exit 0: read; 2: a clean read error, or the probe could not start (the reader then reads
# as it would without a probe); any other status: the library failed.
_PROBE = ("import importlib.machinery as m, importlib.util as u, sys\n"
          "try:\n"
          "    l = m.ExtensionFileLoader('_phaseless', sys.argv[1])\n"
          "    x = u.module_from_spec(u.spec_from_loader('_phaseless', l)); l.exec_module(x)\n"
          "except Exception:\n"
          "    sys.exit(2)\n"
          "sys.exit(x._probe_here(sys.argv[2]))\n")
if _sys.executable:
    _phaseless._set_probe_program([_sys.executable, "-I", "-c", _PROBE, _phaseless.__file__])


def export_sonata(source, dir, set=None):
    """Writes the network of a model (initial weights) or a trace (last snapshot) as a
    SONATA circuit in ``dir``: nodes.h5, edges.h5, node/edge types, circuit_config.json."""
    import os
    from . import _phaseless
    from ._model import overrides_list
    return _phaseless.export_sonata(os.fspath(source), os.fspath(dir), overrides_list(set))


__all__ = ["load", "Model", "RunResult", "Comparison", "Trace", "Snapshots", "Report", "Events", "sweep", "SweepTable",
           "export_sonata", "Error", "ModelError", "TraceIOError", "Diverged", "__version__"]
