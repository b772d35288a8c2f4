"""Models: load, validate, run, compare (the compiled session API underneath)."""
import os
import sys

import numpy as np

from . import _phaseless
from ._errors import argument_error

__all__ = ["load", "Model", "RunResult", "Comparison"]


def _override_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)   # shortest text that reads back to the same double
    return str(value)


def overrides_list(overrides):
    """{"rule.zil.optimizer.lr": 0.01} (or ["rule.zil.optimizer.lr=0.01"]) -> ["rule.zil.optimizer.lr=0.01"]."""
    if overrides is None:
        return []
    if isinstance(overrides, dict):
        return [f"{k}={_override_value(v)}" for k, v in overrides.items()]
    if isinstance(overrides, (list, tuple)) and all(isinstance(s, str) and "=" in s for s in overrides):
        return list(overrides)
    raise argument_error("set", overrides, 'a dict {"path.to.field": value} or a list of "path=value" strings')


def load(path, set=None):
    """Loads, overrides and validates a model file; raises ModelError naming every problem.

    ``set`` overrides scalar fields like the CLI's --set: {"rule.zil.optimizer.lr": 0.01,
    "populations[h1].size": 128, "seed": 3}.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise argument_error("path", path, "a model file path (str or os.PathLike)")
    sets = overrides_list(set)
    return Model(_phaseless.load(os.fspath(path), sets), sets if isinstance(set, (list, tuple)) else dict(set or {}))


class RunResult:
    """What a run returns: ``metrics`` (NumPy columns by name, one row per evaluation,
    ``metrics["samples"]`` the sample column), ``weights`` / ``biases`` at the end of the
    run ((n_post, n_pre) arrays by projection name, as in the trace), ``trace`` (path or
    None), ``interrupted``, ``diverged`` (the numeric error that stopped learning, or "")."""

    def __init__(self, raw, trace):
        self.metrics = dict(raw["metrics"])
        self.weights = dict(raw["weights"])
        self.biases = dict(raw["biases"])
        self.trace = trace
        self.interrupted = raw["interrupted"]
        self.diverged = raw["diverged"]
        self.train_seconds = raw["train_seconds"]
        self.interval = raw["interval"]
        self.vertices, self.edges = raw["vertices"], raw["edges"]
        self._projections = raw["projections"]
        self._w_start, self._w_end = raw["w_start"], raw["w_end"]

    @property
    def samples(self):
        return self.metrics["samples"]

    @property
    def final(self):
        """The last metrics row as a dict of floats."""
        return {k: v[-1].item() for k, v in self.metrics.items() if len(v)}

    def __getitem__(self, name):
        return self.metrics[name]

    def __repr__(self):
        f = self.final
        return (f"RunResult({int(f.get('samples', 0))} samples, test_accuracy {f.get('test_accuracy', float('nan')):.4f}"
                f", trace={self.trace!r}{', interrupted' if self.interrupted else ''}"
                f"{', diverged' if self.diverged else ''})")


class Comparison:
    """Event engine vs synchronous baseline on the same model, seed and sample order.
    ``updates[projection]`` = {"cosine", "relative_error", "max_abs"} between the two
    weight updates dW = W_end - W_start; ``event`` and ``baseline`` are the RunResults."""

    def __init__(self, event, baseline):
        self.event, self.baseline = event, baseline
        self.updates = {}
        for k, name in enumerate(event._projections):
            da = np.asarray(event._w_end[k]) - np.asarray(event._w_start[k])
            db = np.asarray(baseline._w_end[k]) - np.asarray(baseline._w_start[k])
            aa, bb = float(da @ da), float(db @ db)
            cos = float(da @ db) / np.sqrt(aa * bb) if aa > 0 and bb > 0 else (1.0 if aa == bb else 0.0)
            dd = float((da - db) @ (da - db))
            self.updates[name] = {"cosine": cos,
                                  "relative_error": float(np.sqrt(dd / bb)) if bb > 0 else float(np.sqrt(dd)),
                                  "max_abs": float(np.max(np.abs(da - db))) if da.size else 0.0}

    def __repr__(self):
        lines = [f"  {n:<14} cosine {u['cosine']:.9f}  relative error {u['relative_error']:.3e}"
                 for n, u in self.updates.items()]
        return "Comparison(\n" + "\n".join(lines) + "\n)"


def _check_run_args(out, threads, progress, engine):
    if out is not None and not isinstance(out, (str, os.PathLike)):
        raise argument_error("out", out, "None (no trace) or a trace file path")
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise argument_error("threads", threads, "an integer >= 0 (0: the model's execution.threads)")
    if not isinstance(progress, bool):
        raise argument_error("progress", progress, "True or False")
    if engine not in ("event", "baseline"):
        raise argument_error("engine", engine, '"event" or "baseline"')


class Model:
    """A loaded model (``phaseless.load``). ``text`` is the effective model (after
    overrides and defaults), ``source_text`` the file as read."""

    def __init__(self, core, overrides):
        self._core = core
        self.overrides = overrides

    path = property(lambda self: self._core.path)
    name = property(lambda self: self._core.name)
    seed = property(lambda self: self._core.seed)
    text = property(lambda self: self._core.text)
    source_text = property(lambda self: self._core.source_text)

    def validate(self):
        """Checks the model (and its data files) again; raises ModelError, else returns a
        summary: populations, projections (synapses, delays), rule, presentation interval."""
        return self._core.validate()

    def with_set(self, set):
        """The same model file with more overrides (on top of this model's)."""
        if isinstance(self.overrides, dict) and isinstance(set, dict):
            return load(self.path, {**self.overrides, **set})
        return load(self.path, overrides_list(self.overrides) + overrides_list(set))

    def run(self, out=None, threads=0, progress=True, engine="event"):
        """Trains the model. ``out``: trace path (None: no trace; an existing file is
        replaced, as by the CLI). Ctrl-C stops the run at its next chunk, closes the
        trace and raises KeyboardInterrupt. Progress goes to stderr."""
        _check_run_args(out, threads, progress, engine)
        cmd = f"python: phaseless.load({self.path!r}, set={self.overrides!r}).run(out={out!r}, threads={threads})"
        raw = self._core.run(os.fspath(out) if out is not None else "", threads, progress, engine, cmd)
        return RunResult(raw, os.fspath(out) if out is not None else None)

    def compare(self, threads=0, progress=True, out=None):
        """Runs the event engine (trace to ``out`` if given) and the synchronous baseline."""
        _check_run_args(out, threads, progress, "event")
        event = self.run(out=out, threads=threads, progress=progress)
        baseline = self.run(threads=threads, progress=progress, engine="baseline")
        return Comparison(event, baseline)

    def __repr__(self):
        return f"Model({self.name!r}, path={self.path!r}, set={self.overrides!r})"
