"""Shared fixtures. CTest sets PYTHONPATH (the built package), PHASELESS_CLI and
PHASELESS_SOURCE_DIR; run by hand as in README ("From Python")."""
import os
import pathlib
import subprocess
import sys

import pytest

SOURCE = pathlib.Path(os.environ.get("PHASELESS_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
CLI = os.environ.get("PHASELESS_CLI", str(SOURCE / "build" / "tools" / "phaseless"))
MINIMAL = SOURCE / "tests" / "models" / "good" / "minimal.textproto"       # 5 tiny training rows, 3 test rows
FMNIST_SMALL = SOURCE / "tests" / "models" / "good" / "fmnist_small.textproto"
BAD = SOURCE / "tests" / "models" / "bad"


def cli(*args, check=True):
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"phaseless {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
    return r


def python_child(code, **kw):
    """A child /usr/bin/python3 with the same package path (for kill and Ctrl-C tests)."""
    return subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ), **kw)


@pytest.fixture
def phaseless():
    import phaseless as p
    return p
