#!/usr/bin/python3
"""Plot Phaseless HDF5 traces: test accuracy, losses and weight norms vs training samples.

One trace:       plot_trace.py run.h5 -o run.png
Several traces:  plot_trace.py a.h5 b.h5 --labels event,baseline -o compare.png

Panels: test accuracy; train loss (solid) and test loss (dashed); and, when any trace
holds /weights/<projection>/snapshots, the Frobenius norm of each projection's weight
matrix. Each trace has one colour throughout; projections differ by line style.
Rows whose value is NaN (e.g. no test evaluation at that row) are skipped, not drawn as 0.

Run with Debian's interpreter, which has h5py and matplotlib:  /usr/bin/python3 tools/plot_trace.py
"""
import argparse
import sys
from pathlib import Path

try:
    import h5py
    import matplotlib
    import numpy as np
except ImportError as e:
    sys.exit(f"plot_trace.py: {e}; run it with /usr/bin/python3 (python3-h5py, python3-matplotlib)")

matplotlib.use("Agg")  # files only: works without a display
import matplotlib.pyplot as plt  # noqa: E402

LINESTYLES = ("-", "--", ":", "-.")


class TraceError(Exception):
    pass


def open_trace(path):
    # A run still writing holds the file in SWMR mode; reading it needs swmr=True.
    # Files written without SWMR (or with an older format) refuse that flag, so fall back.
    try:
        return h5py.File(path, "r", swmr=True)
    except (OSError, ValueError):
        return h5py.File(path, "r")


def read_trace(path):
    """Returns {'metrics': {name: array}, 'norms': {projection: (samples, norms)}, 'version': str}."""
    if not Path(path).is_file():
        raise TraceError(f"{path}: file not found")
    try:
        f = open_trace(path)
    except OSError as e:
        raise TraceError(f"{path}: not an HDF5 file ({e})") from None
    with f:
        if "metrics" not in f or "samples" not in f["metrics"]:
            raise TraceError(f"{path}: not a Phaseless trace (no /metrics/samples dataset)")
        m = f["metrics"]
        metrics = {name: np.asarray(m[name][()], dtype=np.float64)
                   for name in ("samples", "train_loss", "test_accuracy", "test_loss") if name in m}
        # A killed run may leave datasets one row apart; plot only the rows all of them have.
        rows = min(len(v) for v in metrics.values())
        metrics = {k: v[:rows] for k, v in metrics.items()}
        norms = {}
        for proj, group in (f["weights"].items() if "weights" in f else ()):
            snaps = group.get("snapshots") if isinstance(group, h5py.Group) else None
            if snaps is None or "data" not in snaps or "samples" not in snaps:
                continue
            data = snaps["data"]
            s = np.asarray(snaps["samples"][()], dtype=np.float64)
            t = min(len(s), data.shape[0])
            if t == 0:
                continue
            # One snapshot at a time: long runs hold many copies of a 784x256 matrix.
            norm = [np.linalg.norm(np.asarray(data[k], dtype=np.float64)) for k in range(t)]
            norms[proj] = (s[:t], np.asarray(norm))
        version = f.attrs.get("version", "?")
        if isinstance(version, bytes):
            version = version.decode()
        return {"metrics": metrics, "norms": norms, "version": str(version)}


def finite(x, y):
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def plot(traces, labels, output, title, log_loss, dpi):
    has_norms = any(t["norms"] for t in traces)
    n_panels = 3 if has_norms else 2
    fig, axes = plt.subplots(n_panels, 1, figsize=(8, 3.2 * n_panels), sharex=True, squeeze=False)
    axes = axes[:, 0]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (trace, label) in enumerate(zip(traces, labels)):
        c = colours[i % len(colours)]
        m = trace["metrics"]
        s = m["samples"]
        if "test_accuracy" in m:
            axes[0].plot(*finite(s, m["test_accuracy"]), color=c, marker=".", label=label)
        if "train_loss" in m:
            axes[1].plot(*finite(s, m["train_loss"]), color=c, label=f"{label} train")
        if "test_loss" in m:
            axes[1].plot(*finite(s, m["test_loss"]), color=c, linestyle="--", label=f"{label} test")
        for j, (proj, (ps, norm)) in enumerate(sorted(trace["norms"].items())):
            axes[2].plot(ps, norm, color=c, linestyle=LINESTYLES[j % len(LINESTYLES)],
                         marker=".", label=f"{label} {proj}")
    axes[0].set_ylabel("test accuracy")
    axes[1].set_ylabel("loss")
    if log_loss:
        axes[1].set_yscale("log")
    if has_norms:
        axes[2].set_ylabel("‖W‖ (Frobenius)")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize="small", loc="best")
    axes[-1].set_xlabel("training samples")
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

    try:
        traces = [read_trace(t) for t in args.traces]
    except TraceError as e:
        print(f"plot_trace.py: {e}", file=sys.stderr)
        return 2
    plot(traces, labels, output, args.title, args.log_loss, args.dpi)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
