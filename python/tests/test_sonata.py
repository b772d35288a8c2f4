"""SONATA: /report/<population> read by a reader written from the SONATA report spec
(every field libsonata's ReportReader requires), and `phaseless export --sonata`."""
import json

import h5py
import numpy as np
import pytest

from conftest import MINIMAL, cli


def sonata_report(path, population):
    """Frames of one population as a SONATA reader sees them: {node_id: [frames, k]}."""
    with h5py.File(path, "r") as f:
        assert f.attrs["magic"] == 0x0A7A and list(f.attrs["version"]) == [0, 1]
        g = f["report"][population]
        m = g["mapping"]
        node_ids = m["node_ids"][()]
        ptr = m["index_pointers"][()]
        elements = m["element_ids"][()]
        assert len(ptr) == len(node_ids) + 1 and ptr[0] == 0 and ptr[-1] == len(elements)
        assert np.all(np.diff(ptr) >= 0)
        t = m["time"]
        assert t.shape == (3,) and isinstance(t.attrs["units"], (str, bytes))
        start, stop, step = t[()]
        assert step > 0
        frames = int(np.ceil((stop - start) / step - 1e-6))   # times start, start+step, ... < stop
        data = g["data"]
        assert isinstance(data.attrs["units"], (str, bytes))
        assert data.shape == (frames, len(elements))
        if m["node_ids"].attrs.get("sorted", 0):
            assert np.all(np.diff(node_ids.astype(np.int64)) > 0)
        values = data[()]
        return node_ids, {int(n): values[:, ptr[i]:ptr[i + 1]] for i, n in enumerate(node_ids)}, (start, stop, step)


def test_report_follows_sonata(phaseless, tmp_path):
    trace = tmp_path / "t.h5"
    phaseless.load(MINIMAL, set={"schedule.epochs": 4, "record.sample_every": 3}).run(out=trace, progress=False)
    tr = phaseless.Trace(trace)
    for pop, size in (("h1", 8), ("out", 3)):
        node_ids, by_node, (start, stop, step) = sonata_report(trace, pop)
        assert node_ids.tolist() == list(range(size))   # 0-based within the population
        rep = tr.report(pop)
        assert (start, step) == (3, 3) and stop == 3 + 3 * rep.data.shape[0]
        assert rep.data.shape[0] == 6   # 20 samples, a frame every 3
        assert rep.samples.tolist() == [3, 6, 9, 12, 15, 18]
        for n in range(size):
            assert np.array_equal(by_node[n], rep.data[:, n, :])
    # The C++ reader reads the same time axis.
    assert "report h1: 8 nodes x (x,eps), 6 frames, time [3, 21) step 3 sample" in cli("inspect", trace).stdout


def dense_from_edges(path, population, shape):
    with h5py.File(path, "r") as f:
        e = f["edges"][population]
        w = np.zeros(shape)
        w[e["target_node_id"][()], e["source_node_id"][()]] = e["0"]["syn_weight"][()]
        return w, e["0"]["delay"][()], (e["source_node_id"].attrs["node_population"],
                                         e["target_node_id"].attrs["node_population"])


def test_export_rebuilds_weights(phaseless, tmp_path):
    trace = tmp_path / "t.h5"
    phaseless.load(MINIMAL).run(out=trace, progress=False)
    t = phaseless.Trace(trace)
    out = cli("export", "--sonata", trace, tmp_path / "end").stdout
    assert "snapshot at 10 samples" in out
    cli("export", "--sonata", MINIMAL, tmp_path / "start")
    cfg = json.loads((tmp_path / "end" / "circuit_config.json").read_text())
    assert cfg["networks"]["edges"][0]["edges_file"].endswith("edges.h5")
    for name, (pre, post) in {"w1": ("in", "h1"), "w2": ("h1", "out")}.items():
        snaps = t.snapshots(name)
        w_end, delay, pops = dense_from_edges(tmp_path / "end" / "edges.h5", name, snaps.last.shape)
        w_start, _, _ = dense_from_edges(tmp_path / "start" / "edges.h5", name, snaps.last.shape)
        assert [p.decode() if isinstance(p, bytes) else p for p in pops] == [pre, post]
        assert np.array_equal(w_end, snaps.last) and np.array_equal(w_start, snaps.data[0])
        assert delay.min() >= 1 and delay.max() <= (3 if name == "w2" else 1)
    with h5py.File(tmp_path / "end" / "nodes.h5", "r") as f:
        assert f["nodes"]["h1"]["node_type_id"].shape == (8,)
        assert np.array_equal(f["nodes"]["h1"]["0"]["bias"][()], t.snapshots("w1").bias[-1])
    # Never overwrites: a second export into the same folder is a user mistake (exit 2).
    r = cli("export", "--sonata", trace, tmp_path / "end", check=False)
    assert r.returncode == 2 and "exists" in r.stderr
    r = cli("export", trace, tmp_path / "x", check=False)
    assert r.returncode == 2 and "--sonata" in r.stderr


@pytest.mark.parametrize("model", ["graph_cnn", "graph_rnn"])
def test_export_graph_models_has_every_synapse(phaseless, tmp_path, model):
    # Convolutions and unrolled RNNs: one edge population per (copy of a) projection,
    # one edge per synapse, every node id inside its population.
    path = MINIMAL.parent / f"{model}.textproto"
    summary = phaseless.load(path).validate()
    trace = tmp_path / "t.h5"
    phaseless.load(path, set={"schedule.max_samples": 2}).run(out=trace, progress=False)
    s = phaseless.export_sonata(trace, tmp_path / "c")
    sizes = dict(summary["populations"])
    with h5py.File(tmp_path / "c" / "edges.h5", "r") as f:
        for p in summary["projections"]:
            e = f["edges"][p["name"]]
            assert len(e["0"]["syn_weight"]) == p["synapses"], p["name"]
            assert e["target_node_id"][()].max() < sizes[p["post"]] and e["source_node_id"][()].max() < sizes[p["pre"]]
            assert np.all(np.isfinite(e["0"]["syn_weight"][()]))
    assert s["edges"] == sum(p["synapses"] for p in summary["projections"])
