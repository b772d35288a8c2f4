"""The Python API against the CLI, its errors, and sweeps."""
import os

import numpy as np
import pytest

from conftest import BAD, MINIMAL, cli


def test_run_equals_cli_bitwise(phaseless, tmp_path):
    # Same model, same seed and overrides: the CLI's trace and the API's in-memory final
    # weights must be identical (same session code; an f32 run stores its values exactly).
    cli("run", MINIMAL, "--out", tmp_path / "cli.h5", "--set", "seed=3", "--set", "schedule.epochs=3", "-q")
    m = phaseless.load(MINIMAL, set={"seed": 3, "schedule.epochs": 3})
    r = m.run(out=tmp_path / "api.h5", progress=False)
    t_cli, t_api = phaseless.Trace(tmp_path / "cli.h5"), phaseless.Trace(tmp_path / "api.h5")
    assert sorted(r.weights) == t_cli.weight_names == ["w1", "w2"]
    for name, w in r.weights.items():
        assert w.shape == t_cli.snapshots(name).last.shape
        assert np.array_equal(w, t_cli.snapshots(name).last), name
        assert np.array_equal(t_api.snapshots(name).data, t_cli.snapshots(name).data), name
    assert r.weights["w1"].shape == (8, 12)   # (n_post, n_pre)
    for col in ("samples", "test_accuracy", "test_loss", "train_loss", "events"):
        assert np.array_equal(r.metrics[col], t_cli.metric(col), equal_nan=True), col
    assert r.samples[0] == 0 and r.samples[-1] == 15
    assert r.metrics["samples"].dtype == np.uint64
    assert np.array_equal(t_api.sample_order, t_cli.sample_order) and len(t_api.sample_order) == 15


def test_model_text_validate_and_provenance(phaseless, tmp_path):
    m = phaseless.load(MINIMAL, set={"rule.zil.optimizer.lr": 0.01})
    assert "lr: 0.01" in m.text and m.source_text == MINIMAL.read_text()
    s = m.validate()
    assert [p[0] for p in s["populations"]] == ["in", "h1", "out"]
    assert s["projections"][1]["max_delay"] == 3 and s["presentation_interval"] > 0
    m.run(out=tmp_path / "t.h5", progress=False)
    p = phaseless.Trace(tmp_path / "t.h5").provenance
    assert p["model_text"] == MINIMAL.read_text()
    assert "lr: 0.01" in p["effective_model"] and p["seed"] == 7


def test_reports_have_labels_and_times(phaseless, tmp_path):
    phaseless.load(MINIMAL).run(out=tmp_path / "t.h5", progress=False)
    rep = phaseless.Trace(tmp_path / "t.h5").report("h1")
    assert rep.elements == ["x", "eps"]
    # 10 samples and record.sample_every unset: about 20 frames a run, here one per sample
    assert rep.data.shape == (10, 8, 2)   # 10 frames, 8 nodes, (x, eps)
    assert rep.samples.tolist() == list(range(1, 11)) and rep.times.tolist() == [float(k) for k in range(1, 11)]
    assert rep.time_units == "sample"
    assert np.all(np.diff(rep.ticks) > 0)
    assert np.array_equal(rep["eps"], rep.data[:, :, 1])


def test_bad_model_raises_with_location(phaseless):
    with pytest.raises(phaseless.ModelError) as e:
        phaseless.load(BAD / "bad_enum.textproto")
    assert e.value.file.endswith("bad_enum.textproto")
    assert (e.value.line, e.value.column) == (6, 32)   # the file's "# at:" header
    assert "HIDEN" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_every_bad_model_with_a_position_reports_it(phaseless):
    checked = 0
    for f in sorted(BAD.glob("*.textproto")):
        at = [l.split(":", 1)[1].strip() for l in f.read_text().splitlines() if l.startswith("# at:")]
        if not at or at[0] == "none":
            continue
        line, col = map(int, at[0].split(":"))
        with pytest.raises(phaseless.ModelError) as e:
            phaseless.load(f)
        positions = [(p.line, p.column) for p in e.value.problems]
        assert (line, col) in positions, (f.name, str(e.value))
        checked += 1
    assert checked >= 5


def test_semantic_error_names_field_path(phaseless):
    with pytest.raises(phaseless.ModelError) as e:
        phaseless.load(MINIMAL, set={"populations[h1].size": 0})
    assert e.value.field is not None and "populations" in e.value.field and "size" in e.value.field


def test_argument_errors(phaseless, tmp_path):
    m = phaseless.load(MINIMAL)
    with pytest.raises(phaseless.ModelError, match="threads"):
        m.run(threads=-1)
    with pytest.raises(phaseless.ModelError, match="engine"):
        m.run(engine="fast")
    with pytest.raises(phaseless.ModelError, match="nope.textproto: cannot read model file"):
        phaseless.load(tmp_path / "nope.textproto")
    with pytest.raises(phaseless.ModelError, match="--set"):
        phaseless.load(MINIMAL, set={"rule.zil.nonsense": 1})
    with pytest.raises(phaseless.ModelError, match="folder"):
        m.run(out=tmp_path / "missing" / "t.h5", progress=False)
    with pytest.raises(phaseless.ModelError, match="format"):
        import h5py
        h5py.File(tmp_path / "y.h5", "w").close()
        phaseless.Trace(tmp_path / "y.h5")


def test_compare_matches_cli_agreement(phaseless):
    c = phaseless.load(MINIMAL).compare(progress=False)
    # DATAFLOW with delays 1..3 only reassociates float sums: updates agree to float rounding.
    for name, u in c.updates.items():
        assert u["cosine"] > 1 - 1e-5 and u["relative_error"] < 1e-3, (name, u)
    assert c.event.samples[-1] == c.baseline.samples[-1] == 10


def test_sweep_small_grid(phaseless, tmp_path):
    m = phaseless.load(MINIMAL)
    table = phaseless.sweep(m, grid={"rule.zil.optimizer.lr": [0.02, 0.05]}, seeds=[1, 2], processes=2, out=tmp_path / "s")
    assert len(table) == 4
    assert table["rule.zil.optimizer.lr"].tolist() == [0.02, 0.02, 0.05, 0.05]
    assert table["seed"].tolist() == [1, 2, 1, 2]
    for row in table:
        t = phaseless.Trace(row["trace"])
        assert row["test_accuracy"] == t.metric("test_accuracy")[-1]
        assert row["samples"] == 10 and row["diverged"] == ""
    # A row equals the same run made directly.
    direct = phaseless.load(MINIMAL, set={"rule.zil.optimizer.lr": 0.05, "seed": 2}).run(progress=False)
    row = table[3]
    assert np.array_equal(direct.weights["w1"], phaseless.Trace(row["trace"]).snapshots("w1").last)
    # The traces are not replaced by a second sweep into the same folder.
    with pytest.raises(phaseless.ModelError, match="overwrite"):
        phaseless.sweep(m, grid={"rule.zil.optimizer.lr": [0.02]}, seeds=[1], out=tmp_path / "s")
    # A bad grid value fails before any run, naming the override.
    with pytest.raises(phaseless.ModelError, match="lr"):
        phaseless.sweep(m, grid={"rule.zil.optimizer.lr": [-1.0]}, out=tmp_path / "bad")


def test_dual_propagation_report_labels(phaseless, tmp_path):
    from conftest import SOURCE
    model = SOURCE / "tests" / "models" / "good" / "dp_small.textproto"
    phaseless.load(model, set={"schedule.max_samples": 500}).run(out=tmp_path / "dp.h5", progress=False)
    rep = phaseless.Trace(tmp_path / "dp.h5").report("h")
    assert rep.elements == ["s_plus", "s_minus", "delta", "s_bar"]
    assert rep.samples.tolist() == [500] and rep.data.shape[0] == 1
    # The labels name the right columns: s_bar = alpha s_plus + (1 - alpha) s_minus with the
    # model's alpha 1/2 (float32 state: a few ulps), and the dyads are not all equal.
    sp, sm, sb = rep["s_plus"], rep["s_minus"], rep["s_bar"]
    assert np.allclose(sb, 0.5 * sp + 0.5 * sm, rtol=1e-6, atol=1e-6) and np.ptp(sp) > 0


def test_with_set_adds_overrides(phaseless):
    m = phaseless.load(MINIMAL, set={"seed": 3}).with_set({"rule.zil.optimizer.lr": 0.02})
    assert m.overrides == {"seed": 3, "rule.zil.optimizer.lr": 0.02} and m.seed == 3 and "lr: 0.02" in m.text
