"""Reading traces (layout: docs/trace-format.md) with h5py.

Why h5py and not the C++ reader: h5py (Debian's, on the same libhdf5) hands back NumPy
arrays of the stored dtype directly and reads one dataset or one slice at a time, so a
large trace is never loaded whole; the C++ reader would need a typed accessor for every
part of the layout just to copy it into NumPy again. The layout is the documented
contract both readers follow; `phaseless inspect` stays the C++ one.

Every access opens the file, reads, and closes it again, so a Trace follows a run that
is still writing (each read sees the last flush) and reads a killed run's trace (up to
its last flush). A read that meets a flush in progress is retried.
"""
import os
import time

import h5py
import numpy as np

from . import _phaseless
from ._errors import ModelError, argument_error

__all__ = ["Trace", "Snapshots", "Report", "Events"]

_RETRIES = 20
_PROBED = set()   # files whose strings libhdf5 decoded in a probe (see Trace.__init__)


def _open(path):
    # The writer opens traces with the "strong" close degree and file locking off; HDF5
    # lets a process open a file it already has open only with the same settings, so a
    # trace this process is writing (a run in another thread) opens this way (and then
    # reads its current state).
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
    if hasattr(fapl, "set_file_locking"):   # the writer takes no lock; matching flags are required too
        fapl.set_file_locking(False, True)
    try:
        return h5py.File(h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY, fapl=fapl))
    except OSError:   # open elsewhere in this process with h5py's default degree
        return h5py.File(path, "r")


def _read(path, fn):
    """fn(h5py.File) on a freshly opened file, retried while a writer's flush is in flight."""
    if not os.path.exists(path):
        raise ModelError(f"cannot read trace '{path}': file does not exist")
    if os.path.isdir(path):
        raise ModelError(f"cannot read trace '{path}': it is a folder")
    for attempt in range(_RETRIES):
        try:
            with _open(path) as f:
                return fn(f)
        except (OSError, KeyError, RuntimeError) as e:
            if attempt == _RETRIES - 1:
                if isinstance(e, KeyError):
                    raise
                what = "not a readable HDF5 file" if isinstance(e, OSError) else "damaged"
                first_line = str(e).partition("\n")[0]
                raise ModelError(f"cannot read trace '{path}': {what} ({first_line})") from None
            time.sleep(0.05)


def _text(x):
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


class Snapshots:
    """Weight snapshots of one projection: ``samples`` [T]; ``data`` [T, n_post, n_pre]
    (post-major, PyTorch's layout; read on first use), ``last`` and ``at(samples)`` read
    one snapshot only; ``bias`` [T, n_post] or None; ``pre``/``post`` population names."""

    def __init__(self, path, name, samples, bias, pre, post):
        self.path, self.name, self.samples, self.bias, self.pre, self.post = path, name, samples, bias, pre, post
        self._data = None

    def _rows(self, sel):
        return _read(self.path, lambda f: f["weights"][self.name]["snapshots"]["data"][sel])

    @property
    def data(self):
        if self._data is None:
            self._data = self._rows(slice(0, len(self.samples)))
        return self._data

    def at(self, samples):
        """The snapshot taken after ``samples`` training samples."""
        hit = np.flatnonzero(self.samples == samples)
        if not len(hit):
            raise ModelError(f"projection '{self.name}' has no snapshot at {samples} samples; "
                             f"allowed: {self.samples.tolist()}")
        return self._rows(int(hit[0])) if self._data is None else self._data[hit[0]]

    def row(self, k):
        """Snapshot number k (taken after ``samples[k]`` samples), read alone."""
        return self._rows(int(k)) if self._data is None else self._data[k]

    @property
    def last(self):
        if not len(self.samples):
            raise ModelError(f"projection '{self.name}' has no snapshot yet")
        return self.at(self.samples[-1]) if self._data is None else self._data[-1]

    def __repr__(self):
        return f"Snapshots({self.name!r}, {len(self.samples)} snapshots, {self.pre} -> {self.post})"


class Report:
    """Per-neuron state of one population over time: ``data`` [frames, nodes, elements],
    ``elements`` (e.g. ["x", "eps"] or ["s_plus", "s_minus", "delta", "s_bar"]),
    ``node_ids`` (0-based), ``samples`` and ``ticks`` per frame, SONATA ``time``
    (start, stop, step) and ``time_units``."""

    def __init__(self, population, data, elements, node_ids, samples, ticks, time, time_units, data_units):
        self.population, self.data, self.elements = population, data, elements
        self.node_ids, self.samples, self.ticks = node_ids, samples, ticks
        self.time, self.time_units, self.data_units = time, time_units, data_units

    def __getitem__(self, element):
        """One element for every frame and node: report["eps"] -> [frames, nodes]."""
        if element not in self.elements:
            raise ModelError(f"report '{self.population}' has no element '{element}'; allowed: {', '.join(self.elements)}")
        return self.data[:, :, self.elements.index(element)]

    @property
    def times(self):
        """Frame times in ``time_units`` (from the SONATA mapping)."""
        start, _, step = self.time
        return start + step * np.arange(self.data.shape[0])

    def __repr__(self):
        return f"Report({self.population!r}, {self.data.shape[0]} frames x {len(self.node_ids)} nodes x {self.elements})"


class Events:
    """What happened inside the recorded samples (record.events) at one population.

    ``messages``: dict of columns, one row per message delivered to the population, in
    delivery order: sample, tick, step, kind, source, neuron, value, dropped.
    ``kind_names`` and ``source_names`` name the ``kind`` and ``source`` codes.
    ``state``: per tick of each recorded sample, ``sample`` [rows], ``tick`` [rows] and
    ``data`` [rows, nodes, elements] of the chosen ``node_ids`` (None for the input
    population, which keeps no state). ``interval``: ticks per sample (sample s spans ticks
    s*interval .. (s+1)*interval - 1). ``of(sample)`` keeps one sample's rows."""

    def __init__(self, population, messages, kind_names, source_names, interval, state):
        self.population, self.messages, self.interval, self.state = population, messages, interval, state
        self.kind_names, self.source_names = kind_names, source_names

    @property
    def samples(self):
        return sorted(set(self.messages["sample"].tolist()))

    def of(self, sample):
        keep = self.messages["sample"] == sample
        state = None
        if self.state is not None:
            rows = self.state["sample"] == sample
            state = dict(self.state, **{k: self.state[k][rows] for k in ("sample", "tick", "data")})
        return Events(self.population, {k: v[keep] for k, v in self.messages.items()}, self.kind_names,
                      self.source_names, self.interval, state)

    def __repr__(self):
        return f"Events({self.population!r}, {len(self.messages['sample'])} messages, samples {self.samples})"


class Trace:
    """A run's trace: ``metrics`` (dict of NumPy columns; nested ones like
    "alignment/w2/weight_cosine" by their path), ``weights[name]`` -> Snapshots,
    ``reports[population]`` -> Report, ``provenance`` (dict incl. model_text,
    effective_model, seed, sample_order)."""

    def __init__(self, path, stall_timeout=10.0):
        """``stall_timeout``: seconds the HDF5 library may keep the CPU busy without reading
        before the file counts as damaged (a crafted file can make it loop forever)."""
        if not isinstance(path, (str, os.PathLike)):
            raise argument_error("path", path, "a trace file path (str or os.PathLike)")
        if isinstance(stall_timeout, bool) or not isinstance(stall_timeout, (int, float)) \
                or not 0.1 <= stall_timeout <= 86400:
            raise argument_error("stall_timeout", stall_timeout, "seconds, from 0.1 to 86400")
        self.path = os.fspath(path)
        if os.path.isfile(self.path):
            # Damaged files can crash libhdf5 or make it loop forever, in h5py as anywhere:
            # its decoders run once in a watched child process before h5py opens the file.
            # Once per file (device and inode) in this process: a probe starts an interpreter,
            # and a reader that polls a growing trace opens it again and again.
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) not in _PROBED:
                _phaseless._require_decodable(self.path, float(stall_timeout), f"cannot read trace '{self.path}'")
                _PROBED.add((st.st_dev, st.st_ino))

        def check(f):
            if _text(f.attrs.get("format", b"")) != "phaseless-trace":
                raise ModelError(f"'{self.path}' is not a Phaseless trace (root attribute 'format' is missing or wrong)")
            return (sorted(f["weights"].keys()) if "weights" in f else [],
                    sorted(f["report"].keys()) if "report" in f else [],
                    sorted(f["events"].keys()) if "events" in f else [])

        self.weight_names, self.report_names, self.event_names = _read(self.path, check)

    # --- metrics ---
    @property
    def metrics(self):
        def read(f):
            cols = {}
            if "metrics" not in f:
                return cols
            f["metrics"].visititems(lambda name, obj: cols.__setitem__(name, obj[()])
                                    if isinstance(obj, h5py.Dataset) else None)
            # A killed run's columns may differ by a row if it died inside a flush.
            n = min((len(v) for v in cols.values()), default=0)
            return {k: v[:n] for k, v in cols.items()}
        return _read(self.path, read)

    def _require(self, what, name, allowed, none=""):
        """ModelError naming the trace, what was asked and what it holds, unless `name` is in `allowed`."""
        if name not in allowed:
            raise ModelError(f"trace '{self.path}' has no {what} '{name}'; allowed: {', '.join(allowed) or none}")

    def metric(self, name):
        m = self.metrics
        self._require("metric", name, sorted(m))
        return m[name]

    @property
    def samples(self):
        return self.metric("samples")

    # --- weights ---
    def snapshots(self, name):
        self._require("projection", name, self.weight_names)

        def read(f):
            g = f["weights"][name]
            s = g["snapshots"]
            samples = s["samples"][()]
            bias = s["bias"][()] if "bias" in s else None
            # A killed run's datasets may differ by a row if it died inside a flush.
            n = min(len(samples), s["data"].shape[0], len(bias) if bias is not None else len(samples))
            return Snapshots(self.path, name, samples[:n], bias[:n] if bias is not None else None,
                             _text(g.attrs["pre"]), _text(g.attrs["post"]))
        return _read(self.path, read)

    @property
    def weights(self):
        """{projection: Snapshots}."""
        return {n: self.snapshots(n) for n in self.weight_names}

    def final_weights(self):
        """{projection: last snapshot [n_post, n_pre]}."""
        return {n: self.snapshots(n).last for n in self.weight_names}

    # --- reports ---
    def report(self, population):
        self._require("report of", population, self.report_names, "none recorded")

        def read(f):
            g = f["report"][population]
            m = g["mapping"]
            elements = _text(m.attrs["element_names"]).split(",")
            node_ids = m["node_ids"][()]
            samples, ticks, data = m["samples"][()], m["ticks"][()], g["data"][()]
            n = min(len(samples), len(ticks), len(data))
            return Report(population, data[:n].reshape(n, len(node_ids), len(elements)), elements, node_ids,
                          samples[:n], ticks[:n], tuple(m["time"][()].tolist()), _text(m["time"].attrs["units"]),
                          _text(g["data"].attrs["units"]))
        return _read(self.path, read)

    @property
    def reports(self):
        return {p: self.report(p) for p in self.report_names}

    # --- inside samples (record.events) ---
    def events(self, population):
        self._require("events of", population, self.event_names, "none recorded (record.events)")

        def read(f):
            g = f["events"][population]
            m = g["messages"]
            cols = ("sample", "tick", "step", "kind", "source", "neuron", "value", "dropped")
            n = min(len(m[c]) for c in cols)   # a kill during a flush: the shortest column
            messages = {c: m[c][:n] for c in cols}
            state = None
            if "state" in g:
                st = g["state"]
                elements = _text(st.attrs["element_names"]).split(",")
                node_ids = st["mapping/node_ids"][()]
                k = min(len(st["sample"]), len(st["tick"]), len(st["data"]))
                state = {"sample": st["sample"][:k], "tick": st["tick"][:k], "elements": elements,
                         "node_ids": node_ids,
                         "data": st["data"][:k].reshape(k, len(node_ids), len(elements))}
            return Events(population, messages, _text(m.attrs["kind_names"]).split(","),
                          _text(m.attrs["source_names"]).split(","), int(m.attrs["interval"]), state)
        return _read(self.path, read)

    # --- provenance ---
    @property
    def provenance(self):
        def read(f):
            if "provenance" not in f:
                return {}
            g = f["provenance"]
            p = {k: (_text(v) if isinstance(v, (bytes, str)) else v.item() if hasattr(v, "item") else v)
                 for k, v in g.attrs.items()}
            for k in ("model_text", "effective_model", "overrides"):
                if k in g:
                    p[k] = _text(g[k][()])
            p["sample_order"] = g["sample_order"][()] if "sample_order" in g else np.zeros(0, np.uint64)
            return p
        return _read(self.path, read)

    @property
    def model_text(self):
        return self.provenance["model_text"]

    @property
    def sample_order(self):
        return self.provenance["sample_order"]

    def __repr__(self):
        return (f"Trace({self.path!r}, weights={self.weight_names}, reports={self.report_names}"
                + (f", events={self.event_names})" if self.event_names else ")"))
