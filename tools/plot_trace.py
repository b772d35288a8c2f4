#!/usr/bin/python3
"""Plot Phaseless HDF5 traces: the panels that fit what each trace holds.

One trace:       plot_trace.py run.h5 -o run.png
Several traces:  plot_trace.py a.h5 b.h5 --labels event,baseline -o compare.png

Panels (each drawn when some trace holds its data), against training samples:
  test accuracy (%)              /metrics/test_accuracy (classification)
  test NSE                       /metrics/test_nse (regression, e.g. the teacher task)
  loss                           /metrics/train_loss (solid), test_loss (dashed)
  energy                         /metrics/energy (IL, IL-prox: the free energy per sample)
  feedback alignment             /metrics/alignment/<projection>/weight_cosine: cos(W, B^T), and
                                 signal_cosine as the angle between B^T delta and W^T delta (degrees)
  dyad compartments              /report/<population> elements s_plus, s_minus (DP): mean over neurons
  Delta per layer                /report/<population> element delta (DP): mean |s_plus - s_minus|
  prediction error per layer     /report/<population> element eps (predictive coding): mean |eps|
  weight norm                    /weights/<projection>/snapshots: ||W||_F
  update norm                    ||W_t - W_(t-1)||_F per sample between snapshots
One trace: each projection or population has its own colour. Several traces: each trace has
one colour throughout, and projections and populations differ by line style.
Rows whose value is NaN (no evaluation at that row) are skipped, not drawn as 0.

Exit status: 0 written, 2 a file that is not a readable Phaseless trace or a bad option
(one message naming the file), 4 the PNG could not be written.
Run with Debian's interpreter, which has h5py and matplotlib:  /usr/bin/python3 tools/plot_trace.py
"""
import argparse
import os
import sys
from pathlib import Path

# Phaseless writes traces without file locking, so that they can be read while a run is
# going; a reader must not lock either. (Set before h5py loads the HDF5 library.)
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

try:
    import h5py
    import matplotlib
    import numpy as np
except ImportError as e:
    sys.exit(f"plot_trace.py: {e}; run it with /usr/bin/python3 (Debian packages python3-h5py, "
             "python3-matplotlib; tools/setup-deps.sh installs them)")

matplotlib.use("Agg")  # files only: works without a display
import matplotlib.pyplot as plt  # noqa: E402

LINESTYLES = ("-", "--", ":", "-.")


class TraceError(Exception):
    pass


def open_trace(path):
    # Phaseless writes HDF5 1.8-format files without SWMR, readable by a plain open at any
    # time. No SWMR fallback: on a damaged file it retries for minutes instead of failing.
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise TraceError(f"{path}: not a readable HDF5 file ({str(e).splitlines()[0]})") from None


def floats(ds):
    return np.asarray(ds[()], dtype=np.float64).reshape(-1)


def read_metrics(f):
    m = f["metrics"]
    names = ("samples", "train_loss", "test_accuracy", "test_loss", "energy", "test_nse")
    metrics = {n: floats(m[n]) for n in names if n in m and isinstance(m[n], h5py.Dataset)}
    align = {}
    if "alignment" in m and isinstance(m["alignment"], h5py.Group):
        for proj, g in m["alignment"].items():
            if isinstance(g, h5py.Group) and "weight_cosine" in g and "signal_cosine" in g:
                align[proj] = (floats(g["weight_cosine"]), floats(g["signal_cosine"]))
    # A killed run may leave datasets one row apart; use only the rows all of them have.
    rows = min([len(v) for v in metrics.values()] + [len(a) for pair in align.values() for a in pair])
    metrics = {k: v[:rows] for k, v in metrics.items()}
    align = {k: (w[:rows], s[:rows]) for k, (w, s) in align.items()}
    return metrics, align


def read_weights(f):
    norms = {}
    for proj, group in (f["weights"].items() if "weights" in f else ()):
        snaps = group.get("snapshots") if isinstance(group, h5py.Group) else None
        if not isinstance(snaps, h5py.Group) or "data" not in snaps or "samples" not in snaps:
            continue
        data = snaps["data"]
        s = floats(snaps["samples"])
        t = min(len(s), data.shape[0])
        if t == 0:
            continue
        # One snapshot at a time: long runs hold many copies of a 784x256 matrix.
        w_norm, step = [], []
        prev = None
        for k in range(t):
            w = np.asarray(data[k], dtype=np.float64)
            w_norm.append(np.linalg.norm(w))
            if prev is not None:
                step.append(np.linalg.norm(w - prev) / max(s[k] - s[k - 1], 1))
            prev = w
        norms[proj] = (s[:t], np.asarray(w_norm), s[1:t], np.asarray(step))
    return norms


def read_reports(f):
    """{population: (samples, {element: mean over neurons})}; delta and eps as mean |.|."""
    out = {}
    for pop, g in (f["report"].items() if "report" in f else ()):
        if not isinstance(g, h5py.Group) or "data" not in g or "mapping" not in g:
            continue
        mp = g["mapping"]
        names = mp.attrs.get("element_names", "")
        names = names.decode() if isinstance(names, bytes) else str(names)
        names = [n for n in names.split(",") if n]
        if not names or "samples" not in mp:
            continue
        data = np.asarray(g["data"][()], dtype=np.float64)
        s = floats(mp["samples"])
        frames = min(len(s), data.shape[0])
        if frames == 0 or data.ndim != 2 or data.shape[1] % len(names):
            continue
        k = len(names)
        means = {}
        for e, name in enumerate(names):
            col = data[:frames, e::k]
            means[name] = np.abs(col).mean(axis=1) if name in ("delta", "eps") else col.mean(axis=1)
        out[pop] = (s[:frames], means)
    return out


def read_trace(path):
    if not Path(path).is_file():
        raise TraceError(f"{path}: file not found")
    f = open_trace(path)
    try:
        with f:
            if not isinstance(f.get("metrics"), h5py.Group) or not isinstance(f["metrics"].get("samples"), h5py.Dataset):
                raise TraceError(f"{path}: not a Phaseless trace (no /metrics/samples dataset); "
                                 "traces are written by `phaseless run --out FILE`")
            metrics, align = read_metrics(f)
            return {"metrics": metrics, "align": align, "norms": read_weights(f), "reports": read_reports(f)}
    except TraceError:
        raise
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise TraceError(f"{path}: not a readable Phaseless trace ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else 'damaged'})") from None


def finite(x, y):
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def panels_for(traces):
    """Panel ids in drawing order, each with its y label."""
    has = lambda pred: any(pred(t) for t in traces)  # noqa: E731
    fin = lambda t, k: k in t["metrics"] and np.isfinite(t["metrics"][k]).any()  # noqa: E731
    el = lambda t, e: any(e in m for _, m in t["reports"].values())  # noqa: E731
    # Regression traces (test_nse) carry a meaningless accuracy column.
    spec = [("accuracy", "test accuracy (%)", has(lambda t: fin(t, "test_accuracy") and not fin(t, "test_nse"))),
            ("nse", "test NSE", has(lambda t: fin(t, "test_nse"))),
            ("loss", "loss (train solid, test dashed)", True),
            ("energy", "energy per sample", has(lambda t: fin(t, "energy"))),
            ("wcos", "cos(W, Bᵀ) per projection", has(lambda t: t["align"])),
            ("angle", "angle(Bᵀδ, Wᵀδ) (degrees)", has(lambda t: t["align"])),
            ("dyads", "mean s⁺ (solid), s⁻ (dashed)", has(lambda t: el(t, "s_plus"))),
            ("delta", "mean |Δ| per layer (one sample a frame)", has(lambda t: el(t, "delta"))),
            ("eps", "mean |ε| per layer (one sample a frame)", has(lambda t: el(t, "eps"))),
            ("wnorm", "‖W‖ (Frobenius)", has(lambda t: t["norms"])),
            ("unorm", "‖ΔW‖ per sample", has(lambda t: any(len(n[3]) for n in t["norms"].values())))]
    return [(pid, label) for pid, label, on in spec if on]


def draw(ax, pid, trace, label, c, multi):
    """c: the trace's colour. With one trace, series j (a projection, a population) gets
    colour j and a solid line instead."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    col = (lambda j: c) if multi else (lambda j: colours[j % len(colours)])  # noqa: E731
    style = (lambda j: LINESTYLES[j % 4]) if multi else (lambda j: "-")  # noqa: E731
    m = trace["metrics"]
    s = m["samples"]
    tag = (lambda x: f"{label} {x}") if multi else (lambda x: x)
    if pid == "accuracy" and "test_accuracy" in m:
        ax.plot(*finite(s, 100 * m["test_accuracy"]), color=c, marker=".", label=label)
    elif pid == "nse" and "test_nse" in m:
        ax.plot(*finite(s, m["test_nse"]), color=c, marker=".", label=label)
    elif pid == "loss":
        if "train_loss" in m:
            ax.plot(*finite(s, m["train_loss"]), color=c, label=tag("train"))
        if "test_loss" in m:
            ax.plot(*finite(s, m["test_loss"]), color=c, linestyle="--", label=tag("test"))
    elif pid == "energy" and "energy" in m:
        ax.plot(*finite(s, m["energy"]), color=c, label=label)
    elif pid in ("wcos", "angle"):
        for j, (proj, (wc, sc)) in enumerate(sorted(trace["align"].items())):
            y = wc if pid == "wcos" else np.degrees(np.arccos(np.clip(sc, -1, 1)))
            ax.plot(*finite(s, y), color=col(j), linestyle=style(j), marker=".", label=tag(proj))
    elif pid in ("dyads", "delta", "eps"):
        for j, (pop, (rs, means)) in enumerate(sorted(trace["reports"].items())):
            if pid == "dyads" and "s_plus" in means:
                ax.plot(rs, means["s_plus"], color=col(j), linestyle="-", marker="o", markersize=3, label=tag(f"{pop} s⁺"))
                ax.plot(rs, means["s_minus"], color=col(j), linestyle="--", marker="x", markersize=4, label=tag(f"{pop} s⁻"))
            elif pid in means:
                ax.plot(rs, means[pid], color=col(j), linestyle=style(j), marker=".", label=tag(pop))
    elif pid in ("wnorm", "unorm"):
        for j, (proj, (ws, wn, us, un)) in enumerate(sorted(trace["norms"].items())):
            x, y = (ws, wn) if pid == "wnorm" else (us, un)
            if len(x):
                ax.plot(x, y, color=col(j), linestyle=style(j), marker=".", label=tag(proj))


def plot(traces, labels, output, title, log_loss, dpi):
    panels = panels_for(traces)
    cols = 2 if len(panels) > 2 else 1
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 3.0 * rows), squeeze=False)
    flat = list(axes.flat)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (pid, ylabel) in zip(flat, panels):
        for i, (trace, label) in enumerate(zip(traces, labels)):
            draw(ax, pid, trace, label, colours[i % len(colours)], len(traces) > 1)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("training samples")
        ax.grid(True, alpha=0.3)
        if pid == "loss" and log_loss or pid in ("unorm", "delta", "eps") and ax.has_data():
            ax.set_yscale("log")
        if ax.has_data():
            ax.legend(fontsize="small", loc="best")
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(output, dpi=dpi)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("traces", nargs="+", help="Phaseless HDF5 trace files")
    p.add_argument("--labels", help="comma-separated legend labels, one per trace (default: file names)")
    p.add_argument("-o", "--output", help="PNG to write (default: <first trace>.png)")
    p.add_argument("--title", help="figure title")
    p.add_argument("--log-loss", action="store_true", help="logarithmic loss axis")
    p.add_argument("--dpi", type=int, default=120, help="PNG resolution (default 120)")
    args = p.parse_args()

    if args.labels is not None:
        labels = [s.strip() for s in args.labels.split(",")]
        if len(labels) != len(args.traces):
            p.error(f"--labels has {len(labels)} entries but {len(args.traces)} traces were given")
    else:
        labels = [Path(t).stem for t in args.traces]
    output = Path(args.output) if args.output else Path(args.traces[0]).with_suffix(".png")
    if not output.parent.is_dir():
        p.error(f"{output}: folder {output.parent} does not exist")
    if any(Path(t).resolve() == output.resolve() for t in args.traces):
        p.error(f"{output}: is one of the traces; choose another output file")

    try:
        traces = [read_trace(t) for t in args.traces]
    except TraceError as e:
        print(f"plot_trace.py: {e}", file=sys.stderr)
        return 2
    try:
        plot(traces, labels, output, args.title, args.log_loss, args.dpi)
    except OSError as e:
        print(f"plot_trace.py: cannot write {output}: {e.strerror or e}", file=sys.stderr)
        return 4
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
