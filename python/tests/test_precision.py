"""Traces keep the run's precision: a FLOAT64 run's update checked from its trace to 1e-9."""
import numpy as np

from conftest import MINIMAL, cli


def test_float64_trace_update_matches_baseline(phaseless, tmp_path):
    m = phaseless.load(MINIMAL, set={"execution.precision": "FLOAT64"})
    trace = tmp_path / "f64.h5"
    m.run(out=trace, progress=False)
    baseline = m.run(engine="baseline", progress=False)   # the synchronous form, in memory (double)
    t = phaseless.Trace(trace)
    for name in ("w1", "w2"):
        s = t.snapshots(name)
        assert s.data.dtype == np.float64 and s.bias.dtype == np.float64
        dw_trace = s.last - s.data[0]
        dw_base = baseline.weights[name] - s.data[0]
        # Oracle: the synchronous baseline. DATAFLOW with random delays only reassociates
        # sums (~1e-15 relative); an f32 trace could not get below ~1e-6 here.
        rel = np.linalg.norm(dw_trace - dw_base) / np.linalg.norm(dw_base)
        assert rel < 1e-9, (name, rel)
    assert t.report("h1").data.dtype == np.float64


def test_float32_trace_stays_float32_and_compare_handles_both(phaseless, tmp_path):
    trace = tmp_path / "f32.h5"
    phaseless.load(MINIMAL).run(out=trace, progress=False)
    assert phaseless.Trace(trace).snapshots("w1").data.dtype == np.float32
    for precision in ("FLOAT32", "FLOAT64"):
        r = cli("compare", MINIMAL, "--set", f"execution.precision={precision}", "-q",
                "--report", tmp_path / f"{precision}.txt", "--out", tmp_path / f"{precision}.h5")
        assert "weight updates" in r.stdout
    assert "f64 [" in cli("inspect", tmp_path / "FLOAT64.h5").stdout
