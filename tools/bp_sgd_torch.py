#!/usr/bin/python3
"""Independent PyTorch re-creation of the authors' BP-SGD baseline (spec pc-family.md
§2.2, §2.7 "BP baselines", §2.8), to judge Phaseless' BP-SGD rows of the IL
learning-rate sweep (tools/replicate_il.py) against something other than itself.

Protocol, as the spec describes the authors' code:
  * MLP 784-256-256-10, ReLU hidden layers, linear output, torch.nn.Linear default
    initialization (W, b ~ U(-1/sqrt(fan_in), +1/sqrt(fan_in))), float32;
  * pixels in [0, 1] (ToTensor() only), training set reshuffled every pass, batch 1;
  * softmax cross-entropy (torch.nn.functional.cross_entropy), mean over the batch;
  * SGD on the weights only (`weight -= lr * grad`); the biases stay at their
    initial values;
  * test accuracy of the feed-forward argmax every --eval-every samples.

For each seed it prints the accuracy curve and how the run ended:
  "nan"       a weight or the loss became non-finite (the spec's "NaN" / "diverged"),
  "chance"    finite, but final accuracy <= 11 % with test loss >= 2.29 (dead ReLUs),
  "ok"        anything else,
plus the largest |W| reached, so that "grows without bound" and "collapses" can be
told apart. With --json it also writes every curve.

  /usr/bin/python3 tools/bp_sgd_torch.py [--alpha 0.1] [--seeds 1-10] [--samples 5000]
      [--eval-every 500] [--test-subset 10000] [--json FILE]
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import FASHION_DIR, read_idx  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("bp_sgd_torch.py: cannot import torch; run it with /usr/bin/python3 (python3-torch)")


def seeds_arg(text):
    """'3' -> [3]; '1-10' -> [1..10]; '1,4,7' -> [1, 4, 7]."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out


def load(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz").reshape(-1, 784)
    y = read_idx(FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz")
    return (torch.from_numpy(x.astype(np.float32) / np.float32(255.0)),
            torch.from_numpy(y.astype(np.int64)))


def evaluate(layers, x, y):
    with torch.no_grad():
        h = x
        for i, lin in enumerate(layers):
            h = lin(h)
            if i + 1 < len(layers):
                h = torch.relu(h)
        loss = F.cross_entropy(h, y).item()
        acc = (h.argmax(1) == y).float().mean().item()
    return acc, loss


def loss_of(h, y, naive):
    """Softmax cross-entropy: the stable log-sum-exp form, or (--naive-ce) the log of the
    softmax probabilities, which is -inf once a probability underflows in float32."""
    if naive:
        return -torch.log(torch.softmax(h, 1)[0, y[0]])
    return F.cross_entropy(h, y)


def run(seed, alpha, samples, eval_every, train, test, naive=False):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(784, 256), torch.nn.Linear(256, 256), torch.nn.Linear(256, 10)]
    xs, ys = train
    order = torch.randperm(len(ys))
    curve, max_w, end = [], 0.0, "ok"
    for t in range(samples):
        if t and t % len(ys) == 0:
            order = torch.randperm(len(ys))
        i = order[t % len(ys)]
        h = xs[i:i + 1]
        for k, lin in enumerate(layers):
            h = lin(h)
            if k + 1 < len(layers):
                h = torch.relu(h)
        loss = loss_of(h, ys[i:i + 1], naive)
        for lin in layers:
            lin.weight.grad = None
        loss.backward()
        with torch.no_grad():
            for lin in layers:  # weights only: the authors' BP-SGD leaves biases frozen
                lin.weight -= alpha * lin.weight.grad
            max_w = max(max_w, max(lin.weight.abs().max().item() for lin in layers))
        if not math.isfinite(loss.item()) or not math.isfinite(max_w):
            end = "nan"
            curve.append((t + 1, float("nan"), float("nan")))
            break
        if (t + 1) % eval_every == 0:
            acc, tl = evaluate(layers, *test)
            curve.append((t + 1, acc, tl))
    if end == "ok" and curve and curve[-1][1] <= 0.11 and curve[-1][2] >= 2.29:
        end = "chance"
    return {"seed": seed, "alpha": alpha, "end": end, "max_abs_w": max_w, "curve": curve}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--seeds", type=seeds_arg, default=seeds_arg("1-10"))
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--test-subset", type=int, default=10000)
    ap.add_argument("--naive-ce", action="store_true",
                    help="log(softmax(h)) instead of the stable cross-entropy (a hypothesis test)")
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.alpha <= 0 or a.samples <= 0 or a.eval_every <= 0 or a.test_subset <= 0:
        sys.exit("bp_sgd_torch.py: --alpha, --samples, --eval-every and --test-subset must be > 0")
    torch.set_num_threads(1)
    train = load("train")
    xt, yt = load("test")
    test = (xt[:a.test_subset], yt[:a.test_subset])
    results = []
    for s in a.seeds:
        r = run(s, a.alpha, a.samples, a.eval_every, train, test, a.naive_ce)
        results.append(r)
        accs = " ".join("nan" if math.isnan(c[1]) else f"{100 * c[1]:.1f}" for c in r["curve"])
        print(f"seed {s:3d}  alpha {a.alpha:g}  end {r['end']:6s}  max|W| {r['max_abs_w']:.3g}  acc% {accs}",
              flush=True)
    counts = {k: sum(r["end"] == k for r in results) for k in ("ok", "chance", "nan")}
    ce = "log(softmax) cross-entropy" if a.naive_ce else "stable cross-entropy"
    print(f"summary: {ce}, alpha {a.alpha:g}, {a.samples} samples, {len(results)} seeds: "
          f"nan {counts['nan']}, chance {counts['chance']}, ok {counts['ok']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"alpha": a.alpha, "samples": a.samples, "runs": results}, f)


if __name__ == "__main__":
    main()
