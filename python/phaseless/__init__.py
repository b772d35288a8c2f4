"""phaseless: event-driven simulation of local learning rules, from Python.

    import phaseless
    m = phaseless.load("models/fmnist_zil.textproto", set={"schedule.max_samples": 2000})
    r = m.run(out="run.h5", threads=2)
    r.metrics["test_accuracy"], r.samples, r.weights["w1"]      # NumPy arrays
    t = phaseless.Trace("run.h5")                               # works on live and killed runs
    t.snapshots("w1").data, t.report("h1")["eps"], t.provenance["model_text"]
    table = phaseless.sweep(m, grid={"rule.zil.optimizer.lr": [0.01, 0.02]}, seeds=[1, 2], processes=2)
"""
from ._errors import Diverged, Error, ModelError, TraceIOError
from ._model import Comparison, Model, RunResult, load
from ._phaseless import __version__
from ._sweep import SweepTable, sweep
from ._trace import Report, Snapshots, Trace


def export_sonata(source, dir, set=None):
    """Writes the network of a model (initial weights) or a trace (last snapshot) as a
    SONATA circuit in ``dir``: nodes.h5, edges.h5, node/edge types, circuit_config.json."""
    import os
    from . import _phaseless
    from ._model import overrides_list
    return _phaseless.export_sonata(os.fspath(source), os.fspath(dir), overrides_list(set))


__all__ = ["load", "Model", "RunResult", "Comparison", "Trace", "Snapshots", "Report", "sweep", "SweepTable",
           "export_sonata", "Error", "ModelError", "TraceIOError", "Diverged", "__version__"]
