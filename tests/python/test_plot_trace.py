"""tools/plot_trace.py on real traces (written by the CLI) and on files that are not traces.

Run through CTest (test `plot_trace_py`), which sets PHASELESS_CLI to the built binary and
PYTHONPATH to the built Python module.
"""
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "plot_trace.py"
CLI = os.environ.get("PHASELESS_CLI", str(ROOT / "build" / "tools" / "phaseless"))

sys.path.insert(0, str(SCRIPT.parent))   # its helper module, tools/script_support.py
spec = importlib.util.spec_from_file_location("plot_trace", SCRIPT)
plot_trace = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_trace)


def run_cli(*args):
    r = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def plot(*args, timeout=60):
    return subprocess.run(["/usr/bin/python3", str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("traces")
    zil, dp, fa = d / "zil.h5", d / "dp.h5", d / "fa.h5"
    run_cli("run", str(ROOT / "tests/models/good/fmnist_small.textproto"), "-q", "--out", str(zil),
            "--set", "schedule.max_samples=600")
    run_cli("run", str(ROOT / "tests/models/good/dp_small.textproto"), "-q", "--out", str(dp))
    run_cli("run", str(ROOT / "models/fa_two_layer.textproto"), "-q", "--out", str(fa), "--set", "schedule.epochs=300")
    # Inside samples 3 and 599 of the Z-IL run: every population's messages, h's and out's states.
    model = (ROOT / "tests/models/good/fmnist_small.textproto").read_text().replace(
        "flush_every: 100 }", 'flush_every: 100 events { population: ["in", "h", "out"] samples: [3, 599] } }')
    assert "events {" in model
    (d / "inside.textproto").write_text(model)
    inside = d / "inside.h5"
    run_cli("run", str(d / "inside.textproto"), "-q", "--out", str(inside), "--set", "schedule.max_samples=600")
    return {"zil": zil, "dp": dp, "fa": fa, "inside": inside, "dir": d}


def panels(path):
    return [p for p, _ in plot_trace.panels_for([plot_trace.read_trace(str(path))])]


def test_panels_fit_the_rule(traces):
    zil = panels(traces["zil"])
    assert zil[:2] == ["accuracy", "loss"] and "wnorm" in zil and "unorm" in zil and "eps" in zil
    assert "wcos" not in zil and "dyads" not in zil
    dp = panels(traces["dp"])
    assert "dyads" in dp and "delta" in dp
    fa = panels(traces["fa"])
    assert "wcos" in fa and "angle" in fa and "nse" in fa and "accuracy" not in fa


def test_accuracy_in_percent_and_dyads_read_back(traces):
    t = plot_trace.read_trace(str(traces["zil"]))
    with h5py.File(traces["zil"], "r") as f:
        acc = f["metrics/test_accuracy"][()]
    assert np.allclose(t["metrics"]["test_accuracy"], acc)
    d = plot_trace.read_trace(str(traces["dp"]))
    s, means = d["reports"]["h"]
    with h5py.File(traces["dp"], "r") as f:
        data = f["report/h/data"][()]
    # element order s_plus, s_minus, delta, s_bar: mean over the 16 dyads of element 0 and |element 2|
    assert np.allclose(means["s_plus"], data[:, 0::4].mean(axis=1))
    assert np.allclose(means["delta"], np.abs(data[:, 2::4]).mean(axis=1))


def test_several_traces_overlaid_with_a_legend(traces):
    out = traces["dir"] / "all.png"
    r = plot(traces["zil"], traces["dp"], traces["fa"], "--labels", "zil,dp,fa", "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 20000
    assert r.stdout.strip() == f"wrote {out}"


def one_message(r):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def test_valid_hdf5_files_that_are_not_traces(tmp_path):
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    assert "not a Phaseless trace" in one_message(plot(plain, "-o", tmp_path / "p.png"))
    odd = tmp_path / "odd.h5"
    with h5py.File(odd, "w") as f:   # the right names, the wrong kinds
        f.create_group("metrics/samples")
    assert "odd.h5" in one_message(plot(odd, "-o", tmp_path / "o.png"))
    worse = tmp_path / "worse.h5"
    with h5py.File(worse, "w") as f:
        f["metrics/samples"] = np.arange(3)
        f["metrics/test_accuracy"] = np.array([b"a", b"b", b"c"])
        f["weights/w/snapshots"] = np.arange(2)
    assert "worse.h5" in one_message(plot(worse, "-o", tmp_path / "w.png"))
    text = tmp_path / "text.h5"
    text.write_text("hello\n")
    assert "not a readable HDF5 file" in one_message(plot(text, "-o", tmp_path / "t.png"))
    assert "file not found" in one_message(plot(tmp_path / "absent.h5", "-o", tmp_path / "a.png"))


def test_a_bad_metadata_checksum_fails_fast(traces, tmp_path):
    bad = tmp_path / "bad.h5"
    raw = bytearray(traces["zil"].read_bytes())
    # Object headers of the 1.8 format carry a checksum: flip a byte inside each of them.
    k = 0
    while (k := raw.find(b"OHDR", k + 1)) > 0:
        raw[k + 8] ^= 0xFF
    bad.write_bytes(bytes(raw))
    start = time.monotonic()
    msg = one_message(plot(bad, "-o", tmp_path / "b.png", timeout=30))
    assert time.monotonic() - start < 20
    assert "bad.h5" in msg


def test_output_problems(traces, tmp_path):
    r = plot(traces["zil"], "-o", tmp_path / "no_such_folder" / "x.png")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = plot(traces["zil"], "-o", traces["zil"])
    assert r.returncode == 2 and "is one of the traces" in r.stderr


def test_without_the_module_one_message_how_to_get_it(traces, tmp_path):
    # tools/ holds the CLI's sources in tools/phaseless/, which Python would import as an
    # empty namespace package: the script must still say that the module is missing.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(["/usr/bin/python3", str(SCRIPT), str(traces["zil"]), "-o", str(tmp_path / "x.png")],
                       capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    msg = one_message(r)
    assert "cannot import the phaseless Python module" in msg and "PYTHONPATH=build/python" in msg
    assert not (tmp_path / "x.png").exists()


def test_events_read_back_as_stored(traces):
    t = plot_trace.phaseless.Trace(str(traces["inside"]))
    assert t.event_names == ["h", "in", "out"]
    ev = t.events("h")
    with h5py.File(traces["inside"], "r") as f:
        m = f["events/h/messages"]
        for c in ("sample", "tick", "kind", "source", "neuron", "value", "dropped"):
            assert np.array_equal(ev.messages[c], m[c][()]), c
        data = f["events/h/state/data"][()]
    assert ev.samples == [3, 599]
    assert ev.state["elements"] == ["x", "eps"]
    assert ev.state["data"].shape == (len(ev.state["tick"]), 24, 2)   # all 24 neurons (<= 64), x and eps
    assert np.array_equal(ev.state["data"].reshape(len(data), -1), data)
    one = ev.of(599)
    assert set(one.messages["sample"].tolist()) == {599}
    # Sample 599 spans ticks 599*interval .. 600*interval - 1, one state row per tick.
    assert one.state["tick"].tolist() == list(range(599 * ev.interval, 600 * ev.interval))
    # h receives one activity per input pixel and one error per output neuron per sample in
    # DATAFLOW Z-IL, once per delay class (uniform delays 1..3: three classes).
    kinds = [ev.kind_names[k] for k in one.messages["kind"]]
    assert kinds.count("activity") == 3 * 784 and kinds.count("error") == 3 * 10
    assert t.events("in").state is None   # the input keeps no state


def test_inside_a_sample_plot(traces, tmp_path):
    out = tmp_path / "inside.png"
    r = plot(traces["inside"], "--inside", "599", "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 20000
    msg = one_message(plot(traces["inside"], "--inside", "5", "-o", tmp_path / "x.png"))
    assert "sample 5 was not recorded; recorded: 3, 599" in msg
    msg = one_message(plot(traces["zil"], "--inside", "0", "-o", tmp_path / "y.png"))
    assert "no recording inside samples" in msg
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()
