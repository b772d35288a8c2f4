"""Trace on files that crash or hang the HDF5 library itself (h5py runs on the same
libhdf5): one ModelError, never a crash of Python or a hang."""
import subprocess
import sys
import time

import pytest

from conftest import MINIMAL, SOURCE, cli


def damaged(kind, tmp_path):
    good = tmp_path / "good.h5"
    cli("run", MINIMAL, "-q", "--out", good)
    out = tmp_path / f"{kind}.h5"
    subprocess.run([sys.executable, str(SOURCE / "tests" / "support" / "hostile_traces.py"), kind, str(good), str(out)],
                   check=True)
    return out


def test_looping_heap_raises_instead_of_hanging(phaseless, tmp_path):
    # Plain h5py spins for ever on this file (a global heap object of index 0 and size 0).
    f = damaged("looping_heap", tmp_path)
    start = time.monotonic()
    with pytest.raises(phaseless.ModelError) as e:
        phaseless.Trace(f, stall_timeout=1)
    assert str(e.value) == (f"cannot read trace '{f}': the HDF5 library stopped making progress (it kept the CPU "
                            "busy without reading anything) while reading it: the file is damaged")
    # Bounded: 1 s without a read, with at least 0.5 s of CPU, on a loaded 2-core machine.
    assert time.monotonic() - start < 60


def test_crashing_file_raises_instead_of_killing_python(phaseless):
    f = SOURCE / "tests" / "cli" / "data" / "hdf5_segfault.trace"
    with pytest.raises(phaseless.ModelError) as e:
        phaseless.Trace(f)
    # Under AddressSanitizer the child reports the fault and exits 1 instead of a signal.
    assert str(e.value).startswith(f"cannot read trace '{f}': ")


def test_good_trace_passes_the_probe(phaseless, tmp_path):
    good = tmp_path / "good.h5"
    cli("run", MINIMAL, "-q", "--out", good)
    assert phaseless.Trace(good).provenance["model_text"] == MINIMAL.read_text()


@pytest.mark.parametrize("bad", [0, -1, 1e9, "10", True])
def test_stall_timeout_argument(phaseless, tmp_path, bad):
    with pytest.raises(phaseless.ModelError, match=r"argument stall_timeout=.*: allowed: seconds, from 0.1 to 86400"):
        phaseless.Trace(tmp_path / "x.h5", stall_timeout=bad)
