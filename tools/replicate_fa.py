#!/usr/bin/python3
"""Feedback-alignment replication (issue 5; spec dp-fa.md §5-§6.3), through the CLI.

Runs, with `build/tools/phaseless run`, each on the event engine:
  F1-F3  two-layer ReLU teacher-student, n=50, d=150, p=200, lambda in {0, 0.05, 0.2}
  F4/F5  the same at p=800 (lambda = 0 must shrink the cosine, lambda > 0 must not)
  F6     linear student on linear data, p=200, lambda = 0
  F8     Lillicrap's linear 30-20-10 task (NSE < 0.01, angle(Be, W^T e) < 45 deg)
  deep   784-256-256-10 on Fashion-MNIST: FA vs BP (Z-IL) with the same seed
and writes data/replication/fa/{table.md, results.json, *.png}.

The two-layer model is run in the exact reparametrization documented in
models/fa_two_layer.textproto: lr = 2 eta, w2.lr_scale = 1/p, w2.weight_decay =
lambda p / 2, w2 and B drawn N(0, 1/p); steps = 5000 sqrt(p) // 14 as in the
authors' code (5050 at p = 200, 10101 at p = 800).

usage: tools/replicate_fa.py [--seeds 5] [--jobs 2] [--quick] [--out data/replication/fa]
"""
import argparse
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("PHASELESS_CLI", os.path.join(ROOT, "build", "tools", "phaseless"))
TWO_LAYER = os.path.join(ROOT, "models", "fa_two_layer.textproto")
LILLICRAP = os.path.join(ROOT, "models", "fa_linear_lillicrap.textproto")
FMNIST_FA = os.path.join(ROOT, "models", "fmnist_fa.textproto")
FMNIST_BP = os.path.join(ROOT, "models", "fmnist_zil.textproto")


def run(model, trace, sets):
    cmd = [CLI, "run", model, "-q", "--out", trace] + [a for s in sets for a in ("--set", s)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 3):
        sys.exit(f"replicate_fa: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    with h5py.File(trace, "r") as f:
        m = {k: f["metrics"][k][()] for k in f["metrics"] if isinstance(f["metrics"][k], h5py.Dataset)}
        if "alignment" in f["metrics"]:
            for proj in f["metrics/alignment"]:
                for k in f["metrics/alignment"][proj]:
                    m[f"{proj}/{k}"] = f["metrics/alignment"][proj][k][()]
    m["diverged"] = r.returncode == 3
    return m


def two_layer_sets(p, lam, seed, linear=False):
    steps = int(5000 * math.sqrt(p) // 14)
    s = 1 / math.sqrt(p)
    sets = [f"seed={seed}", f"populations[h].size={p}", f"data.teacher.width={p}",
            f"projections[w2].lr_scale={1 / p}", f"projections[w2].weight_decay={lam * p / 2}",
            f"projections[w2].init.scale={s}", f"projections[w2].feedback.init.scale={s}",
            f"schedule.epochs={steps}", f"schedule.eval_every={50 * max(1, steps // 100)}"]
    if linear:   # F6: linear student on y = X theta, theta ~ N(0, I); code lr 1e-3 -> our 2e-3
        sets += ["populations[h].activation=IDENTITY", "data.teacher.kind=LINEAR", "rule.zil.lr=0.002"]
    return sets


def mean_sd(xs):
    xs = np.asarray(xs, dtype=float)
    return float(xs.mean()), float(xs.std(ddof=1)) if len(xs) > 1 else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="p=800 with 2 seeds, no deep run")
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "replication", "fa"))
    args = ap.parse_args()
    if not os.access(CLI, os.X_OK):
        sys.exit(f"replicate_fa: {CLI} not found; build first (tools/build.sh)")
    os.makedirs(args.out, exist_ok=True)
    tmp = os.path.join(args.out, "traces")
    os.makedirs(tmp, exist_ok=True)
    seeds = list(range(1, args.seeds + 1))
    jobs = []   # (key, model, sets)
    for lam in (0.0, 0.05, 0.2):
        for s in seeds:
            jobs.append((("relu", 200, lam, s), TWO_LAYER, two_layer_sets(200, lam, s)))
    for lam in (0.0, 0.05):
        for s in seeds[: (2 if args.quick else 3)]:
            jobs.append((("relu", 800, lam, s), TWO_LAYER, two_layer_sets(800, lam, s)))
    for s in seeds:
        jobs.append((("linear", 200, 0.0, s), TWO_LAYER, two_layer_sets(200, 0.0, s, linear=True)))
    for s in seeds:
        jobs.append((("lillicrap", 20, 0.0, s), LILLICRAP, [f"seed={s}"]))
    if not args.quick:
        jobs.append((("deep_fa", 0, 0, 1), FMNIST_FA, []))
        jobs.append((("deep_bp", 0, 0, 1), FMNIST_BP, []))

    def work(job):
        key, model, sets = job
        trace = os.path.join(tmp, "_".join(str(k) for k in key) + ".h5")
        print("running", key, flush=True)
        return key, run(model, trace, sets)

    with ThreadPoolExecutor(args.jobs) as ex:
        results = dict(ex.map(work, jobs))

    rows, summary = [], {}
    targets = {("relu", 200, 0.0): "0.22 ± 0.05", ("relu", 200, 0.05): "0.68 ± 0.05",
               ("relu", 200, 0.2): "0.86 ± 0.06", ("relu", 800, 0.0): "≈ 0.07 (shrinks)",
               ("relu", 800, 0.05): "≈ 0.69 (does not shrink)", ("linear", 200, 0.0): "0.206 ± 0.067 (CSV)"}
    for group, target in targets.items():
        cos = [results[k]["w2/weight_cosine"][-1] for k in results if k[:3] == group]
        loss = [results[k]["train_loss"][-1] for k in results if k[:3] == group]
        m, sd = mean_sd(cos)
        summary[str(group)] = {"cos_mean": m, "cos_sd": sd, "n": len(cos), "final_loss_max": float(max(loss))}
        rows.append(f"| {group[0]} | {group[1]} | {group[2]} | {len(cos)} | {m:.3f} ± {sd:.3f} | {target} | "
                    f"{max(loss):.2e} |")
    lil = [results[k] for k in results if k[0] == "lillicrap"]
    nse = [r["test_nse"][-1] for r in lil]
    angle = [math.degrees(math.acos(min(1.0, r["w2/signal_cosine"][-1]))) for r in lil]
    angle500 = [math.degrees(math.acos(min(1.0, r["w2/signal_cosine"][1]))) for r in lil]
    summary["lillicrap"] = {"nse_final_max": float(max(nse)), "angle_final_mean": mean_sd(angle)[0],
                            "angle_at_500_mean": mean_sd(angle500)[0]}
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write("| student | p | lambda | seeds | cos(beta, b) mean ± sd | paper (CSV) | final train loss (max) |\n")
        f.write("|---|---|---|---|---|---|---|\n")
        f.write("\n".join(rows) + "\n\n")
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
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=2)

    # Plots: loss (log) and alignment vs step at p = 200, one line per lambda (seed mean).
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for lam, c in zip((0.0, 0.05, 0.2), ("C0", "C1", "C2")):
        runs = [results[k] for k in results if k[:3] == ("relu", 200, lam)]
        steps = runs[0]["samples"] / 50
        loss = np.mean([r["train_loss"] for r in runs], axis=0)
        cos = np.array([r["w2/weight_cosine"] for r in runs])
        ax[0].semilogy(steps[1:], loss[1:], color=c, label=f"λ = {lam}")
        ax[1].plot(steps, cos.mean(0), color=c, label=f"λ = {lam}")
        ax[1].fill_between(steps, cos.mean(0) - cos.std(0), cos.mean(0) + cos.std(0), color=c, alpha=0.2)
    ax[0].set(xlabel="step (full batch)", ylabel="training loss (½ e², mean)", title="FA two-layer ReLU, p = 200")
    ax[1].set(xlabel="step (full batch)", ylabel="cos∠(β, b)", title="alignment", ylim=(-0.1, 1))
    for a in ax:
        a.legend()
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "two_layer.png"), dpi=110)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for r, c in zip(lil, ("C0", "C1", "C2", "C3", "C4")):
        ax[0].semilogy(r["samples"][1:], r["test_nse"][1:], color=c)
        ax[1].plot(r["samples"], np.degrees(np.arccos(np.clip(r["w2/signal_cosine"], -1, 1))), color=c)
    ax[0].set(xlabel="samples", ylabel="test NSE", title="Lillicrap linear task (F8)")
    ax[1].set(xlabel="samples", ylabel="angle(B e, Wᵀ e) [deg]", title="error-signal angle")
    ax[1].axhline(45, color="k", lw=0.8, ls="--")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "lillicrap.png"), dpi=110)
    if "deep" in summary:
        fa = results[("deep_fa", 0, 0, 1)]
        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        ax[0].plot(fa["samples"], 100 * fa["test_accuracy"], label="FA")
        ax[0].plot(fa["samples"], 100 * results[("deep_bp", 0, 0, 1)]["test_accuracy"], label="BP (Z-IL)")
        ax[0].set(xlabel="samples", ylabel="test accuracy [%]", title="Fashion-MNIST 784-256-256-10")
        for proj in ("w2", "w3"):
            ax[1].plot(fa["samples"], fa[f"{proj}/signal_cosine"], label=f"{proj}: cos(Bᵀδ, Wᵀδ)")
            ax[1].plot(fa["samples"], fa[f"{proj}/weight_cosine"], ls="--", label=f"{proj}: cos(W, B)")
        ax[1].set(xlabel="samples", ylabel="cosine", title="alignment per layer")
        for a in ax:
            a.legend()
            a.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "deep.png"), dpi=110)
    print(open(os.path.join(args.out, "table.md")).read())


if __name__ == "__main__":
    main()
