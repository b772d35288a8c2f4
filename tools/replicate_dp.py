#!/usr/bin/python3
"""Dual-propagation replication (the protocol of models/README.md) with the phaseless Python module.

Runs every row of the protocol (784-512-512-10 ReLU, squared loss, Adam 1e-3,
batch 50, beta 1/2, Fashion-MNIST, 3 epochs) for each seed:

  BP (Z-IL + Adam, = backprop), DP-top alpha in {0, 1/2, 1}, DP alpha = 1/2,
  undamped DP alpha = 1 (expected to diverge), damped DP alpha = 1,

as phaseless.sweep(MODEL, seeds=...) (one process a seed), reads the metrics and the
first/last weight snapshots with phaseless.Trace, computes the Lipschitz proxy
opnorm(W2 W1 W0) with numpy, and writes a markdown table (results.md), results.json and
two PNGs (accuracy per epoch; the alpha sweep) to OUT (default data/replication/dp/).

usage: PYTHONPATH=build/python /usr/bin/python3 tools/replicate_dp.py [--seeds 1 2] [--jobs 2]
         [--plot-only] [--epochs-damped N] [--only KEY ...] [--samples N] [--out DIR]
--plot-only redraws the table and figures from the traces, or, when they are gone, from
OUT/results.json (no training). --samples N stops every run after N samples: a quick
end-to-end check (write it to another --out).
"""
import argparse
import json
import os
import re
import sys

import numpy as np

from script_support import ROOT, import_phaseless, pyplot

phaseless = import_phaseless("replicate_dp.py")
plt = pyplot()

# (key, label, model file, alpha or None, family)
ROWS = [
    ("bp", "BP (Z-IL + Adam)", "fmnist_dp_bp", None, "bp"),
    ("top0", "DP-top a=0", "fmnist_dp_top_a0", 0.0, "top"),
    ("top05", "DP-top a=1/2", "fmnist_dp_top_a05", 0.5, "top"),
    ("top1", "DP-top a=1", "fmnist_dp_top_a1", 1.0, "top"),
    ("dp05", "DP a=1/2", "fmnist_dp_a05", 0.5, "dp"),
    ("dp1", "DP a=1 undamped", "fmnist_dp_a1_undamped", 1.0, "dp"),
    ("ddp1", "damped DP a=1", "fmnist_dp_a1_damped", 1.0, "damped"),
]
ORDER = ("dp1", "bp", "top05", "dp05", "top0", "top1", "ddp1")   # the diverging run early, damped last


def run_row(out, key, model, seeds, sets, jobs):
    """phaseless.sweep over the seeds (parallel processes); traces to OUT/KEY_sSEED.h5, each
    with a JSON note of the run (exit 3: learning diverged, as the CLI's status)."""
    m = phaseless.load(os.path.join(ROOT, "models", model + ".textproto"), set=sets)
    for row in phaseless.sweep(m, grid={}, seeds=seeds, processes=jobs, out=os.path.join(out, "sweep"),
                               overwrite=True):
        path = os.path.join(out, f"{key}_s{row['seed']}.h5")
        os.replace(row["trace"], path)
        info = {"model": model, "set": {**sets, "seed": row["seed"]}, "exit": 3 if row["diverged"] else 0,
                "seconds": row["wall_time"], "message": row["diverged"]}
        json.dump(info, open(path + ".json", "w"), indent=1)
        print(f"  {key} seed {row['seed']}: exit {info['exit']} in {info['seconds']:.0f} s", flush=True)


def read(path):
    """A run's curves from its trace (phaseless.Trace), and opnorm(W2 W1 W0) at the first
    and the last snapshot."""
    info = json.load(open(path + ".json"))
    t = phaseless.Trace(path)
    snaps = [t.snapshots(name) for name in ("w0", "w1", "w2")]
    ws, first = [s.last.astype(np.float64) for s in snaps], [s.row(0).astype(np.float64) for s in snaps]
    prod, prod0 = ws[2] @ ws[1] @ ws[0], first[2] @ first[1] @ first[0]
    return {"samples": t.samples.tolist(), "accuracy": t.metric("test_accuracy").tolist(),
            "train_loss": t.metric("train_loss").tolist(), "exit": info["exit"],
            "message": info.get("message", info.get("stderr")), "seconds": info["seconds"],
            "opnorm": float(np.linalg.norm(prod, 2)) if np.all(np.isfinite(prod)) else float("nan"),
            "max_abs_w": float(max(np.max(np.abs(w)) for w in ws)),
            "snapshot_samples": int(snaps[-1].samples[-1]), "opnorm0": float(np.linalg.norm(prod0, 2))}


def diverged_at(r):
    """The sample a diverged run stopped at, from its message ("... at sample 22250 ...")."""
    m = re.search(r"at sample (\d+)", str(r.get("message") or ""))
    return int(m.group(1)) if m else r["samples"][-1]


def plot_accuracy_per_epoch(res, seeds, epochs_damped, out):
    """Test accuracy after each epoch. The y-axis spans every finite value from epoch 1 on (the
    untrained epoch-0 value, about 10 % for every run, is left out, so no curve enters from
    off the axis); a diverged run is a vertical line at the sample where it stopped."""
    fig, ax = plt.subplots(figsize=(10.5, 5))
    lo, hi = 100.0, 0.0
    for i, (key, label, model, alpha, fam) in enumerate(ROWS):
        for j, s in enumerate(seeds):
            r = res.get((key, s))
            if not r:
                continue
            pts = [(n / 50000, v * 100) for n, v in zip(r["samples"], r["accuracy"]) if n > 0 and v == v]
            if pts:
                x, y = zip(*pts)
                lo, hi = min(lo, *y), max(hi, *y)
                ax.plot(x, y, marker="o", color=f"C{i}", ls="-" if j == 0 else "--",
                        label=f"{label}, seed {s}" if len(seeds) > 1 else label)
            if r["exit"] == 3:
                at = diverged_at(r)
                ax.axvline(at / 50000, color=f"C{i}", ls="-" if j == 0 else "--", lw=1.5,
                           label=f"{label}, seed {s}: diverged at sample {at:,}")
    pad = max(0.5, 0.05 * (hi - lo))
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(0, 3.05)
    ax.set_xticks([0, 0.5, 1, 1.5, 2, 2.5, 3])
    ax.set_xlabel("epoch (50,000 samples)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Fashion-MNIST 784-512-512-10, MSE, Adam 1e-3, batch 50, beta 1/2\n"
                 "(untrained: about 10 % for every run, not drawn; solid and dashed: the two seeds; "
                 f"damped DP ran {epochs_damped} epoch(s))", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy_per_epoch.png"), dpi=120)
    plt.close(fig)


def fmt(x, nd=2):
    return "NaN" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{nd}f}"


def final_acc(r):
    fin = [x for x in r["accuracy"][1:] if x == x]
    return fin[-1] if fin and r["exit"] == 0 else float("nan")


def table(res, seeds):
    """Per row: accuracy after each epoch (mean over seeds), the final accuracy and opnorm per
    seed, the gap to BP after as many epochs, and the outcome."""
    lines = ["| run | test acc. epoch 1 / 2 / 3 (%, mean of seeds) | per seed, final | opnorm(W2W1W0) per seed | "
             "final - BP after as many epochs (points) | outcome |", "|---|---|---|---|---|---|"]
    for key, label, model, alpha, fam in ROWS:
        rs = [res[(key, s)] for s in seeds if (key, s) in res]
        if not rs:
            continue
        ep = []
        for e in (1, 2, 3):
            vals = [r["accuracy"][e] * 100 for r in rs if len(r["accuracy"]) > e and r["accuracy"][e] == r["accuracy"][e]]
            ep.append(fmt(float(np.mean(vals))) if len(vals) == len(rs) else "—")
        fins = [final_acc(r) * 100 for r in rs]
        ops = [r["opnorm"] for r in rs]
        # against BP after the same number of epochs (the damped row may run fewer)
        n_ep = max(len(r["accuracy"]) for r in rs) - 1
        bp_e = [res[("bp", s)]["accuracy"][n_ep] for s in seeds if ("bp", s) in res and len(res[("bp", s)]["accuracy"]) > n_ep]
        gap = float(np.mean(fins)) - float(np.mean(bp_e)) * 100 if key != "bp" and bp_e else 0.0
        if any(r["exit"] == 3 for r in rs):
            where = "; ".join(f"s{s}: exit {r['exit']} at sample {r['samples'][-1]}, opnorm {r['opnorm']:.3g} at the "
                              f"last snapshot ({r['snapshot_samples']} samples, initial {r['opnorm0']:.3g})"
                              for s, r in zip(seeds, rs))
            outcome = f"diverged ({where})"
        elif all(np.isfinite(fins)):
            outcome = "finite" + ("" if fam == "damped" else (", within 1.0 of BP" if abs(gap) <= 1.0 else ", NOT within 1.0 of BP"))
        else:
            outcome = "non-finite"
        lines.append(f"| {label} | {' / '.join(ep)} | {', '.join(fmt(x) for x in fins)} | "
                     f"{', '.join((fmt(x, 2) if x < 1e4 else f'{x:.3g}') if r['exit'] == 0 else 'n/a' for x, r in zip(ops, rs))} | "
                     f"{fmt(gap) if key != 'bp' else '—'} | {outcome} |")
    return "\n".join(lines)


def plot_alpha_sweep(res, seeds, epochs_damped, out):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 4))
    for fam, label, marker in (("top", "DP-top", "o"), ("dp", "DP (undamped)", "s"), ("damped", "damped DP", "^")):
        pts = [(alpha, key) for key, _, _, alpha, f in ROWS if f == fam]
        xs, acc, op = [], [], []
        for alpha, key in pts:
            for s in seeds:
                r = res.get((key, s))
                if r:
                    xs.append(alpha)
                    acc.append(final_acc(r) * 100 if r["exit"] == 0 else 10.0)
                    op.append(r["opnorm"] if r["exit"] == 0 else np.nan)   # diverged: no final weights
        a1.scatter(xs, acc, marker=marker, label=label)
        a2.scatter(xs, op, marker=marker, label=label)
    bp = [res[("bp", s)] for s in seeds if ("bp", s) in res]
    if bp:
        a1.axhline(np.mean([final_acc(r) for r in bp]) * 100, color="k", ls=":", label="BP")
        a2.axhline(np.mean([r["opnorm"] for r in bp]), color="k", ls=":", label="BP")
    a1.set_xlabel("alpha")
    a1.set_ylabel("final test accuracy (%) (diverged: plotted at 10)")
    a2.set_xlabel("alpha")
    a2.set_ylabel("opnorm(W2 W1 W0) (diverged runs omitted)")
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("alpha sweep (beta 1/2; 3 epochs, damped DP: %d epoch(s))" % epochs_damped, fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "alpha_sweep.png"), dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument("--epochs-damped", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="row keys to (re)run")
    ap.add_argument("--samples", type=int, help="stop every run after this many samples (a quick check)")
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "replication", "dp"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for key, _, model, _, fam in ([] if a.plot_only else sorted(ROWS, key=lambda r: ORDER.index(r[0]))):
        if not a.only or key in a.only:
            sets = ({"schedule.epochs": a.epochs_damped} if fam == "damped" else {}) | (
                {"schedule.max_samples": a.samples} if a.samples else {})
            run_row(a.out, key, model, a.seeds, sets, a.jobs)

    stored = os.path.join(a.out, "results.json")
    traces = {(k, s): os.path.join(a.out, f"{k}_s{s}.h5") for k, *_ in ROWS for s in a.seeds}
    if a.plot_only and not all(map(os.path.exists, traces.values())) and os.path.exists(stored):
        # The traces are not kept in the repository; results.json holds what the table and
        # the figures need, so they redraw without training again.
        saved = json.load(open(stored))
        res = {(k, s): saved[f"{k}_s{s}"] for k, s in traces if f"{k}_s{s}" in saved}
        print(f"redrawing from {stored} ({len(res)} runs)")
    else:
        res = {ks: read(path) for ks, path in traces.items() if os.path.exists(path)}
        json.dump({f"{k}_s{s}": v for (k, s), v in res.items()}, open(stored, "w"), indent=1)

    text = table(res, a.seeds)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(f"Seeds {a.seeds}; damped DP: {a.epochs_damped} epoch(s).\n\n" + text + "\n")
    print(text)
    for (k, s), r in res.items():
        if r["exit"] != 0:
            print(f"{k} seed {s}: exit {r['exit']}: {r['message'].splitlines()[-1] if r['message'] else ''}")
    plot_accuracy_per_epoch(res, a.seeds, a.epochs_damped, a.out)
    plot_alpha_sweep(res, a.seeds, a.epochs_damped, a.out)
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
