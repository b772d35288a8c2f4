"""Trace on a run that is still writing, on a SIGKILLed run, and Ctrl-C from Python."""
import os
import signal
import time

import numpy as np

from conftest import FMNIST_SMALL, cli, python_child

# fmnist_small for 100 epochs (300 000 samples, half a minute or more): long enough to be
# caught mid-run; metrics every 1000 samples, flush every 100.
LONG = '{"schedule.epochs": 100}'


def start_long_run(trace):
    code = (f"import phaseless, sys\n"
            f"m = phaseless.load({str(FMNIST_SMALL)!r}, set={LONG})\n"
            f"try:\n"
            f"    m.run(out={str(trace)!r}, threads=1, progress=False)\n"
            f"except KeyboardInterrupt:\n"
            f"    sys.exit(130)\n"
            f"sys.exit(0)\n")
    return python_child(code)


def wait_for_rows(phaseless, trace, rows, child, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert child.poll() is None, "the run ended before it could be interrupted"
        if os.path.exists(trace):
            try:
                n = len(phaseless.Trace(trace).metric("samples"))
                if n >= rows:
                    return n
            except phaseless.ModelError:
                pass   # structure not flushed yet
        time.sleep(0.2)
    raise AssertionError("no metrics rows appeared")


def test_live_then_killed_trace(phaseless, tmp_path):
    trace = tmp_path / "killed.h5"
    child = start_long_run(trace)
    try:
        live_rows = wait_for_rows(phaseless, trace, 3, child)   # reading while the run writes
        live = phaseless.Trace(trace)
        assert live.metric("samples")[:3].tolist() == [0, 1000, 2000]
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    t = phaseless.Trace(trace)
    samples = t.metric("samples")
    assert len(samples) >= live_rows and samples[-1] < 300000
    w = t.snapshots("w1")
    assert w.data.shape[1:] == (24, 784) and len(w.samples) == len(w.data) >= 3
    assert np.all(np.isfinite(w.data))
    rep = t.report("h")
    assert rep.elements == ["x", "eps"] and rep.data.shape[1:] == (24, 2)
    # SONATA's time still counts exactly the frames on disk (both change only at a flush).
    from test_sonata import sonata_report
    node_ids, by_node, (start, stop, step) = sonata_report(trace, "h")
    assert len(node_ids) == 24 and (stop - start) / step == rep.data.shape[0] >= 3
    assert np.array_equal(by_node[5], rep.data[:, 5, :])
    assert t.provenance["model_text"] == FMNIST_SMALL.read_text()
    assert len(t.sample_order) == 300000
    # The C++ reader agrees.
    assert "phaseless-trace" in cli("inspect", trace).stdout


def test_ctrl_c_stops_the_run_and_closes_the_trace(phaseless, tmp_path):
    trace = tmp_path / "interrupted.h5"
    child = start_long_run(trace)
    try:
        wait_for_rows(phaseless, trace, 2, child)
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert code == 130   # KeyboardInterrupt reached Python
    t = phaseless.Trace(trace)
    samples = t.metric("samples")
    # Stopped at the end of a chunk (chunks end at every flush, 100 samples) after the
    # second row, with a final evaluation row there; closed cleanly.
    assert 1000 < samples[-1] < 300000 and samples[-1] % 100 == 0
    assert samples[-2] % 1000 == 0 and t.snapshots("w1").samples[-1] <= samples[-1]
    assert "last of" in cli("inspect", trace).stdout


def test_run_releases_the_gil(phaseless, tmp_path):
    # While a run steps in a thread, this thread keeps executing Python: it reads the
    # growing trace. With the GIL held for the whole run it could not run until the end.
    import threading
    from conftest import FMNIST_SMALL as model
    trace = tmp_path / "threaded.h5"
    m = phaseless.load(model, set={"schedule.epochs": 20})   # 60 000 samples, several seconds
    stop_at = {}
    worker = threading.Thread(target=lambda: stop_at.setdefault("r", m.run(out=trace, threads=1, progress=False)))
    worker.start()
    seen = 0
    while worker.is_alive() and seen < 2:
        if os.path.exists(trace):
            try:
                seen = len(phaseless.Trace(trace).metric("samples"))
            except phaseless.ModelError:
                pass
        time.sleep(0.05)
    alive = worker.is_alive()
    worker.join()
    assert alive and seen >= 2   # read 2 rows while the run was still going
    assert stop_at["r"].samples[-1] == 60000
