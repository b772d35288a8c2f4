#!/usr/bin/python3
"""Reference gradients for the Z-IL exactness tests on computational graphs.

Z-IL claims to produce exactly backprop's update, also when every synapse has its
own random delay. The exactness tests load the models in
tests/models/good/zil_graph/<case>.textproto, replace their data and parameters by
the ones stored here, run one batch of 4 samples, and compare the weight change
with -lr * grads/<name> below. This script computes those gradients with torch
autograd in float64 and checks them against central finite differences.

Semantics mirrored from the simulator (proto/phaseless.proto):
  * value nodes are pre-activations mu; a population sends f(mu) upward, where f
    is its activation; the INPUT population sends the raw x (identity);
  * mu = bias + sum over in-projections of W f(x_pre)  (combine SUM), or the
    elementwise product of the in-projections' W f(x_pre), no bias (PRODUCT);
  * dense W is (n_post, n_pre) as torch.nn.Linear; a conv kernel is
    (C_out, C_in, K, K) as torch.nn.Conv2d (cross-correlation, zero padding); a
    shaped population's neuron index is (c*H + y)*W + x, i.e. NCHW flattening;
    a shaped population's bias is one per channel;
  * combine BILINEAR: the matrix product X' Y' of its two operands' pre
    populations, a shaped population (C, H, W) read as a C x (H*W) matrix
    (channel-major), scaled by the operands' CONSTANT weights; combine SOFTMAX: the
    softmax of each row of its pre (attention_model);
  * SOFTMAX_CE: cross-entropy of softmax(mu_out) with integer labels;
    MSE: 0.5 * ||t - f(mu_out)||^2 summed over the outputs;
  * the batch loss is the mean over the 4 samples (the engine's step is
    -lr * (summed gradient) / batch).

Per case, data/zil_graph/<case>.h5 holds:
  x (4 x n_in), labels (int64, 4) or targets (4 x n_out),
  params/<name> (initial values), grads/<name> (dLoss/dparam, same shape),
  attributes lr, loss, case, loss_kind, model, batch_size, generator.
Names: a projection's name (from the model file) for its weight matrix or conv
kernel; "<population>.bias" for a bias. Fixed projections are not parameters.

The softmax cases also get tiny IDX files in data/zil_graph/idx/ (the loader
accepts teacher data only with MSE, so those models point at these files; the
tests replace the data anyway). Deterministic: re-running rewrites the same files.

Run from anywhere:  /usr/bin/python3 tools/make_zil_graph_reference.py
"""
import os
import struct
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "data", "zil_graph")
IDX_DIR = os.path.join(OUT_DIR, "idx")
GENERATOR = "/usr/bin/python3 tools/make_zil_graph_reference.py"
LR = 0.1
BATCH = 4
DTYPE = torch.float64


# ---------------------------------------------------------------- helpers

def uniform(gen, shape, scale):
    """U(-scale, scale): weights large enough that tanh is in its curved range
    (a near-linear network would hide errors in the activation derivatives)."""
    return (torch.rand(shape, generator=gen, dtype=DTYPE) * 2 - 1) * scale


def softmax_ce(logits, labels):
    # Mean over the batch of -log softmax(logits)[label].
    return F.cross_entropy(logits, labels, reduction="mean")


def mse(out, targets):
    # 0.5 * ||t - out||^2 per sample, summed over outputs, mean over the batch.
    return (0.5 * ((targets - out) ** 2).sum(dim=1)).mean()


def draw_inputs(gen, n_in):
    # Rounded to float32 values: Phaseless datasets hold float32 features, so the
    # reference must be computed at exactly the inputs the engines will see.
    return torch.randn((BATCH, n_in), generator=gen, dtype=DTYPE).float().to(DTYPE)


def draw_labels(gen, n_out):
    # Distinct-ish labels; int64 as torch wants them.
    return torch.randint(0, n_out, (BATCH,), generator=gen, dtype=torch.int64)


# ---------------------------------------------------------------- the cases
# Each returns (params, forward, data) where params is an ordered dict
# name -> tensor, forward(params) is the batch loss, and data holds x and
# labels or targets.

def case_mlp(gen):
    """in 8 -> h1 6 tanh -> h2 5 tanh -> out 3 (logits), softmax CE."""
    p = {
        "w1": uniform(gen, (6, 8), 0.8), "h1.bias": uniform(gen, (6,), 0.5),
        "w2": uniform(gen, (5, 6), 0.8), "h2.bias": uniform(gen, (5,), 0.5),
        "w3": uniform(gen, (3, 5), 0.8), "out.bias": uniform(gen, (3,), 0.5),
    }
    x = draw_inputs(gen, 8)
    labels = draw_labels(gen, 3)

    def loss(q):
        h1 = x @ q["w1"].T + q["h1.bias"]               # pre-activation of h1
        h2 = torch.tanh(h1) @ q["w2"].T + q["h2.bias"]  # h1 sends tanh(h1)
        out = torch.tanh(h2) @ q["w3"].T + q["out.bias"]
        return softmax_ce(out, labels)

    return p, loss, {"x": x, "labels": labels}, "SOFTMAX_CE"


def case_cnn(gen):
    """in (1,8,8) -conv3 pad1-> c1 (3,8,8) tanh -conv3 stride2-> c2 (4,3,3) tanh
    -dense-> out 3, softmax CE. Conv biases are per output channel."""
    p = {
        "k1": uniform(gen, (3, 1, 3, 3), 0.6), "c1.bias": uniform(gen, (3,), 0.5),
        "k2": uniform(gen, (4, 3, 3, 3), 0.4), "c2.bias": uniform(gen, (4,), 0.5),
        "w3": uniform(gen, (3, 36), 0.4), "out.bias": uniform(gen, (3,), 0.5),
    }
    x = draw_inputs(gen, 64)
    labels = draw_labels(gen, 3)

    def loss(q):
        img = x.view(BATCH, 1, 8, 8)                    # neuron (c*H + y)*W + x = NCHW
        c1 = F.conv2d(img, q["k1"], q["c1.bias"], stride=1, padding=1)
        c2 = F.conv2d(torch.tanh(c1), q["k2"], q["c2.bias"], stride=2, padding=0)
        assert c2.shape == (BATCH, 4, 3, 3)
        out = torch.tanh(c2).reshape(BATCH, 36) @ q["w3"].T + q["out.bias"]
        return softmax_ce(out, labels)

    return p, loss, {"x": x, "labels": labels}, "SOFTMAX_CE"


def case_rnn(gen):
    """x (12) = 3 steps of 4; h_t = tanh(wx x_t + wh h_{t-1} + b), h_0 = 0 (so step 1
    has no recurrent term); out = wo tanh(h_3) + b_out (many-to-one), softmax CE.
    wx, wh and h.bias are shared by the three steps."""
    p = {
        "wx": uniform(gen, (5, 4), 0.8), "wh": uniform(gen, (5, 5), 0.6),
        "h.bias": uniform(gen, (5,), 0.5),
        "wo": uniform(gen, (3, 5), 0.8), "out.bias": uniform(gen, (3,), 0.5),
    }
    x = draw_inputs(gen, 12)
    labels = draw_labels(gen, 3)

    def loss(q):
        h = None                                        # pre-activation of h@t
        for t in range(3):
            xt = x[:, 4 * t:4 * (t + 1)]                # step_slice 4, step-major
            mu = xt @ q["wx"].T + q["h.bias"]
            if h is not None:                           # h@t-1 -> h@t sends tanh(h@t-1)
                mu = mu + torch.tanh(h) @ q["wh"].T
            h = mu
        out = torch.tanh(h) @ q["wo"].T + q["out.bias"]
        return softmax_ce(out, labels)

    return p, loss, {"x": x, "labels": labels}, "SOFTMAX_CE"


def case_residual(gen):
    """in 6 -> h1 4 tanh -> h2 4 tanh -> out 4 identity, with a fixed identity skip
    h1 -> out: out = w3 tanh(h2) + tanh(h1) + b3. MSE."""
    p = {
        "w1": uniform(gen, (4, 6), 0.8), "h1.bias": uniform(gen, (4,), 0.5),
        "w2": uniform(gen, (4, 4), 0.8), "h2.bias": uniform(gen, (4,), 0.5),
        "w3": uniform(gen, (4, 4), 0.8), "out.bias": uniform(gen, (4,), 0.5),
    }
    x = draw_inputs(gen, 6)
    targets = torch.randn((BATCH, 4), generator=gen, dtype=DTYPE).float().to(DTYPE)   # float32 targets, as inputs

    def loss(q):
        h1 = x @ q["w1"].T + q["h1.bias"]
        h2 = torch.tanh(h1) @ q["w2"].T + q["h2.bias"]
        # The skip is one_to_one, fixed, CONSTANT 1: it adds h1's output tanh(h1).
        out = torch.tanh(h2) @ q["w3"].T + torch.tanh(h1) + q["out.bias"]
        return mse(out, targets)                        # out's activation is identity

    return p, loss, {"x": x, "targets": targets}, "MSE"


def case_product(gen):
    """a = wa x + ba (tanh), b = wb x + bb (sigmoid), p = tanh(a) * sigmoid(b)
    (PRODUCT of two fixed identity relays, no bias, identity activation),
    out = wo p + b_out, softmax CE."""
    p = {
        "wa": uniform(gen, (4, 6), 0.8), "a.bias": uniform(gen, (4,), 0.5),
        "wb": uniform(gen, (4, 6), 0.8), "b.bias": uniform(gen, (4,), 0.5),
        "wo": uniform(gen, (3, 4), 0.8), "out.bias": uniform(gen, (3,), 0.5),
    }
    x = draw_inputs(gen, 6)
    labels = draw_labels(gen, 3)

    def loss(q):
        a = x @ q["wa"].T + q["a.bias"]
        b = x @ q["wb"].T + q["b.bias"]
        prod = torch.tanh(a) * torch.sigmoid(b)         # relays ra, rb are 1 * f(pre)
        out = prod @ q["wo"].T + q["out.bias"]          # p's activation is identity
        return softmax_ce(out, labels)

    return p, loss, {"x": x, "labels": labels}, "SOFTMAX_CE"


def case_attention(gen):
    """Single-head attention over T = 3 tokens of 4 features (spec Z6):
    q, k, v = per-token linear maps (weights shared by the tokens, no bias);
    A = softmax(q k^T / sqrt(4)) over each row; z = A v; out = wo z + b_out
    (z flattened token-major), softmax CE. This one is built in code
    (tests/support/graph_specs.hpp make_attention), token-major; attention_model below
    is the model-file form."""
    T, d_in, d = 3, 4, 4
    p = {
        "wq": uniform(gen, (d, d_in), 0.8), "wk": uniform(gen, (d, d_in), 0.8),
        "wv": uniform(gen, (d, d_in), 0.8),
        "wo": uniform(gen, (3, T * d), 0.8), "out.bias": uniform(gen, (3,), 0.5),
    }
    x = draw_inputs(gen, T * d_in)
    labels = draw_labels(gen, 3)

    def loss(q):
        tokens = x.view(BATCH, T, d_in)
        qq, kk, vv = (tokens @ q[w].T for w in ("wq", "wk", "wv"))
        scores = qq @ kk.transpose(1, 2) / 2.0           # 1 / sqrt(d)
        z = torch.softmax(scores, dim=-1) @ vv            # (B, T, d)
        out = z.reshape(BATCH, T * d) @ q["wo"].T + q["out.bias"]
        return softmax_ce(out, labels)

    return p, loss, {"x": x, "labels": labels}, "SOFTMAX_CE"


def case_attention_model(gen):
    """The same attention block as a model file (tests/models/good/zil_graph/attention.textproto),
    channel-major: x is (d_in, T) = (4, 3), neuron c*T + t; q, k, v = 1x1 convs (a per-token
    linear map shared by the tokens, no bias), kernels (d, d_in, 1, 1) as the model's conv tie;
    S = 0.5 q^T k (BILINEAR, (T, T)); A = softmax over each row of S (SOFTMAX); z = v A^T
    (BILINEAR, (d, T): z[:, t] = sum_u A[t, u] v[:, u]), flattened neuron j*T + t;
    out = wo z + b_out, softmax CE."""
    T, d_in, d = 3, 4, 4
    p = {
        "wq": uniform(gen, (d, d_in, 1, 1), 0.8), "wk": uniform(gen, (d, d_in, 1, 1), 0.8),
        "wv": uniform(gen, (d, d_in, 1, 1), 0.8),
        "wo": uniform(gen, (3, d * T), 0.8), "out.bias": uniform(gen, (3,), 0.5),
    }
    x = draw_inputs(gen, d_in * T)
    labels = draw_labels(gen, 3)

    def loss(q):
        xs = x.view(BATCH, d_in, T)                        # (B, d_in, T), channel-major
        qq, kk, vv = (q[w][:, :, 0, 0] @ xs for w in ("wq", "wk", "wv"))   # (B, d, T)
        scores = 0.5 * qq.transpose(1, 2) @ kk             # S = q^T k / sqrt(d), (B, T, T)
        a = torch.softmax(scores, dim=-1)                  # each row r of S
        z = vv @ a.transpose(1, 2)                         # z = v A^T, (B, d, T)
        out = z.reshape(BATCH, d * T) @ q["wo"].T + q["out.bias"]
        return softmax_ce(out, labels)

    return p, loss, {"x": x, "labels": labels}, "SOFTMAX_CE"


CASES = [  # name, builder, seed (one per case: adding a case changes no other)
    ("mlp", case_mlp, 101),
    ("cnn", case_cnn, 102),
    ("rnn", case_rnn, 103),
    ("residual", case_residual, 104),
    ("product", case_product, 105),
    ("attention", case_attention, 106),
    ("attention_model", case_attention_model, 107),
]

# Where each case's network comes from, when not tests/models/good/zil_graph/<case>.textproto.
MODEL = {
    "attention": "tests/support/graph_specs.hpp make_attention",
    "attention_model": "tests/models/good/zil_graph/attention.textproto",
}


# ---------------------------------------------------------------- checks and output

def autograd_grads(params, loss_fn):
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss = loss_fn(leaves)
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return loss.item(), {k: g.detach() for k, g in zip(leaves, grads)}


def finite_difference_error(params, loss_fn, grads, h=1e-5):
    """Central differences for every parameter entry; returns the worst
    max|g - fd| / max|g| over the parameters (a relative error per tensor, so
    entries with a tiny gradient do not inflate it)."""
    worst = 0.0
    with torch.no_grad():
        for name, value in params.items():
            fd = torch.zeros_like(value)
            flat, fd_flat = value.view(-1), fd.view(-1)
            for i in range(flat.numel()):
                keep = flat[i].item()
                flat[i] = keep + h
                up = loss_fn(params).item()
                flat[i] = keep - h
                down = loss_fn(params).item()
                flat[i] = keep
                fd_flat[i] = (up - down) / (2 * h)
            g = grads[name]
            rel = ((g - fd).abs().max() / g.abs().max().clamp_min(1e-300)).item()
            worst = max(worst, rel)
    return worst


def write_idx(case, x, labels):
    """Tiny IDX files of the right pixel count for the loader's checks (4 samples,
    1 x n_in images). The pixel values are x mapped to bytes: meaningless, since
    the exactness test replaces the data by the HDF5 file's x."""
    os.makedirs(IDX_DIR, exist_ok=True)
    n_in = x.shape[1]
    pixels = np.clip(np.round(x.numpy() * 40 + 128), 0, 255).astype(np.uint8)

    def header(dims):
        return bytes([0, 0, 0x08, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)

    with open(os.path.join(IDX_DIR, f"{case}-images-idx3-ubyte"), "wb") as f:
        f.write(header([BATCH, 1, n_in]) + pixels.tobytes())
    with open(os.path.join(IDX_DIR, f"{case}-labels-idx1-ubyte"), "wb") as f:
        f.write(header([BATCH]) + labels.numpy().astype(np.uint8).tobytes())


def untimed_file(path):
    """An HDF5 file whose groups carry no modification times (datasets get
    track_times=False below), so re-running rewrites identical bytes."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)           # the root group
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl))


def untimed_group(f, name):
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(f.id, name.encode(), gcpl=gcpl))


def write_h5(case, params, grads, data, loss, loss_kind):
    path = os.path.join(OUT_DIR, f"{case}.h5")
    with untimed_file(path) as f:
        f.create_dataset("x", data=data["x"].numpy(), track_times=False)
        if "labels" in data:
            f.create_dataset("labels", data=data["labels"].numpy().astype(np.int64), track_times=False)
        else:
            f.create_dataset("targets", data=data["targets"].numpy(), track_times=False)
        gp, gg = untimed_group(f, "params"), untimed_group(f, "grads")
        for name in params:
            gp.create_dataset(name, data=params[name].numpy(), track_times=False)
            gg.create_dataset(name, data=grads[name].numpy(), track_times=False)
        f.attrs["lr"] = LR
        f.attrs["loss"] = loss
        f.attrs["case"] = case
        f.attrs["loss_kind"] = loss_kind
        f.attrs["batch_size"] = BATCH
        f.attrs["model"] = MODEL.get(case, f"tests/models/good/zil_graph/{case}.textproto")
        f.attrs["generator"] = GENERATOR
    return path


def main():
    torch.manual_seed(0)  # nothing below uses the global stream; fixed anyway
    os.makedirs(OUT_DIR, exist_ok=True)
    worst_all = 0.0
    for case, build, seed in CASES:
        gen = torch.Generator().manual_seed(seed)
        params, loss_fn, data, loss_kind = build(gen)
        loss, grads = autograd_grads(params, loss_fn)
        fd_err = finite_difference_error({k: v.clone() for k, v in params.items()}, loss_fn, grads)
        worst_all = max(worst_all, fd_err)
        path = write_h5(case, params, grads, data, loss, loss_kind)
        if "labels" in data and case != "attention":   # attention has no model file to load data
            write_idx(case, data["x"], data["labels"])
        n = sum(v.numel() for v in params.values())
        print(f"{case:15s} loss {loss:.12f}  {n:4d} parameters  "
              f"finite-difference max rel error {fd_err:.2e}  -> {os.path.relpath(path, ROOT)}")
    print(f"worst finite-difference relative error: {worst_all:.2e}")
    if worst_all > 1e-6:
        print("FAILED: autograd and finite differences disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
