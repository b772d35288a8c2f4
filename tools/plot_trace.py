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
Inside one sample (a trace whose model has record { events { ... } }):
  plot_trace.py run.h5 --inside 3 -o sample3.png
draws the messages delivered to each recorded population over the ticks of training sample
3 (forward and error waves, dropped messages marked) and the per-tick state of the recorded
neurons (tools/plot_inside.py).
One trace: each projection or population has its own colour. Several traces: each trace has
one colour throughout, and projections and populations differ by line style.
Rows whose value is NaN (no evaluation at that row) are skipped, not drawn as 0.

Exit status: 0 written, 2 a file that is not a readable Phaseless trace or a bad option
(one message naming the file), 4 the PNG could not be written.
Reads traces with the phaseless Python module (a run still writing, a killed run's trace too); run
it with Debian's interpreter, which has matplotlib, from the repository root after the build:
  PYTHONPATH=build/python /usr/bin/python3 tools/plot_trace.py TRACE...
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from script_support import import_phaseless, pyplot
from plot_inside import InsideError, plot_inside

phaseless = import_phaseless("plot_trace.py")
plt = pyplot()
LINESTYLES = ("-", "--", ":", "-.")
# What reading a damaged trace can raise, beyond phaseless.Error (and its ModelError).
READ_ERRORS = (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError, RuntimeError)


class TraceError(Exception):
    pass


def weight_norms(snaps):
    """(samples, ||W||_F, samples from the second, ||W_t - W_(t-1)||_F per sample). One
    snapshot at a time: long runs hold many copies of a 784x256 matrix."""
    s = snaps.samples.astype(np.float64)
    w_norm, step, prev = [], [], None
    for k in range(len(s)):
        w = np.asarray(snaps.row(k), dtype=np.float64)
        w_norm.append(np.linalg.norm(w))
        if prev is not None:
            step.append(np.linalg.norm(w - prev) / max(s[k] - s[k - 1], 1))
        prev = w
    return s, np.asarray(w_norm), s[1:], np.asarray(step)


def report_means(rep):
    """(samples, {element: mean over neurons}); delta and eps as mean |.|."""
    return rep.samples.astype(np.float64), {
        e: (np.abs(rep[e]) if e in ("delta", "eps") else rep[e]).astype(np.float64).mean(axis=1)
        for e in rep.elements}


def read_trace(path):
    if not Path(path).is_file():
        raise TraceError(f"{path}: file not found")
    try:
        t = phaseless.Trace(path)
        cols = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in t.metrics.items()}
        if "samples" not in cols:
            raise TraceError(f"{path}: not a Phaseless trace (no /metrics/samples dataset); "
                             "traces are written by `phaseless run --out FILE`")
        align = {k.split("/")[1]: (cols[k], cols[k.replace("weight_", "signal_")]) for k in cols
                 if k.startswith("alignment/") and k.endswith("/weight_cosine")
                 and k.replace("weight_", "signal_") in cols}
        norms = {n: weight_norms(s) for n, s in t.weights.items() if len(s.samples)}
        reports = {p: report_means(r) for p, r in t.reports.items() if len(r.samples)}
        return {"metrics": cols, "align": align, "norms": norms, "reports": reports}
    except (phaseless.Error, *READ_ERRORS) as e:
        text = str(e).splitlines()[0] if str(e) else "damaged"
        raise TraceError(text if path in text else f"{path}: not a readable Phaseless trace "
                         f"({type(e).__name__}: {text})") from None


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
    p.add_argument("--inside", type=int, metavar="SAMPLE",
                   help="draw inside this recorded training sample (0-based; record.events) instead")
    p.add_argument("--neurons", type=int, default=6, help="--inside: neurons drawn per population (default 6)")
    args = p.parse_args()
    if args.inside is not None:
        return main_inside(p, args)

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


def main_inside(p, args):
    if len(args.traces) != 1:
        p.error("--inside draws one trace")
    if args.inside < 0 or args.neurons < 1:
        p.error("--inside takes a sample >= 0 and --neurons a count >= 1")
    output = Path(args.output) if args.output else Path(args.traces[0]).with_suffix(f".sample{args.inside}.png")
    if not output.parent.is_dir():
        p.error(f"{output}: folder {output.parent} does not exist")
    try:
        if not Path(args.traces[0]).is_file():
            raise InsideError(f"{args.traces[0]}: file not found")
        plot_inside(plt, phaseless.Trace(args.traces[0]), args.inside, output, args.title, args.dpi, args.neurons)
    except (InsideError, phaseless.Error) as e:
        print(f"plot_trace.py: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"plot_trace.py: cannot write {output}: {e.strerror or e}", file=sys.stderr)
        return 4
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
