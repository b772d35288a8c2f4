#!/usr/bin/python3
"""Independent numpy check of the Song-Xu-Lafferty two-layer FA experiment (spec dp-fa.md §5.2, §5.3, F1-F6).

Algorithm 1 literally, in the ORIGINAL parametrization (not the beta' = beta / sqrt(p) form the
Phaseless model runs):
    f(x) = beta^T psi(W^T x) / sqrt(p),   W (d x p), beta, b ~ N(0, 1),  no biases
    loss = (1/n) sum_i e_i^2               (torch nn.MSELoss),  e = f - y
    beta <- beta - lr * ((2/n) psi(XW)^T e / sqrt(p) + lam * beta)    (l2 on beta only)
    W    <- W    - lr *  (2/n) X^T ((e b^T) * psi'(XW)) / sqrt(p)      (b in place of beta)
  full batch, torch-SGD semantics (both gradients from the same forward pass, then the step),
  steps = 5000 sqrt(p) // 14 (5050 at p = 200), then 1000 more at a time until the loss changes
  by < 1e-3 over 1000 steps. Data: x ~ N(0, I_d), y from a random teacher of the same form and
  width p (W*, beta* ~ N(0, 1), y = psi(X W*) beta* / sqrt(p)); linear: y = X theta.

--init numpy   numpy's own draws (default_rng(seed)): an independent distribution check.
--init cli     the Phaseless CLI's draws for model seed S (its counter-based RNG re-implemented
               here: teacher data, w1, w2, and the feedback B of w2), scaled back to the original
               parametrization (beta = sqrt(p) w2, b = sqrt(p) B). With --trace T.h5 (a CLI trace
               of the same seed with eval_every = 50, i.e. every step) the loss and cos(beta, b)
               curves of the two implementations are compared step by step.

usage: tools/fa_two_layer_numpy.py [--seeds 20] [--p 200] [--lam 0] [--init numpy|cli]
                                   [--linear] [--trace T.h5] [--json OUT]
"""
import argparse
import json
import math
import sys
import time

import numpy as np

M64 = (1 << 64) - 1


# ---- the CLI's counter-based RNG (sim/core/rng.hpp), vectorised over counters ----
def _mix64(z):
    z = (z + np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def mix64(z):
    with np.errstate(over="ignore"):
        return int(_mix64(np.array([z & M64], dtype=np.uint64))[0])


def hash_name(s):
    h = 0xCBF29CE484222325
    for c in s.encode():
        h = ((h ^ c) * 0x100000001B3) & M64
    return h


class CounterRng:
    def __init__(self, seed, stream):
        self.key = np.uint64(mix64(seed ^ mix64((stream + 0x632BE59BD9B4E019) & M64)))
        self.counter = 0

    def uniforms(self, k):
        c = np.arange(self.counter, self.counter + k, dtype=np.uint64)
        self.counter += k
        with np.errstate(over="ignore"):
            u = _mix64(self.key ^ _mix64(c))
        return (u >> np.uint64(11)).astype(np.float64) * 2.0 ** -53

    def normals(self, k):   # Box-Muller on consecutive pairs, as counter_rng::normal()
        u = self.uniforms(2 * k).reshape(k, 2)
        u1 = np.where(u[:, 0] <= 0, 2.0 ** -53, u[:, 0])
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u[:, 1])


def cli_problem(seed, n, d, p, linear):
    """The CLI's draws (sim/io/teacher.cpp, sim/io/network_builder.cpp) for model seed `seed`."""
    tseed = mix64(seed ^ hash_name("teacher"))
    teacher, inputs = CounterRng(tseed, 1), CounterRng(tseed, 2)
    X = inputs.normals(n * d).reshape(n, d).astype(np.float32).astype(np.float64)
    if linear:
        theta = teacher.normals(d)
        y = X @ theta
    else:
        Ws = teacher.normals(p * d).reshape(p, d)          # row q = w*_q
        bs = teacher.normals(p)
        y = np.maximum(X @ Ws.T, 0) @ bs / math.sqrt(p)
    y = y.astype(np.float32).astype(np.float64)
    W = CounterRng(mix64(seed ^ hash_name("weights:w1")), 0).normals(p * d).reshape(p, d).T   # d x p
    beta = CounterRng(mix64(seed ^ hash_name("weights:w2")), 0).normals(p)     # = sqrt(p) * w2
    b = CounterRng(mix64(seed ^ hash_name("feedback:w2")), 0).normals(p)       # = sqrt(p) * B
    return X, y, W, beta, b


def numpy_problem(seed, n, d, p, linear):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if linear:
        y = X @ rng.standard_normal(d)
    else:
        y = np.maximum(X @ rng.standard_normal((d, p)), 0) @ rng.standard_normal(p) / math.sqrt(p)
    return X, y, rng.standard_normal((d, p)), rng.standard_normal(p), rng.standard_normal(p)


def train(X, y, W, beta, b, lr, lam, linear, dtype=np.float64, max_steps=500_000, record=False):
    X, y, W, beta, b = (np.array(a, dtype=dtype) for a in (X, y, W, beta, b))
    n, p = X.shape[0], W.shape[1]
    sp = math.sqrt(p)
    base = int(5000 * math.sqrt(p) // 14)
    losses, coss = [], []
    t = 0
    while True:
        H = X @ W
        A = H if linear else np.maximum(H, 0)
        e = A @ beta / sp - y
        loss = float(np.mean(e * e))
        if record:
            losses.append(loss)
            coss.append(float(beta @ b / np.linalg.norm(beta) / np.linalg.norm(b)))
        if t >= base and (t - base) % 1000 == 0:
            if t == base:
                ref = loss_hist_1000_ago
            if abs(ref - loss) < 1e-3 or t >= max_steps:
                break
            ref = loss
        if t == base - 1000 or (base < 1000 and t == 0):
            loss_hist_1000_ago = loss
        g = (2.0 / n) * e / sp
        gbeta = A.T @ g + lam * beta
        D = np.outer(g, b) if linear else np.outer(g, b) * (H > 0)
        gW = X.T @ D
        beta = beta - lr * gbeta
        W = W - lr * gW
        if t == 0:
            loss0 = loss
        t += 1
    cos = float(beta @ b / np.linalg.norm(beta) / np.linalg.norm(b))
    return {"cos": cos, "steps": t, "loss0": loss0, "loss_final": loss,
            "losses": losses, "coss": coss}


def compare_trace(res, trace, p):
    import h5py
    with h5py.File(trace, "r") as f:
        m = f["metrics"]
        samples = m["samples"][()]
        cli_loss = m["train_loss"][()]           # 1/2 mean e^2 of the step that ends at `samples`
        cli_cos = m["alignment/w2/weight_cosine"][()]
        w1_0 = f["weights/w1/snapshots/data"][0]
        w2_0 = f["weights/w2/snapshots/data"][0]
    steps = (samples // 50).astype(int)
    print(f"trace {trace}: {len(steps)} rows, last step {steps[-1]}")
    print("  initial weights vs re-created draws: max |w1 diff| (float32 snapshot) =",
          f"{np.max(np.abs(w1_0.astype(np.float64) - res['W0'].T)):.2e},",
          f"max |w2 diff| = {np.max(np.abs(w2_0[0].astype(np.float64) - res['beta0'] / math.sqrt(p))):.2e}")
    print("  step | numpy MSE (1/n sum e^2) | CLI train_loss | 2 x CLI | numpy cos | CLI cos")
    for s in [1, 2, 10, 100, 500, 1000, 2000, 3000, 4000, 5000, steps[-1]]:
        i = int(np.searchsorted(steps, s))
        if i >= len(steps) or steps[i] != s:
            continue
        # CLI train_loss at step s is the loss evaluated during step s (forward pass before update s)
        print(f"  {s:5d} | {res['losses'][s - 1]:.6e} | {cli_loss[i]:.6e} | {2 * cli_loss[i]:.6e} | "
              f"{res['coss'][s]:.6f} | {cli_cos[i]:.6f}")
    k = min(len(res["coss"]) - 1, steps[-1])
    i = int(np.searchsorted(steps, k))
    return {"numpy_cos_at_last_cli_step": res["coss"][k], "cli_cos": float(cli_cos[i]),
            "max_abs_cos_diff": float(np.max(np.abs(np.array(res["coss"])[steps[1:]] - cli_cos[1:]))),
            "max_rel_loss_diff_first_1000": float(np.max(np.abs(
                np.array(res["losses"])[steps[1:1001] - 1] - 2 * cli_loss[1:1001]) /
                (2 * cli_loss[1:1001])))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--p", type=int, default=200)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--d", type=int, default=150)
    ap.add_argument("--lam", type=float, default=0.0)
    ap.add_argument("--linear", action="store_true", help="linear student on y = X theta (F6), lr 1e-3")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--init", choices=("numpy", "cli"), default="numpy")
    ap.add_argument("--float32", action="store_true", help="float32 arithmetic (as the authors' torch code)")
    ap.add_argument("--trace", help="CLI trace of --first-seed to compare with step by step (implies --init cli)")
    ap.add_argument("--json", help="write per-seed results here")
    args = ap.parse_args()
    lr = args.lr if args.lr is not None else (1e-3 if args.linear else 1e-2)
    if args.trace:
        args.init, args.seeds = "cli", 1
    out = {"settings": {k: v for k, v in vars(args).items() if k != "json"} | {"lr": lr}, "runs": []}
    t0 = time.time()
    for s in range(args.first_seed, args.first_seed + args.seeds):
        make = cli_problem if args.init == "cli" else numpy_problem
        X, y, W, beta, b = make(s, args.n, args.d, args.p, args.linear)
        r = train(X, y, W, beta, b, lr, args.lam, args.linear,
                  np.float32 if args.float32 else np.float64, record=bool(args.trace))
        print(f"seed {s:3d}: cos(beta, b) = {r['cos']:.4f}  steps {r['steps']}  "
              f"MSE {r['loss0']:.1f} -> {r['loss_final']:.2e}", flush=True)
        if args.trace:
            r["W0"], r["beta0"] = W, beta
            out["compare"] = compare_trace(r, args.trace, args.p)
            print("  ", out["compare"])
        out["runs"].append({"seed": s, "cos": r["cos"], "steps": r["steps"], "loss0": r["loss0"],
                            "loss_final": r["loss_final"]})
    cos = np.array([r["cos"] for r in out["runs"]])
    out["cos_mean"], out["cos_sd"], out["n"] = float(cos.mean()), float(cos.std(ddof=1)) if len(cos) > 1 else 0.0, len(cos)
    out["wall_s"] = time.time() - t0
    print(f"cos(beta, b) over {len(cos)} seeds: {out['cos_mean']:.3f} ± {out['cos_sd']:.3f} "
          f"(sd, ddof 1); median {np.median(cos):.3f}; {out['wall_s']:.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
