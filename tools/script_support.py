"""What tools/plot_trace.py and tools/replicate_*.py share: importing the phaseless module
(with one message saying how when it is not importable), matplotlib without a display,
timed runs, mean and sd, and the independent oracle scripts run as child processes."""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_phaseless(prog):
    """The phaseless package, or exit 2 with one message saying how to make it importable.
    (tools/phaseless/, the CLI's C++ sources, imports as an empty namespace package.)"""
    try:
        import phaseless
        if hasattr(phaseless, "Trace"):
            return phaseless
        reason = "no phaseless package on PYTHONPATH"
    except ImportError as e:
        reason = str(e)
    print(f"{prog}: cannot import the phaseless Python module ({reason}); build it (tools/build.sh) and run "
          f"from the repository root: PYTHONPATH=build/python /usr/bin/python3 tools/{prog} ..., "
          "or install it (README, 'From Python')", file=sys.stderr)
    sys.exit(2)


def pyplot():
    import matplotlib
    matplotlib.use("Agg")   # files only: works without a display
    import matplotlib.pyplot as plt
    return plt


def run_model(model, trace, sets):
    """One run on one thread (the module releases the GIL, so threads run side by side):
    (RunResult, wall seconds)."""
    phaseless = import_phaseless(os.path.basename(sys.argv[0]))
    t0 = time.time()
    r = phaseless.load(model, set=sets).run(out=trace, threads=1, progress=False)
    return r, time.time() - t0


def run_oracle(script, args, env=None):
    """An independent reference implementation (tools/SCRIPT, PyTorch or NumPy) in its own process,
    so that its threads and libraries stay out of ours; exits naming the command if it fails."""
    cmd = [sys.executable, os.path.join(ROOT, "tools", script), *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr.strip()}")


def mean_sd(xs):
    """Mean and sample sd (ddof 1; 0 for one value)."""
    import numpy as np
    xs = np.asarray(xs, dtype=float)
    return float(xs.mean()), float(xs.std(ddof=1)) if len(xs) > 1 else 0.0
