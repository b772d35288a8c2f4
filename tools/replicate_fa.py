#!/usr/bin/python3
"""Feedback-alignment replication (spec dp-fa.md §5-§6.3), with the phaseless Python module.

Runs, with phaseless.load(MODEL, set=...).run(out=TRACE) (--jobs threads side by side:
the module releases the GIL), each on the event engine:
  F1-F3  two-layer ReLU teacher-student, n=50, d=150, p=200, lambda in {0, 0.05, 0.2}
  F4/F5  the same at p=800 (lambda = 0 must shrink the cosine, lambda > 0 must not)
  F6     linear student on linear data, p=200, lambda = 0
  F8     Lillicrap's linear 30-20-10 task (NSE < 0.01, angle(Be, W^T e) < 45 deg)
  deep   784-256-256-10 on Fashion-MNIST: FA vs BP (Z-IL) with the same seed
and writes data/replication/fa/{table.md, results.json, *.png}.

The two-layer model is run in the exact reparametrization documented in
models/fa_two_layer.textproto: lr = 2 eta, w2.lr_scale = 1/p, w2.weight_decay =
lambda p / 2, w2 and B drawn N(0, 1/p). Stopping rule of spec §5.3: at least
base = 5000 sqrt(p) // 14 full-batch steps (5050 at p = 200, 10101 at p = 800), then
on in blocks of 1000 steps until the training MSE (1/n) sum e^2 (= 2 x the CLI's
train_loss, which is 1/2 e^2 averaged) changes by < 1e-3 over 1000 steps. The CLI
runs a fixed number of steps, so each two-layer run records every step
(eval_every = n = 50 samples), the rule is applied to the recorded losses, and the
run is repeated with a longer budget (base + 8000, + 32000, + 128000 steps; the runs
are deterministic) until a checkpoint satisfies it; cos(beta, b) is read at that
step. With lambda = 0 the rule stops at base; with lambda > 0 it runs on (p = 200:
about 6050 steps at lambda = 0.05, 9050-11050 at lambda = 0.2).

Independent check (unless --no-numpy): tools/fa_two_layer_numpy.py, Algorithm 1 in
the original parametrization (f = beta^T relu(W^T x)/sqrt(p), torch MSELoss, lr 1e-2),
(a) with its own numpy draws for --numpy-seeds seeds and (b) with the CLI's draws
re-created bit for bit, which must give the CLI's cosine per seed.

usage: PYTHONPATH=build/python /usr/bin/python3 tools/replicate_fa.py [--seeds 5] [--f1-seeds 20]
         [--numpy-seeds 20] [--jobs 2] [--quick] [--no-numpy] [--lillicrap-only] [--out data/replication/fa]
A reduced end-to-end check: --quick --seeds 1 --f1-seeds 1 --numpy-seeds 1 --out /tmp/fa_quick (about
10 min of CPU, most of it the two p = 800 runs)
"""
import argparse
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from script_support import ROOT, import_phaseless, mean_sd, pyplot, run_model, run_oracle

import_phaseless("replicate_fa.py")
plt = pyplot()
TWO_LAYER = os.path.join(ROOT, "models", "fa_two_layer.textproto")
LILLICRAP = os.path.join(ROOT, "models", "fa_linear_lillicrap.textproto")
FMNIST_FA = os.path.join(ROOT, "models", "fmnist_fa.textproto")
FMNIST_BP = os.path.join(ROOT, "models", "fmnist_zil.textproto")
N_TRAIN = 50                      # the two-layer task's n: one full-batch step = 50 samples
EXTRA_BUDGETS = (0, 8000, 32000, 128000)  # steps beyond base tried in turn by the stopping rule
# group -> the paper's cos(beta, b) (CSV, 50 runs); and which numpy run checks it
TARGETS = {("relu", 200, 0.0): "0.220 ± 0.051", ("relu", 200, 0.05): "0.682 ± 0.047",
           ("relu", 200, 0.2): "0.858 ± 0.061", ("relu", 800, 0.0): "0.073 ± 0.027 (shrinks)",
           ("relu", 800, 0.05): "0.687 ± 0.034 (does not shrink)", ("linear", 200, 0.0): "0.206 ± 0.067"}
NUMPY_OWN = {("relu", 200, 0.0): "numpy_own", ("relu", 200, 0.05): "numpy_own", ("relu", 200, 0.2): "numpy_own",
             ("linear", 200, 0.0): "numpy_own_linear"}


def run(model, trace, sets):
    """One run; its metrics by name, alignment columns as "<projection>/weight_cosine"."""
    r, _ = run_model(model, trace, sets)
    m = {k.removeprefix("alignment/"): v for k, v in r.metrics.items()}
    m["diverged"] = bool(r.diverged)
    return m


def base_steps(p):
    return int(5000 * math.sqrt(p) // 14)   # the authors' 5000 sqrt(p) // rint(sqrt(200))


def two_layer_sets(p, lam, seed, steps, linear=False):
    s = 1 / math.sqrt(p)
    sets = [f"seed={seed}", f"populations[h].size={p}", f"data.teacher.width={p}",
            f"projections[w2].lr_scale={1 / p}", f"projections[w2].weight_decay={lam * p / 2}",
            f"projections[w2].init.scale={s}", f"projections[w2].feedback.init.scale={s}",
            f"schedule.epochs={steps}", f"schedule.eval_every={N_TRAIN}",
            f"record.snapshot_every={N_TRAIN * 1000}"]
    if linear:   # F6: linear student on y = X theta, theta ~ N(0, I); code lr 1e-3 -> our 2e-3
        sets += ["populations[h].activation=IDENTITY", "data.teacher.kind=LINEAR", "rule.zil.optimizer.lr=0.002"]
    return sets


def stop_step(m, base):
    """The spec §5.3 rule on a run recorded every step: the first t = base + 1000 k with
    |L(t) - L(t - 1000)| < 1e-3, L(t) = (1/n) sum e^2 at the parameters after t updates.
    Row s of /metrics holds train_loss = 1/2 mean e^2 of step s (parameters after s - 1
    updates) and the cosine after s updates, so L(t) = 2 train_loss[t + 1]. None: run too short."""
    loss = 2 * np.asarray(m["train_loss"], dtype=float)
    assert np.array_equal(m["samples"], N_TRAIN * np.arange(len(loss))), "two-layer runs must record every step"
    t = base
    while t + 1 < len(loss):
        if abs(loss[t + 1] - loss[t + 1 - 1000]) < 1e-3:
            return t
        t += 1000
    return None


def run_two_layer(trace, p, lam, seed, linear=False):
    base = base_steps(p)
    for extra in EXTRA_BUDGETS:
        m = run(TWO_LAYER, trace, two_layer_sets(p, lam, seed, base + extra + 1, linear))
        t = None if m["diverged"] else stop_step(m, base)
        if t is not None or m["diverged"]:
            break
    # diverged, or the rule never held within the largest budget: report the last step
    loss, cos = 2 * np.asarray(m["train_loss"], dtype=float), np.asarray(m["w2/weight_cosine"], dtype=float)
    rule_met, t = t is not None, len(loss) - 1 if t is None else t
    return {"diverged": m["diverged"], "rule_met": rule_met, "stop_step": t,    # the traces hold the rest
            "final_mse": float(loss[min(t + 1, len(loss) - 1)]), "cos": float(cos[t]),
            "mse_curve": loss[1:t + 2], "cos_curve": cos[:t + 1]}             # L(0) ... L(t)


def run_numpy(out_json, seeds, first_seed, p, lam, init, linear=False):
    """tools/fa_two_layer_numpy.py (Algorithm 1 in the original parametrization), one thread."""
    run_oracle("fa_two_layer_numpy.py", ["--seeds", seeds, "--first-seed", first_seed, "--p", p, "--lam", lam,
                                         "--init", init, "--json", out_json] + (["--linear"] if linear else []),
               env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    return json.load(open(out_json))


def padded(curves):
    """Stack curves of different lengths; a run that stopped keeps its final value."""
    out = np.empty((len(curves), max(len(c) for c in curves)))
    for i, c in enumerate(curves):
        out[i, :len(c)], out[i, len(c):] = c, c[-1]
    return out


def plot_lillicrap(lil_by_seed, out):
    """Lillicrap's linear task: test NSE and the error-signal angle per seed, with a legend."""
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for i, (seed, r) in enumerate(sorted(lil_by_seed.items())):
        c = f"C{i}"
        ax[0].semilogy(r["samples"][1:], r["test_nse"][1:], color=c, label=f"seed {seed}")
        ax[1].plot(r["samples"], np.degrees(np.arccos(np.clip(r["w2/signal_cosine"], -1, 1))), color=c,
                   label=f"seed {seed}")
    ax[0].set(xlabel="training samples", ylabel="test NSE  Σ‖t − y‖² / Σ‖t‖²",
              title="Lillicrap linear task 30-20-10: FA learns")
    ax[1].axhline(45, color="k", lw=0.8, ls="--", label="45° (target: below)")
    ax[1].axhline(90, color="0.6", lw=0.8, ls=":", label="90° (no alignment)")
    ax[1].set(xlabel="training samples", ylabel="angle(Bᵀe, Wᵀe) [degrees]",
              title="the error FA sends vs backprop's", ylim=(0, 95))
    save(fig, ax, os.path.join(out, "lillicrap.png"), fontsize=8)


def lillicrap_only(args):
    """Runs only the Lillicrap seeds (seconds) and redraws lillicrap.png; table.md and
    results.json stay as they are."""
    tmp = os.path.join(args.out, "traces")
    lil = {s: run(LILLICRAP, os.path.join(tmp, f"lillicrap_{s}.h5"), [f"seed={s}"]) for s in range(1, args.seeds + 1)}
    plot_lillicrap(lil, args.out)
    print(f"wrote {os.path.join(args.out, 'lillicrap.png')}")


def jobs_for(args):
    """(key, kind, spec) of every run; the long numpy jobs first, the phaseless runs fill the other core."""
    seeds = list(range(1, args.seeds + 1))
    jobs = [(("relu", 200, lam, s), "two_layer", (200, lam, s, False))
            for lam in (0.0, 0.05, 0.2) for s in range(1, (args.f1_seeds if lam == 0 else args.seeds) + 1)]
    jobs += [(("relu", 800, lam, s), "two_layer", (800, lam, s, False))
             for lam in (0.0, 0.05) for s in seeds[: (2 if args.quick else 3)]]
    jobs += [(("linear", 200, 0.0, s), "two_layer", (200, 0.0, s, True)) for s in seeds]
    jobs += [(("lillicrap", 20, 0.0, s), "run", (LILLICRAP, [f"seed={s}"])) for s in seeds]
    if not args.quick:
        jobs += [(("deep_fa", 0, 0, 1), "run", (FMNIST_FA, [])), (("deep_bp", 0, 0, 1), "run", (FMNIST_BP, []))]
    if not args.no_numpy:   # (a) own draws, (b) the phaseless draws for the phaseless seeds
        for lam in (0.0, 0.05, 0.2):
            jobs.append((("numpy_own", 200, lam), "numpy", (args.numpy_seeds, 1, 200, lam, "numpy", False)))
            jobs.append((("numpy_cli", 200, lam), "numpy",
                         (args.f1_seeds if lam == 0 else args.seeds, 1, 200, lam, "cli", False)))
        jobs.append((("numpy_own_linear", 200, 0.0), "numpy", (args.numpy_seeds, 1, 200, 0.0, "numpy", True)))
        jobs.append((("numpy_cli_linear", 200, 0.0), "numpy", (args.seeds, 1, 200, 0.0, "cli", True)))
    return sorted(jobs, key=lambda j: j[1] != "numpy")


def work(job, tmp):
    key, kind, spec = job
    name = os.path.join(tmp, "_".join(str(k) for k in key))
    t0 = time.time()
    print("running", key, flush=True)
    if kind == "two_layer":
        res = run_two_layer(name + ".h5", *spec)
    elif kind == "numpy":
        res = run_numpy(name + ".json", *spec)
    else:
        res = run(spec[0], name + ".h5", spec[1])
    res["run_s"] = time.time() - t0
    return key, res


def group_row(group, target, results, args):
    """One row of the table (phaseless cos(beta, b) per seed, the paper's, numpy's) and its summary."""
    runs = {k[3]: results[k] for k in results if k[:3] == group}
    cos, steps = [r["cos"] for r in runs.values()], [r["stop_step"] for r in runs.values()]
    m, sd = mean_sd(cos)
    summary = {"cos_mean": m, "cos_sd": sd, "n": len(cos), "paper_csv": target,
               "cos_per_seed": {s: r["cos"] for s, r in sorted(runs.items())}, "stop_steps": [min(steps), max(steps)],
               "rule_met_all": all(r["rule_met"] for r in runs.values()),
               "final_mse_max": float(max(r["final_mse"] for r in runs.values())),
               "initial_mse": [float(min(r["mse_curve"][0] for r in runs.values())),
                               float(max(r["mse_curve"][0] for r in runs.values()))],
               "run_s_total": float(sum(r["run_s"] for r in runs.values()))}
    np_col = "— | —"
    if group in NUMPY_OWN and not args.no_numpy:
        own = results[(NUMPY_OWN[group], 200, group[2])]
        same = results[(NUMPY_OWN[group].replace("own", "cli"), 200, group[2])]
        diff = max(abs(r["cos"] - runs[r["seed"]]["cos"]) for r in same["runs"])
        same_steps = all(r["steps"] == runs[r["seed"]]["stop_step"] for r in same["runs"])
        np_col = (f"{own['cos_mean']:.3f} ± {own['cos_sd']:.3f} ({own['n']}) | "
                  f"{diff:.0e}{'' if same_steps else ' (steps differ!)'}")
        summary["numpy_own_draws"] = {"cos_mean": own["cos_mean"], "cos_sd": own["cos_sd"], "n": own["n"],
                                      "wall_s": own["wall_s"], "steps": sorted({r["steps"] for r in own["runs"]})}
        summary["numpy_same_draws"] = {"max_abs_cos_diff": diff, "same_stop_steps": same_steps, "n": same["n"]}
    return (f"| {group[0]} | {group[1]} | {group[2]} | {len(cos)} | {m:.3f} ± {sd:.3f} | {target} | "
            f"{np_col} | {min(steps)}–{max(steps)} | {summary['final_mse_max']:.2e} |"), summary


def write_table(results, args, summary):
    """table.md: the two-layer groups, Lillicrap's task, the deep run's curves; fills summary."""
    rows = []
    for group, target in TARGETS.items():
        row, summary[str(group)] = group_row(group, target, results, args)
        rows.append(row)
    lil = [r for k, r in sorted(results.items()) if k[0] == "lillicrap"]
    angle, angle500 = ([math.degrees(math.acos(min(1.0, r["w2/signal_cosine"][i]))) for r in lil] for i in (-1, 1))
    nse = [r["test_nse"][-1] for r in lil]
    summary["lillicrap"] = {"nse_final_max": float(max(nse)), "angle_final_mean": mean_sd(angle)[0],
                            "angle_at_500_mean": mean_sd(angle500)[0]}
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write("| student | p | lambda | seeds | cos(beta, b) mean ± sd (CLI) | paper (CSV, 50 runs) | "
                "numpy Alg. 1, own draws (seeds) | numpy on the CLI's draws: max abs cos diff | "
                "steps (stop rule) | final train MSE (max) |\n")
        f.write("|---|---|---|---|---|---|---|---|---|---|\n")
        f.write("\n".join(rows) + "\n\n")
        f.write("Steps: at least 5000 sqrt(p) // 14, then on in blocks of 1000 until the training MSE "
                "(1/n) sum e^2 changes by < 1e-3 over 1000 steps (spec §5.3). sd with ddof 1.\n\n")
        f.write(f"Lillicrap linear task (F8), {len(lil)} seeds: final NSE max {max(nse):.2e}; angle(Be, W^T e) "
                f"{mean_sd(angle500)[0]:.1f}° at 500 samples, {mean_sd(angle)[0]:.1f}° at 20k "
                f"(targets: NSE < 0.01, angle < 45°)\n")
        if ("deep_fa", 0, 0, 1) in results:
            fa, bp = results[("deep_fa", 0, 0, 1)], results[("deep_bp", 0, 0, 1)]
            f.write(f"\nDeep 784-256-256-10 on Fashion-MNIST, 1 epoch, batch 1, seed 1: FA {100 * fa['test_accuracy'][-1]:.2f}%, "
                    f"BP {100 * bp['test_accuracy'][-1]:.2f}%\n\n| samples | FA acc | BP acc | cos(W2,B2) | signal cos h1 | "
                    "cos(W3,B3) | signal cos h2 |\n|---|---|---|---|---|---|---|\n")
            for i, n in enumerate(fa["samples"]):
                f.write(f"| {n} | {100 * fa['test_accuracy'][i]:.2f} | {100 * bp['test_accuracy'][i]:.2f} | "
                        f"{fa['w2/weight_cosine'][i]:.3f} | {fa['w2/signal_cosine'][i]:.3f} | "
                        f"{fa['w3/weight_cosine'][i]:.3f} | {fa['w3/signal_cosine'][i]:.3f} |\n")
            summary["deep"] = {"fa_acc": float(fa["test_accuracy"][-1]), "bp_acc": float(bp["test_accuracy"][-1])}


def plot_two_layer(results, out):
    """Training MSE (log) and alignment vs step at p = 200, one colour per lambda: thin lines per
    seed (each ends at its stopping step), thick line the seed mean (a stopped run's final
    value carried on)."""
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for lam, c in zip((0.0, 0.05, 0.2), ("C0", "C1", "C2")):
        runs = [results[k] for k in results if k[:3] == ("relu", 200, lam)]
        loss, cos = padded([r["mse_curve"] for r in runs]), padded([r["cos_curve"] for r in runs])
        for r in runs:
            ax[0].semilogy(np.arange(len(r["mse_curve"])), r["mse_curve"], color=c, lw=0.4, alpha=0.35)
            ax[1].plot(np.arange(len(r["cos_curve"])), r["cos_curve"], color=c, lw=0.4, alpha=0.35)
        ax[0].semilogy(np.arange(loss.shape[1]), np.exp(np.log(loss).mean(0)), color=c, lw=1.8,
                       label=f"λ = {lam} ({len(runs)} seeds)")
        ax[1].plot(np.arange(loss.shape[1]), cos.mean(0), color=c, lw=1.8, label=f"λ = {lam}")
    ax[0].set(xlabel="step (full batch)", ylabel="training MSE (1/n) Σ e²", title="FA two-layer ReLU, p = 200 (geometric mean)")
    ax[1].set(xlabel="step (full batch)", ylabel="cos∠(β, b)", title="alignment (runs end at the stop rule)",
              ylim=(-0.1, 1))
    save(fig, ax, os.path.join(out, "two_layer.png"))


def plot_deep(fa, bp, out):
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    ax[0].plot(fa["samples"], 100 * fa["test_accuracy"], label="FA")
    ax[0].plot(fa["samples"], 100 * bp["test_accuracy"], label="BP (Z-IL)")
    ax[0].set(xlabel="samples", ylabel="test accuracy [%]", title="Fashion-MNIST 784-256-256-10")
    for proj in ("w2", "w3"):
        ax[1].plot(fa["samples"], fa[f"{proj}/signal_cosine"], label=f"{proj}: cos(Bᵀδ, Wᵀδ)")
        ax[1].plot(fa["samples"], fa[f"{proj}/weight_cosine"], ls="--", label=f"{proj}: cos(W, B)")
    ax[1].set(xlabel="samples", ylabel="cosine", title="alignment per layer")
    save(fig, ax, os.path.join(out, "deep.png"))


def save(fig, ax, path, **legend):
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(**legend)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5, help="seeds per setting (F2-F6, F8)")
    ap.add_argument("--f1-seeds", type=int, default=20, help="seeds for F1 (ReLU, p = 200, lambda = 0)")
    ap.add_argument("--numpy-seeds", type=int, default=20, help="seeds of the independent numpy check")
    ap.add_argument("--no-numpy", action="store_true", help="skip the numpy re-implementation")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="p=800 with 2 seeds, no deep run")
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "replication", "fa"))
    ap.add_argument("--lillicrap-only", action="store_true",
                    help="run only the Lillicrap seeds (seconds) and redraw lillicrap.png")
    args = ap.parse_args()
    tmp = os.path.join(args.out, "traces")
    os.makedirs(tmp, exist_ok=True)
    if args.lillicrap_only:
        return lillicrap_only(args)
    t_start = time.time()
    with ThreadPoolExecutor(args.jobs) as ex:
        results = dict(ex.map(lambda job: work(job, tmp), jobs_for(args)))
    elapsed, summary = time.time() - t_start, {}
    write_table(results, args, summary)
    summary["elapsed_s"] = elapsed
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=2)
    plot_two_layer(results, args.out)
    plot_lillicrap({k[3]: r for k, r in sorted(results.items()) if k[0] == "lillicrap"}, args.out)
    if "deep" in summary:
        plot_deep(results[("deep_fa", 0, 0, 1)], results[("deep_bp", 0, 0, 1)], args.out)
    print(open(os.path.join(args.out, "table.md")).read())
    print(f"elapsed {elapsed:.0f} s with {args.jobs} jobs at a time")


if __name__ == "__main__":
    main()
