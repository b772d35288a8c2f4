#!/usr/bin/python3
"""PyTorch reference timing for the Phaseless benchmark.

Trains the benchmark network (784-256-256-10, ReLU hidden, linear output, softmax
cross-entropy, plain SGD lr 0.01, float32) on the CPU at batch 1 and at batch 64 and
prints machine-readable lines:

    torch_batch1_samples_per_s <value>
    torch_batch64_samples_per_s <value>

plus the context needed to judge them: torch version, thread count, the SIMD level
ATen's vectorised kernels dispatch to, and which BLAS library does the matrix products
(GEMM dominates this network, so the BLAS matters more than the SIMD level).

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 tools/bench_torch.py
"""
import argparse
import gzip
import os
import re
import struct
import sys
import time
from pathlib import Path

import numpy as np

try:
    import torch
except ImportError:
    sys.exit("bench_torch.py: cannot import torch; run it with /usr/bin/python3 (python3-torch)")

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SIZES = (784, 256, 256, 10)


def read_idx(path):
    """Minimal IDX reader (unsigned-byte only), plain or gzip; returns a numpy array."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndims = raw[3]
    dims = struct.unpack(">" + "I" * ndims, raw[4:4 + 4 * ndims])
    count = int(np.prod(dims))
    data = np.frombuffer(raw, dtype=np.uint8, count=count, offset=4 + 4 * ndims)
    return data.reshape(dims)


def load_data(kind, rows, seed):
    """Returns (x float32 [rows,784], y int64 [rows], description)."""
    images = FASHION_DIR / "train-images-idx3-ubyte.gz"
    labels = FASHION_DIR / "train-labels-idx1-ubyte.gz"
    if kind in ("auto", "fashion") and images.exists() and labels.exists():
        x = read_idx(images).reshape(-1, 784)[:rows].astype(np.float32) / np.float32(255.0)
        y = read_idx(labels)[:rows].astype(np.int64)
        return torch.from_numpy(x), torch.from_numpy(y), f"fashion-mnist ({len(y)} rows of {images})"
    if kind == "fashion":
        sys.exit(f"bench_torch.py: --data fashion but {images} / {labels} not found")
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(rows, 784, generator=g, dtype=torch.float32)
    y = torch.randint(0, 10, (rows,), generator=g)
    return x, y, f"random uniform [0,1) ({rows} rows)"


def make_model(seed):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(SIZES) - 1):
        layers.append(torch.nn.Linear(SIZES[i], SIZES[i + 1]))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def train_steps(model, opt, loss_fn, x, y, batch, steps, start):
    """Runs `steps` SGD steps, cycling through the data; returns (next start, last loss)."""
    rows = x.shape[0]
    loss = None
    for _ in range(steps):
        if start + batch > rows:
            start = 0
        xb = x[start:start + batch]  # contiguous view: no copy in the timed loop
        yb = y[start:start + batch]
        start += batch
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    return start, loss


def bench(batch, samples, warmup_samples, x, y, args):
    model = make_model(args.seed)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    start, _ = train_steps(model, opt, loss_fn, x, y, batch, max(1, warmup_samples // batch), 0)
    steps = max(1, samples // batch)
    t0 = time.perf_counter()
    _, loss = train_steps(model, opt, loss_fn, x, y, batch, steps, start)
    elapsed = time.perf_counter() - t0
    return steps * batch / elapsed, steps * batch, elapsed, float(loss)


def cpu_capability():
    """SIMD level of ATen's vectorised kernels, and where the answer came from."""
    cpu = getattr(torch.backends, "cpu", None)
    if cpu is not None and hasattr(cpu, "get_cpu_capability"):
        return cpu.get_cpu_capability(), "torch.backends.cpu.get_cpu_capability()"
    m = re.search(r"CPU capability usage:\s*(\S+)", torch.__config__.show())
    if m:
        how = "torch.__config__.show()"
        if os.environ.get("ATEN_CPU_CAPABILITY"):
            how += f", ATEN_CPU_CAPABILITY={os.environ['ATEN_CPU_CAPABILITY']}"
        return m.group(1), how
    return "unknown", "not reported by this torch"


def blas_kernels(libraries):
    """The kernel set OpenBLAS chose for this CPU (openblas_get_corename: e.g. Haswell =
    AVX2, SkylakeX = AVX-512; OPENBLAS_CORETYPE overrides its choice), and its build
    config, asked of the library loaded in this process; None without OpenBLAS."""
    import ctypes
    for entry in libraries:
        path = entry.split(" (")[0]
        if "openblas" not in os.path.basename(path).lower():
            continue
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return f"{lib.openblas_get_corename().decode()} ({lib.openblas_get_config().decode().strip()})"
        except (OSError, AttributeError):
            return None
    return None


def blas_libraries():
    """BLAS/GEMM libraries mapped into this process (after a matmul has run)."""
    torch.mm(torch.ones(8, 8), torch.ones(8, 8))
    found = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if re.search(r"(open)?blas|mkl|blis|atlas|flexiblas", os.path.basename(path), re.I):
                    found.add(os.path.realpath(path))
    except OSError:
        return ["unknown (no /proc/self/maps)"]
    described = []
    for path in sorted(found):
        name = os.path.basename(path).lower()
        if "openblas" in name or "/openblas" in path:
            kind = "OpenBLAS"
        elif "mkl" in name:
            kind = "Intel MKL"
        elif "blis" in name:
            kind = "BLIS"
        elif "atlas" in path:
            kind = "ATLAS"
        elif "/blas/libblas" in path:
            kind = "reference netlib BLAS, unvectorised"
        else:
            kind = "unknown"
        described.append(f"{path} ({kind})")
    return described or ["none found (torch's internal GEMM)"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=5000,
                   help="timed training samples at batch 1 (>= 2000; default 5000)")
    p.add_argument("--batch64-samples", type=int, default=64 * 300,
                   help="timed training samples at batch 64 (default 19200)")
    p.add_argument("--warmup", type=int, default=500, help="untimed warm-up samples per batch size (default 500)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--data", choices=("auto", "random", "fashion"), default="auto",
                   help="training data: Fashion-MNIST if installed (auto), or random")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.samples < 2000:
        p.error("--samples must be >= 2000 so the batch-1 timing is not noise")
    if args.threads < 1:
        p.error("--threads must be >= 1")

    torch.set_num_threads(args.threads)
    rows = max(args.samples, args.batch64_samples, args.warmup, 64)
    x, y, data_desc = load_data(args.data, min(rows, 60000), args.seed)

    capability, capability_source = cpu_capability()
    print(f"torch_version {torch.__version__}")
    print(f"torch_threads {torch.get_num_threads()}")
    print(f"cpu_capability {capability}  # ATen vectorised kernels (ReLU, softmax, SGD update); "
          f"from {capability_source}")
    print(f"openblas_coretype {os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    libraries = blas_libraries()
    kernels = blas_kernels(libraries)
    if kernels:
        print(f"blas_kernels {kernels}")
    for lib in libraries:
        print(f"blas_library {lib}")
    print(f"data {data_desc}")
    print(f"network {'-'.join(map(str, SIZES))} relu, softmax cross-entropy, SGD lr {args.lr}, float32")

    for batch, samples in ((1, args.samples), (64, args.batch64_samples)):
        rate, n, elapsed, loss = bench(batch, samples, args.warmup, x, y, args)
        print(f"# batch {batch}: {n} samples in {elapsed:.3f} s, last loss {loss:.4f}")
        print(f"torch_batch{batch}_samples_per_s {rate:.1f}")


if __name__ == "__main__":
    main()
