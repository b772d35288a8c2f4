#!/usr/bin/python3
"""Robustness study: does a local rule still learn when messages arrive late, out of order,
lost, or only when something changed? Runs Z-IL, IL-prox, DP-top and FA on Fashion-MNIST
with the phaseless Python module, each condition varied alone from the rule's model file:

  delay    every projection's delay uniform in 1..K ticks (forward and feedback), K in --delays
  jitter   every projection's per-message extra delay, uniform in 0..J ticks, J in --jitters
  drop     every projection's message-loss probability p, p in --drops
  theta    the sigma-delta threshold (a neuron sends only when its value moved by more than
           theta since its last message): 0, 1e-12 (sends every value that changed at all),
           and multiples of the theta that halves the rule's synaptic operations relative to
           1e-12, found first by bisection on short runs (absolute values 0.01, 0.1, 1 where
           no theta halves them). Z-IL and FA always send their settled
           predictions, and only partial ones can be held back, so for them theta is studied
           with delays uniform in 1..4, where partial predictions exist

All event runs use EAGER mode (neurons react to whatever has arrived), where these conditions
change what is computed; in DATAFLOW mode delays and jitter change nothing. Each rule is also
run in its synchronous form (engine "baseline"), which none of the conditions affect. Every
point runs for --seeds seeds; the table gives mean and sd of the final test accuracy and the
synaptic operations per training sample.

Results of every run are cached in OUT/runs/*.json (keyed by rule, overrides and seed), so the
study can be run in parts (--rules, --conditions) and the table is rebuilt from all of them.
Writes OUT/table.md, OUT/results.json and OUT/<condition>.png.

usage: PYTHONPATH=build/python /usr/bin/python3 tools/robustness.py [--rules zil,il_prox,dp_top,fa]
         [--conditions delay,jitter,drop,theta] [--seeds 3] [--jobs 2] [--samples-scale 1.0]
         [--out data/replication/robustness] [--table-only]
A quick end-to-end check: --seeds 1 --samples-scale 0.1 --out /tmp/robust_quick (a few minutes)
"""
import argparse
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from script_support import ROOT, import_phaseless, mean_sd, pyplot

phaseless = import_phaseless("robustness.py")

# rule -> (model file, training samples, test samples). Sample counts: where each rule's
# accuracy has left its steep early rise (IL-prox learns fastest per sample and is the
# slowest per sample in EAGER mode with spread delays; DP-top trains at batch 50).
RULES = {"zil": ("fmnist_zil.textproto", 2000, 2000),
         "fa": ("fmnist_fa.textproto", 2000, 2000),
         "il_prox": ("fmnist_il_prox.textproto", 1000, 2000),
         "dp_top": ("fmnist_dp_top_a05.textproto", 1000, 2000)}
LABEL = {"zil": "Z-IL", "fa": "FA", "il_prox": "IL-prox", "dp_top": "DP-top"}
CONDITIONS = ("delay", "jitter", "drop", "theta")
THETA_DELAY = {"zil": 4, "fa": 4}   # delay spread under which theta is studied (default: none)
ABSOLUTE_THETAS = (0.01, 0.1, 1.0)  # theta levels where no theta halves the synaptic operations
TINY_THETA = 1e-12                  # suppresses only values that did not change at all
AXIS = {"delay": "delay spread: uniform 1..K ticks", "jitter": "jitter: extra delay 0..J ticks per message",
        "drop": "message-loss probability", "theta": "sigma-delta threshold θ"}


def projections(rule):
    model = phaseless.load(os.path.join(ROOT, "models", RULES[rule][0]))
    return [p["name"] for p in model.validate()["projections"]]


def condition_sets(rule, cond, level, theta_half):
    """The overrides of one point of the study (the base point: no overrides)."""
    names = projections(rule)
    if cond == "delay" and level > 1:
        return [f"projections[{p}].delay={{uniform {{min: 1 max: {level}}}}}" for p in names]
    if cond == "jitter" and level > 0:
        return [f"projections[{p}].delay.jitter_max={level}" for p in names]
    if cond == "drop" and level > 0:
        return [f"projections[{p}].delay.drop_probability={level}" for p in names]
    if cond == "theta":
        spread = condition_sets(rule, "delay", THETA_DELAY.get(rule, 1), None)
        return spread + ([f"execution.threshold={level!r}"] if level > 0 else [])
    return []


def base_sets(rule, samples_scale, seed, n_train=None):
    _, n, n_test = RULES[rule]
    n = n_train or max(100, int(n * samples_scale))
    return [f"seed={seed}", f"schedule.max_samples={n}", f"schedule.eval_every={n}",
            f"data.test_subset={n_test}", "execution.mode=EAGER"]


def cache_path(out, rule, sets, engine):
    key = hashlib.sha1(json.dumps([rule, sorted(sets), engine]).encode()).hexdigest()[:16]
    return os.path.join(out, "runs", f"{rule}_{engine}_{key}.json")


def run_point(out, rule, sets, engine="event"):
    """One run (cached): final test accuracy, synaptic operations and message counts per sample."""
    path = cache_path(out, rule, sets, engine)
    if os.path.exists(path):
        return json.load(open(path))
    t0 = time.time()
    model = phaseless.load(os.path.join(ROOT, "models", RULES[rule][0]), set=sets)
    r = model.run(threads=1, progress=False, engine=engine)
    f = r.final
    res = {"rule": rule, "sets": sets, "engine": engine, "test_accuracy": f.get("test_accuracy", float("nan")),
           "ops_per_sample": f["synaptic_ops"] / f["samples"], "events_per_sample": f["events"] / f["samples"],
           "dropped_per_sample": f.get("messages_dropped", 0.0) / f["samples"],
           "late_per_sample": f.get("messages_late", 0.0) / f["samples"], "samples": f["samples"],
           "diverged": bool(r.diverged), "seconds": time.time() - t0}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as fh:
        json.dump(res, fh)
    os.replace(path + ".tmp", path)
    print(f"  {LABEL[rule]:<8} {engine:<8} {' '.join(s for s in sets if not s.startswith('data.')):<90.90} "
          f"acc {res['test_accuracy']:.4f}  ops/sample {res['ops_per_sample']:.3g}  ({res['seconds']:.0f} s)",
          flush=True)
    return res


def theta_half(out, rule, samples_scale):
    """The threshold at which the rule's synaptic operations per sample are half of those at
    TINY_THETA, by bisection in log theta on short runs (300 training samples, seed 1); None
    when even theta = 1 keeps more than half of them. (The reference is TINY_THETA, not 0:
    at theta = 0 the relaxing rules recompute every sum at every step, and any theta > 0
    switches them to event-driven sums, which by itself counts far fewer operations.)"""
    path = os.path.join(out, "runs", f"{rule}_theta_half.json")
    if not os.path.exists(path):
        sets = base_sets(rule, samples_scale, 1, n_train=300) + condition_sets(rule, "theta", 0, None)
        ops = lambda theta: run_point(out, rule, sets + [f"execution.threshold={theta!r}"])["ops_per_sample"]  # noqa
        ops_ref, theta = ops(TINY_THETA), None
        lo, hi = 1e-6, 1.0
        if ops(hi) <= ops_ref / 2:
            for _ in range(10):
                mid = (lo * hi) ** 0.5
                lo, hi = (mid, hi) if ops(mid) > ops_ref / 2 else (lo, mid)
            theta = (lo * hi) ** 0.5
        os.makedirs(os.path.dirname(path), exist_ok=True)
        json.dump({"theta_half": theta, "ops_tiny_theta": ops_ref}, open(path, "w"))
    return json.load(open(path))["theta_half"]


def levels(args, cond, theta_half=None):
    """The condition's levels; for theta the absolute thresholds: 0, TINY_THETA, then the
    multiples --thetas of the halving theta (ABSOLUTE_THETAS where none halves the cost)."""
    if cond == "theta":
        scaled = [m * theta_half for m in args.thetas if m > 0] if theta_half else list(ABSOLUTE_THETAS)
        return [0.0, TINY_THETA] + scaled
    return {"delay": args.delays, "jitter": args.jitters, "drop": args.drops, "theta": args.thetas}[cond]


def study(args):
    """Every run of the study, two at a time (the module releases the GIL)."""
    jobs = []
    for rule in args.rules:
        conditions, th = list(args.conditions), None
        if "theta" in conditions:
            try:
                th = theta_half(args.out, rule, args.samples_scale)
            except phaseless.ModelError as e:   # a build without sigma-delta for this rule
                print(f"robustness: no theta study for {LABEL[rule]}: {e}", flush=True)
                conditions.remove("theta")
        for seed in range(1, args.seeds + 1):
            base = base_sets(rule, args.samples_scale, seed)
            jobs.append((rule, base, "baseline"))
            for cond in conditions:
                for level in levels(args, cond, th):
                    jobs.append((rule, base + condition_sets(rule, cond, level, th), "event"))
    unique = list({cache_path(args.out, *j): j for j in jobs}.values())
    print(f"robustness: {len(unique)} runs ({sum(os.path.exists(cache_path(args.out, *j)) for j in unique)} cached)",
          flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda j: run_point(args.out, *j), unique))


def summarise(args):
    """Mean and sd over seeds for every (rule, condition, level) found in the cache."""
    rows = []
    for rule in RULES:
        if not os.path.exists(os.path.join(args.out, "runs")):
            break
        th_path = os.path.join(args.out, "runs", f"{rule}_theta_half.json")
        has_theta = os.path.exists(th_path)
        th = json.load(open(th_path))["theta_half"] if has_theta else None
        seeds = range(1, args.seeds + 1)
        sync = [run_cached(args, rule, base_sets(rule, args.samples_scale, s), "baseline") for s in seeds]
        for cond in CONDITIONS:
            if cond == "theta" and not has_theta:
                continue
            for level in levels(args, cond, th):
                runs = [run_cached(args, rule, base_sets(rule, args.samples_scale, s)
                                   + condition_sets(rule, cond, level, th), "event") for s in seeds]
                if any(r is None for r in runs):
                    continue
                acc, acc_sd = mean_sd([100 * r["test_accuracy"] for r in runs])
                s_acc = [100 * r["test_accuracy"] for r in sync if r]
                rows.append({"rule": rule, "condition": cond, "level": level,
                             "theta_half": th if cond == "theta" else None, "accuracy": acc, "accuracy_sd": acc_sd,
                             "sync_accuracy": mean_sd(s_acc)[0] if s_acc else None,
                             "ops_per_sample": sum(r["ops_per_sample"] for r in runs) / len(runs),
                             "dropped_per_sample": sum(r["dropped_per_sample"] for r in runs) / len(runs),
                             "late_per_sample": sum(r["late_per_sample"] for r in runs) / len(runs),
                             "diverged": sum(r["diverged"] for r in runs), "seeds": len(runs)})
    return rows


def run_cached(args, rule, sets, engine):
    path = cache_path(args.out, rule, sets, engine)
    return json.load(open(path)) if os.path.exists(path) else None


def write_table(args, rows):
    lines = [f"Fashion-MNIST, EAGER mode, mean ± sd over {args.seeds} seeds; accuracy in %, on "
             f"{RULES['zil'][2]} test images; ops: synaptic operations per training sample; "
             "sync: the rule's synchronous form (no condition applies to it).", "",
             "| rule | condition | level | accuracy | sync | Δ vs sync | ops / sample | lost / sample | late / sample |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        level = f"{r['level']:.3g}" if r["condition"] == "theta" else str(r["level"])
        if r["condition"] == "theta" and r["theta_half"] and r["level"] > TINY_THETA:
            level += f" ({r['level'] / r['theta_half']:.3g} θ½)"
        delta = r["accuracy"] - r["sync_accuracy"] if r["sync_accuracy"] is not None else float("nan")
        div = f" ({r['diverged']} diverged)" if r["diverged"] else ""
        lines.append(f"| {LABEL[r['rule']]} | {r['condition']} | {level} | {r['accuracy']:.2f} ± {r['accuracy_sd']:.2f}"
                     f"{div} | {r['sync_accuracy']:.2f} | {delta:+.2f} | {r['ops_per_sample']:.3g} | "
                     f"{r['dropped_per_sample']:.3g} | {r['late_per_sample']:.3g} |")
    with open(os.path.join(args.out, "table.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump({"rows": rows, "seeds": args.seeds, "samples_scale": args.samples_scale,
                   "samples": {k: v[1] for k, v in RULES.items()}}, fh, indent=1)


def plot(args, rows):
    plt = pyplot()
    for cond in CONDITIONS:
        sel = [r for r in rows if r["condition"] == cond]
        if not sel:
            continue
        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        for i, rule in enumerate(RULES):
            rr = [r for r in sel if r["rule"] == rule]
            if not rr:
                continue
            x = [r["level"] for r in rr]
            ax[0].errorbar(x, [r["accuracy"] for r in rr], yerr=[r["accuracy_sd"] for r in rr], color=f"C{i}",
                           marker="o", capsize=3, label=f"{LABEL[rule]} (event, EAGER)")
            if rr[0]["sync_accuracy"] is not None:
                ax[0].axhline(rr[0]["sync_accuracy"], color=f"C{i}", ls="--", lw=0.8, label=f"{LABEL[rule]} sync")
            ax[1].plot(x, [r["ops_per_sample"] for r in rr], color=f"C{i}", marker="o", label=LABEL[rule])
        if cond == "theta":   # 0, 1e-12 and the scaled thresholds on one axis
            for a in ax:
                a.set_xscale("symlog", linthresh=1e-4)
                a.set_xlim(left=-2e-5)
        ax[0].set(xlabel=AXIS[cond], ylabel="test accuracy [%]", title=f"accuracy vs {cond}")
        ax[1].set(xlabel=AXIS[cond], ylabel="synaptic operations / sample", yscale="log", title="cost")
        for a in ax:
            a.legend(fontsize=7)
            a.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, f"{cond}.png"), dpi=110)
        plt.close(fig)


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    csv = lambda t: [x for x in t.split(",") if x]   # noqa: E731
    ap.add_argument("--rules", type=csv, default=list(RULES))
    ap.add_argument("--conditions", type=csv, default=list(CONDITIONS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--samples-scale", type=float, default=1.0, help="scale every rule's training samples")
    ap.add_argument("--delays", type=lambda t: [int(x) for x in csv(t)], default=[1, 2, 4])
    ap.add_argument("--jitters", type=lambda t: [int(x) for x in csv(t)], default=[0, 1, 3])
    ap.add_argument("--drops", type=lambda t: [float(x) for x in csv(t)], default=[0.0, 0.01, 0.05, 0.2])
    ap.add_argument("--thetas", type=lambda t: [float(x) for x in csv(t)], default=[0.25, 1.0, 4.0],
                    help="multiples of the halving theta (where none halves the cost: 0.01, 0.1, 1)")
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "replication", "robustness"))
    ap.add_argument("--table-only", action="store_true", help="rebuild table and plots from the cached runs")
    args = ap.parse_args()
    for name, allowed in (("rules", RULES), ("conditions", CONDITIONS)):
        bad = [x for x in getattr(args, name) if x not in allowed]
        if bad:
            ap.error(f"--{name}: unknown {', '.join(bad)}; allowed: {', '.join(allowed)}")
    if args.seeds < 1 or args.jobs < 1 or not 0 < args.samples_scale <= 10:
        ap.error("--seeds and --jobs must be >= 1, --samples-scale in (0, 10]")
    return args


def main():
    args = parse()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    if not args.table_only:
        study(args)
    rows = summarise(args)
    write_table(args, rows)
    plot(args, rows)
    print(f"wrote {args.out}/table.md, results.json and PNGs ({len(rows)} rows, {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
