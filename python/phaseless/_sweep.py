"""Parameter sweeps: a grid of overrides x seeds, one run per process."""
import concurrent.futures
import itertools
import multiprocessing
import os

import numpy as np

from ._errors import ModelError, argument_error
from ._model import Model, load

__all__ = ["sweep", "SweepTable"]


class SweepTable:
    """One row per run: the grid's overrides, ``seed``, the final metrics, ``trace``,
    ``diverged``. ``table["test_accuracy"]`` is a column as a NumPy array,
    ``table[i]`` a row (dict); iterating yields rows."""

    def __init__(self, rows):
        self.rows = rows
        self.columns = list(dict.fromkeys(k for r in rows for k in r))

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self.columns:
                raise ModelError(f"sweep table has no column '{key}'; allowed: {', '.join(self.columns)}")
            return np.array([r.get(key) for r in self.rows])
        return self.rows[key]

    def to_csv(self, path):
        import csv
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.columns)
            w.writeheader()
            w.writerows(self.rows)

    def __repr__(self):
        shown = [c for c in self.columns if c not in ("wall_time", "ticks", "events", "synaptic_ops")]
        lines = ["  ".join(f"{c:>14}" for c in shown)]
        for r in self.rows:
            lines.append("  ".join(f"{r.get(c):>14.6g}" if isinstance(r.get(c), float) else f"{str(r.get(c)):>14}"
                                   for c in shown))
        return "\n".join(lines)


def _one(path, overrides, point, seed, trace, threads):
    # In a worker process: load (already validated by the parent), run, summarise.
    result = load(path, overrides).run(out=trace, threads=threads, progress=False)
    row = dict(point)
    row["seed"] = seed
    row.update(result.final)
    row["trace"] = trace
    row["diverged"] = result.diverged
    return row


def sweep(model, grid, seeds=None, processes=None, out="sweep", threads=1, overwrite=False):
    """Runs every combination of ``grid`` ({override path: [values]}) for every seed
    in ``seeds`` (None: the model's own), ``processes`` at a time (default: CPU count),
    each run with ``threads`` threads, writing ``out``/run-NNN.h5. Returns a SweepTable.

    Every combination is loaded and validated before any run starts. Existing traces in
    ``out`` are not replaced unless ``overwrite=True``.
    """
    if isinstance(model, (str, os.PathLike)):
        model = load(model)
    if not isinstance(model, Model):
        raise argument_error("model", model, "a phaseless.Model or a model file path")
    if not isinstance(grid, dict) or not all(isinstance(v, (list, tuple, range, np.ndarray)) for v in grid.values()):
        raise argument_error("grid", grid, '{"path.to.field": [value, ...], ...}')
    if seeds is not None and (not isinstance(seeds, (list, tuple, range)) or not seeds):
        raise argument_error("seeds", seeds, "None or a non-empty list of integers")
    if processes is not None and (not isinstance(processes, int) or processes < 1):
        raise argument_error("processes", processes, "None or an integer >= 1")
    if not isinstance(model.overrides, dict):
        raise argument_error("model", model, "a model loaded with set={...} as a dict (or no overrides)")

    keys = list(grid)
    points = [dict(zip(keys, values)) for values in itertools.product(*(list(grid[k]) for k in keys))]
    jobs = []
    for point in points:
        for seed in (seeds if seeds is not None else [model.seed]):
            overrides = {**model.overrides, **point, "seed": int(seed)}
            load(model.path, overrides)   # raises ModelError naming the bad value before anything runs
            jobs.append((point, int(seed), overrides))

    os.makedirs(out, exist_ok=True)
    traces = [os.path.join(out, f"run-{i:03d}.h5") for i in range(len(jobs))]
    clash = [t for t in traces if os.path.exists(t)]
    if clash and not overwrite:
        raise ModelError(f"sweep out='{out}': {clash[0]} exists ({len(clash)} of the traces); "
                         "allowed: a new folder, or overwrite=True")

    ctx = multiprocessing.get_context("fork")   # no __main__ guard needed; the module is already loaded
    with concurrent.futures.ProcessPoolExecutor(max_workers=processes or os.cpu_count(), mp_context=ctx) as pool:
        futures = [pool.submit(_one, model.path, overrides, point, seed, trace, threads)
                   for (point, seed, overrides), trace in zip(jobs, traces)]
        rows = [f.result() for f in futures]
    return SweepTable(rows)
