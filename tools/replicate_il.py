#!/usr/bin/python3
"""Replication of the IL / IL-prox learning-rate stability result (spec pc-family.md
§4.2 L1/L2, §4.3 Tables R1/R2) with the phaseless Python module, on Fashion-MNIST, batch 1.

  1. sweep: alpha in {0.01, 0.1, 1, 2.5, 10, 100} for BP-SGD (the Z-IL rule, which
     equals backprop, with the biases of h1, h2 and out frozen at their initial values
     as in the authors' BP-SGD, spec §2.7/§2.8), IL-SGD and IL-prox (eps_n = 0),
     5,000 samples, >= 3 seeds;
     evaluations every 500 samples on the first 2,000 test images (the final
     accuracy of the sweep is on those 2,000 too; stated in the table).
  2. best alpha: BP-SGD 0.01, IL-SGD 0.03, IL-prox 2.5 (eps_n 0.25), IL-prox Fast 2.5
     (eps_n 0.25), 20,000 samples, evaluations every 500 samples on the full 10k test set.
  3. oracle (skip with --no-oracle): the BP-SGD sweep again in PyTorch
     (tools/bp_sgd_torch.py, the authors' protocol), once with the stable softmax
     cross-entropy and once with log(softmax(h)), which is -inf as soon as a float32
     probability underflows. The spec's run reports NaN at alpha = 0.1; these two rows
     show which of the two losses produces it.

Every model reads raw pixels in [0, 1] as the authors' ToTensor() (the Z-IL model's
standardization is switched off). A run that diverges stops with its trace's last
metrics row NaN (the run's `diverged` is set): it is reported as "diverged", never as
a number.
A run that finishes but ends at chance (final test accuracy <= 11 % on 10 classes
with test cross-entropy >= 2.29, i.e. about ln 10) is reported as "collapsed
(chance)": its accuracy is counted in the mean, and the cell says how many seeds
collapsed.

  PYTHONPATH=build/python /usr/bin/python3 tools/replicate_il.py [--seeds 3]
      [--jobs 2] [--work /tmp/phaseless_il_runs] [--out data/replication/il]
      [--only METHOD ...] [--no-oracle]

--only runs just the named methods (e.g. --only BP-SGD) and merges their runs into
the existing OUT/results.json, replacing that method's stored runs and keeping the
others; the table and plots are then regenerated from the merged results.

Each method's runs are one phaseless.sweep (alpha x seeds, --jobs processes); the curves
are read back with phaseless.Trace. Writes OUT/table.md, OUT/results.json,
OUT/accuracy_vs_alpha.png and OUT/accuracy_vs_samples.png. Traces stay in WORK, one
folder a sweep, reused when it is complete and ran with the same settings. A quick
end-to-end check: --seeds 2 --sweep-samples 500 --best-samples 1000 --no-oracle
--work /tmp/il_quick --out /tmp/il_quick.
"""
import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from script_support import ROOT, import_phaseless, mean_sd, pyplot, run_oracle

phaseless = import_phaseless("replicate_il.py")
plt = pyplot()
ALPHAS = [0.01, 0.1, 1, 2.5, 10, 100]
RAW_PIXELS = {"data.pixel_scale": 1 / 255, "data.pixel_offset": 0}
# The authors' BP-SGD updates weights only (`weight -= lr*grad`) and leaves every bias
# at its initial value (spec pc-family.md §2.7 "BP baselines" and §2.8 "BP-SGD in this
# code leaves biases frozen"); we replicate that with Population.fixed_bias.
FIXED_BIAS = {f"populations[{p}].fixed_bias": True for p in ("h1", "h2", "out")}

# method -> (model file, the field alpha sets, extra settings)
METHODS = {
    "BP-SGD": ("fmnist_zil.textproto", "rule.zil.optimizer.lr", {**RAW_PIXELS, **FIXED_BIAS}),
    "IL-SGD": ("fmnist_il.textproto", "rule.il.optimizer.lr", {}),
    "IL-prox": ("fmnist_il_prox.textproto", "rule.il_prox.alpha", {}),
    "IL-prox Fast": ("fmnist_il_prox_fast.textproto", "rule.il_prox.alpha", {}),
}
SWEEP = {"BP-SGD": {}, "IL-SGD": {}, "IL-prox": {"rule.il_prox.eps_n": 0}}   # method -> extra settings
BEST = [("BP-SGD", 0.01, {}), ("IL-SGD", 0.03, {}), ("IL-prox", 2.5, {"rule.il_prox.eps_n": 0.25}),
        ("IL-prox Fast", 2.5, {"rule.il_prox.eps_n": 0.25})]
CURVES = ("samples", "test_accuracy", "test_loss", "train_loss", "energy")
ORACLES = {"stable": [], "log_softmax": ["--naive-ce"]}
ORACLE_LABEL = {"stable": "BP-SGD, PyTorch oracle, stable CE",
                "log_softmax": "BP-SGD, PyTorch oracle, log(softmax) CE"}
COLORS = {"BP-SGD": "tab:red", "IL-SGD": "tab:blue", "IL-prox": "tab:green", "IL-prox Fast": "tab:olive"}


def run_sweep(work, jobs, tag, method, alphas, seeds, samples, test_subset, extra):
    """One phaseless.sweep (alphas x seeds) of a method; each run's curves read back with
    phaseless.Trace. Kept in WORK/TAG-METHOD/ and reused while the settings are the same."""
    model, alpha_field, base = METHODS[method]
    sets = {**base, **extra, "schedule.max_samples": samples, "schedule.eval_every": 500,
            "data.test_subset": test_subset, "schedule.epochs": 1}
    out = os.path.join(work, f"{tag}-{method.replace(' ', '_')}")
    done, key = os.path.join(out, "runs.json"), {"sets": sets, "alphas": alphas, "seeds": seeds}
    if os.path.exists(done) and json.load(open(done))["key"] == key:
        return json.load(open(done))["runs"]
    runs = []
    m = phaseless.load(os.path.join(ROOT, "models", model), set=sets)
    for row in phaseless.sweep(m, grid={alpha_field: alphas}, seeds=seeds, processes=jobs, out=out, overwrite=True):
        curves = {k: v.astype(float).tolist() for k, v in phaseless.Trace(row["trace"]).metrics.items() if k in CURVES}
        r = {"tag": tag, "method": method, "alpha": row[alpha_field], "seed": row["seed"], "wall": row["wall_time"],
             "diverged": bool(row["diverged"]) or not math.isfinite(curves["test_accuracy"][-1]),
             "message": row["diverged"], **curves}
        r["collapsed"] = collapsed(r)
        runs.append(r)
        print(f"{tag:5s} {method:13s} alpha {r['alpha']:<6g} seed {r['seed']}  "
              f"{'diverged' if r['diverged'] else '%.2f%%' % (100 * r['test_accuracy'][-1])}"
              f"{' (collapsed)' if r['collapsed'] else ''}  {r['wall']:.1f}s", flush=True)
    json.dump({"key": key, "runs": runs}, open(done, "w"))
    return runs


def oracle_runs(work, variant, alpha, n_seeds, samples, tag="oracle"):
    """tools/bp_sgd_torch.py for seeds 1..n_seeds at one alpha; its runs in this script's
    result layout (samples, test_accuracy, test_loss, diverged)."""
    out = os.path.join(work, f"oracle-{variant}-a{alpha:g}-n{n_seeds}-{samples}.json")
    if not os.path.exists(out):
        run_oracle("bp_sgd_torch.py", ["--alpha", repr(alpha), "--seeds", f"1-{n_seeds}", "--samples", samples,
                                       "--eval-every", 500, "--test-subset", 2000, "--json", out + ".tmp",
                                       *ORACLES[variant]])
        os.replace(out + ".tmp", out)
    return [{"tag": tag, "method": variant, "alpha": alpha, "seed": r["seed"], "diverged": r["end"] == "nan",
             "max_abs_w": r["max_abs_w"], "samples": [x[0] for x in r["curve"]],
             "test_accuracy": [x[1] for x in r["curve"]], "test_loss": [x[2] for x in r["curve"]]}
            for r in json.load(open(out))["runs"]]


def collapsed(r):
    """Finished, but at chance: final test accuracy <= 11 % (10 classes) and test
    cross-entropy >= 2.29 (ln 10 = 2.303). Distinct from "diverged" (NaN)."""
    return not r["diverged"] and r["test_accuracy"][-1] <= 0.11 and r["test_loss"][-1] >= 2.29


def cell(rs, value):
    """'m ± sd' over the runs that finished, with '(diverged k/n, collapsed j/n)'."""
    ok = [r for r in rs if not r["diverged"]]
    nd, nc = len(rs) - len(ok), sum(collapsed(r) for r in ok)
    if not ok:
        return "diverged"
    m, sd = mean_sd([value(r) for r in ok])
    notes = ([f"diverged {nd}/{len(rs)}"] if nd else []) + ([f"collapsed {nc}/{len(rs)}"] if nc else [])
    return f"{m:.1f} ± {sd:.1f}" + (f" ({', '.join(notes)})" if notes else "")


def at(r, n):
    """Test accuracy (%) at n samples (NaN if the run stopped before)."""
    return next((100 * a for s, a in zip(r["samples"], r["test_accuracy"]) if int(s) == n), float("nan"))


def final(r):
    return 100 * r["test_accuracy"][-1]


def mean_at(rs, p, i):
    """Mean and sd of the accuracy at p samples (the i-th evaluation point) over the runs that got there."""
    vals = [v for v in (at(r, p) for r in rs if not r["diverged"] or len(r["samples"]) > i) if math.isfinite(v)]
    return mean_sd(vals) if vals else (float("nan"), 0)


def runs_of(results, tag, method, alpha=None):
    return [r for r in results if r["tag"] == tag and r["method"] == method and alpha in (None, r["alpha"])]


def sweep_table(a, results, oracle):
    """Table 1 (test accuracy after the sweep's samples, per method and alpha); the oracle rows."""
    lines = [f"**Sweep: test accuracy (%) after {a.sweep_samples} samples, batch 1** (first 2,000 test images; "
             "mean ± sd over the seeds that finished; \"diverged k/n\": the run stopped with exit status 3 — "
             "NaN/Inf — in k of the n seeds; \"collapsed k/n\": k seeds finished at chance, accuracy ≤ 11 % "
             "with test loss ≥ 2.29 ≈ ln 10, and are included in the mean). BP-SGD keeps its biases fixed "
             "at their initial values, as the authors' code.", "",
             "| method | " + " | ".join(f"α = {x:g}" for x in ALPHAS) + " |", "| --- |" + " --- |" * len(ALPHAS)]
    for method in SWEEP:
        label = {"IL-prox": "IL-prox (ε_n = 0)", "BP-SGD": "BP-SGD (fixed biases)"}.get(method, method)
        lines.append(f"| {label} | " + " | ".join(cell(runs_of(results, "sweep", method, x), final)
                                                 for x in ALPHAS) + " |")
    for v in ORACLES if oracle else []:
        lines.append(f"| {ORACLE_LABEL[v]} | " + " | ".join(cell(runs_of(oracle, "oracle", v, x), final)
                                                           for x in ALPHAS) + " |")
    if oracle:
        lines += ["", "The two oracle rows are `tools/bp_sgd_torch.py` (PyTorch, the authors' protocol: "
                  "nn.Linear init, fixed biases, float32, as many seeds, drawn by torch), the first with "
                  "`F.cross_entropy`, the second with `-log(softmax(h))`."]
    return lines + ["", "IL-prox accuracy after 500 samples of the sweep (%): " + ", ".join(
        f"α {x:g}: {mean_sd([at(r, 500) for r in runs_of(results, 'sweep', 'IL-prox', x)])[0]:.1f}" for x in ALPHAS)]


def best_table(a, results):
    """Table 2 (best alpha: accuracy at fixed sample counts, mean of the last 5 evaluations)."""
    points = [p for p in (500, 1000, 2000, 5000, 10000, 20000) if p <= a.best_samples]
    lines = ["", f"**Best α, {a.best_samples} samples, batch 1: test accuracy (%) on the full 10k test set**", "",
             "| method (α, ε_n) | " + " | ".join(f"{p}" for p in points) + " | mean of last 5 evals | wall s/run |",
             "| --- |" + " --- |" * (len(points) + 2)]
    for method, alpha, extra in BEST:
        rs = runs_of(results, "best", method)
        cells = ["%.1f ± %.1f" % mean_at(rs, p, i) for i, p in enumerate(points)]
        last5 = cell(rs, lambda r: np.mean([100 * x for x in r["test_accuracy"][-5:]]))
        name = "BP-SGD, fixed biases" if method == "BP-SGD" else method
        lines.append(f"| {name} ({alpha:g}{',0.25' if 'prox' in method else ''}) | " + " | ".join(cells) +
                     f" | {last5} | {np.mean([r['wall'] for r in rs]):.0f} |")
    return lines


def expectations(a, results, oracle):
    """The checks against spec §4.3, each 'holds' or 'does NOT hold' with the numbers."""
    def fmt(b):
        return "holds" if b else "does NOT hold"

    def finished(method, x):
        return [final(r) for r in runs_of(results, "sweep", method, x) if not r["diverged"]]

    def how(x):
        rs = runs_of(results, "sweep", "BP-SGD", x)
        nd, nc = sum(r["diverged"] for r in rs), sum(collapsed(r) for r in rs)
        rest = [final(r) for r in rs if not r["diverged"] and not collapsed(r)]
        return f"α {x:g}: " + ", ".join([f"NaN {nd}/{len(rs)}", f"chance {nc}/{len(rs)}"] + (
            [f"other seeds {', '.join('%.1f %%' % v for v in rest)}"] if rest else []))

    def long_runs(v):
        rs = runs_of(oracle, "oracle-long", v)
        nan_at = sorted(r["samples"][-1] for r in rs if r["diverged"])
        return (f"NaN in {len(nan_at)}/{len(rs)}" + (f" (at {', '.join(f'{n:,}' for n in nan_at)} samples)"
                if nan_at else "") + f", collapsed to chance in {sum(collapsed(r) for r in rs)}/{len(rs)}")
    high = [x for x in ALPHAS if x >= 0.1]
    bp_fail = all(r["diverged"] or collapsed(r) or final(r) < 40 for x in high for r in runs_of(results, "sweep", "BP-SGD", x))
    prox = {x: finished("IL-prox", x) for x in ALPHAS}
    lead = mean_at(runs_of(results, "best", "IL-prox"), 500, 0)[0] - mean_at(runs_of(results, "best", "BP-SGD"), 500, 0)[0]
    finals = [np.mean([np.mean([100 * x for x in r["test_accuracy"][-5:]]) for r in runs_of(results, "best", m)
                       if not r["diverged"]]) for m, _, _ in BEST]
    spread = max(finals) - min(finals)
    oracle_line = ([f"* Where the spec's NaN at α = 0.1 comes from: the PyTorch oracle, α = 0.1, "
                    f"{a.best_samples:,} samples, seeds 1–{a.oracle_seeds}: with log(softmax) cross-entropy "
                    f"{long_runs('log_softmax')}; with the stable form, which Phaseless uses, "
                    f"{long_runs('stable')}."] if oracle else [])
    return ["", "Expectations (spec §4.3):", "",
            f"* BP-SGD diverges (NaN) for every α ≥ 0.1: {fmt(not any(finished('BP-SGD', x) for x in high))}. "
            f"BP-SGD fails (NaN or chance, or below 40 %) for every α ≥ 0.1: {fmt(bp_fail)}. "
            f"({'; '.join(how(x) for x in high)}.)",
            *oracle_line,
            f"* IL-SGD diverges by α = 10: {fmt(not finished('IL-SGD', 10) or not finished('IL-SGD', 100))}.",
            f"* IL-prox stays finite at every α: {fmt(all(prox.values()))}; ≥ 75 % for every α ≥ 0.1: "
            f"{fmt(all(prox[x] and np.mean(prox[x]) >= 75 for x in high))}.",
            f"* IL-prox leads BP-SGD by ≥ 10 points after 500 samples: {fmt(lead >= 10)} ({lead:+.1f} points).",
            f"* After {a.best_samples} samples all within about 2 points (mean of the last 5 evals): "
            f"{fmt(spread <= 2.5)} (spread {spread:.1f} points)."]


def plot_alpha(a, results, oracle):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for k, method in enumerate(SWEEP):
        rss = [runs_of(results, "sweep", method, x) for x in ALPHAS]
        ok = [[final(r) for r in rs if not r["diverged"]] for rs in rss]
        ms, sds = zip(*(mean_sd(v) if v else (float("nan"), float("nan")) for v in ok))   # NaN breaks the line
        ax.errorbar(ALPHAS, ms, yerr=sds, marker="o", capsize=3, color=COLORS[method],
                    label="BP-SGD (fixed biases)" if method == "BP-SGD" else method)
        dx = [x for x, v, rs in zip(ALPHAS, ok, rss) if len(v) < len(rs)]
        cx = [x for x, rs in zip(ALPHAS, rss) if any(collapsed(r) for r in rs)]
        if dx:
            ax.scatter(dx, [6 - 2.5 * k] * len(dx), marker="x", s=50, color=COLORS[method])
        if cx:
            ax.scatter(cx, [16 - 2.5 * k] * len(cx), marker="v", s=40, facecolors="none", edgecolors=COLORS[method])
    for v, ls in zip(ORACLES if oracle else [], ("--", ":")):
        ok = [[final(r) for r in runs_of(oracle, "oracle", v, x) if not r["diverged"]] for x in ALPHAS]
        ax.plot(ALPHAS, [mean_sd(o)[0] if o else float("nan") for o in ok], ls=ls, color="tab:red", alpha=0.6,
                label=ORACLE_LABEL[v].replace("BP-SGD, ", ""))
    ax.axhline(10, color="grey", lw=0.8, ls=":")
    ax.text(0.011, 85, "x: diverged (NaN) in ≥ 1 seed;  ▽: collapsed to chance (≤ 11 %) in ≥ 1 seed;"
            "  dotted: chance", fontsize=7, color="grey")
    ax.set(xscale="log", ylim=(0, 90), xlabel="learning rate α", ylabel=f"test accuracy after {a.sweep_samples} samples (%)",
           title="Fashion-MNIST, batch 1: stability across learning rates")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.16), fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "accuracy_vs_alpha.png"), dpi=120)


def plot_best(a, results):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, alpha, _ in BEST:
        rs = [r for r in runs_of(results, "best", method) if not r["diverged"]]
        n = min(len(r["samples"]) for r in rs)
        s = np.array(rs[0]["samples"][1:n])
        acc = np.array([[100 * x for x in r["test_accuracy"][1:n]] for r in rs])
        m, sd = acc.mean(0), acc.std(0, ddof=1) if len(rs) > 1 else np.zeros(n - 1)
        ax.plot(s, m, color=COLORS[method],
                label=f"{method}{' (fixed biases)' if method == 'BP-SGD' else ''} (α {alpha:g})")
        ax.fill_between(s, m - sd, m + sd, color=COLORS[method], alpha=0.2)
    ax.set(xscale="log", xlabel="training samples (batch 1)", ylabel="test accuracy (%)",
           title=f"Fashion-MNIST, best α, mean ± sd over {a.seeds} seeds")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "accuracy_vs_samples.png"), dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default="/tmp/phaseless_il_runs")
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "replication", "il"))
    ap.add_argument("--sweep-samples", type=int, default=5000)
    ap.add_argument("--best-samples", type=int, default=20000)
    ap.add_argument("--only", nargs="+", choices=list(METHODS), metavar="METHOD",
                    help="run only these methods and merge them into the existing OUT/results.json")
    ap.add_argument("--no-oracle", action="store_true", help="skip the PyTorch BP-SGD oracle rows")
    ap.add_argument("--oracle-seeds", type=int, default=10,
                    help="seeds of the oracle's long alpha = 0.1 runs (best-samples each)")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    seeds, kept, stored = list(range(1, a.seeds + 1)), [], os.path.join(a.out, "results.json")
    if a.only:
        if not os.path.exists(stored):
            sys.exit(f"--only needs the stored results to merge into: {stored} is missing")
        kept = [r for r in json.load(open(stored)) if r["method"] not in a.only]
        print(f"--only {' '.join(a.only)}: keeping {len(kept)} stored runs of the other methods", flush=True)
    wanted = set(a.only or METHODS)
    t0 = time.time()
    results = [r for method, alpha, extra in BEST if method in wanted      # longest first
               for r in run_sweep(a.work, a.jobs, "best", method, [alpha], seeds, a.best_samples, 0, extra)]
    results += [r for method, extra in SWEEP.items() if method in wanted
                for r in run_sweep(a.work, a.jobs, "sweep", method, ALPHAS, seeds, a.sweep_samples, 2000, extra)]
    n_run = len(results)
    oracle = []
    if not a.no_oracle:   # child processes (PyTorch), after the sweeps: no fork while threads run
        with ThreadPoolExecutor(a.jobs) as ex:
            calls = [(v, 0.1, a.oracle_seeds, a.best_samples, "oracle-long") for v in ORACLES] + [
                (v, x, a.seeds, a.sweep_samples) for v in ORACLES for x in ALPHAS]
            oracle = [r for runs in ex.map(lambda c: oracle_runs(a.work, *c), calls) for r in runs]
    total = time.time() - t0
    order = [("best", m) for m, _, _ in BEST] + [("sweep", m) for m in SWEEP]
    results = sorted(kept + results, key=lambda r: (order.index((r["tag"], r["method"])), r["alpha"], r["seed"]))
    for r in results:
        r["collapsed"] = collapsed(r)
    json.dump(results, open(stored, "w"), indent=1)

    merged = (f"; {', '.join(a.only)} re-run on its own with `--only` ({n_run} runs, {total / 60:.1f} min "
              f"elapsed) and merged with the stored runs of the other methods" if a.only else "")
    lines = [f"Measured with `tools/replicate_il.py` ({a.seeds} seeds, mean ± sd; {len(results)} runs, "
             f"{sum(r['wall'] for r in results) / 60:.1f} min of run wall time (training and evaluation, data loading "
             f"not counted), {a.jobs} at a time{merged}).", ""]
    lines += sweep_table(a, results, oracle) + best_table(a, results) + expectations(a, results, oracle)
    open(os.path.join(a.out, "table.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot_alpha(a, results, oracle)
    plot_best(a, results)
    print(f"wrote {a.out}/table.md, accuracy_vs_alpha.png, accuracy_vs_samples.png in {total / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
