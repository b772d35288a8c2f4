"""npy and hdf5 data sources on files written by NumPy and h5py themselves (the readers in
sim/io parse the .npy format by hand; these are the independent writers).

Run through CTest (test `data_files_py`), which sets PHASELESS_CLI.
"""
import os
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = os.environ.get("PHASELESS_CLI", str(ROOT / "build" / "tools" / "phaseless"))

MODEL = """schema_version: 1
name: "arrays"
populations {{ name: "in" role: INPUT size: 12 }}
populations {{ name: "out" role: OUTPUT size: 4 bias: true }}
projections {{ name: "w" pre: "in" post: "out" dense {{}} }}
rule {{ zil {{ optimizer {{ lr: 0.05 }} }} }}
data {{ {data} }}
schedule {{ epochs: 2 }}
"""
NPY = 'npy { train_images: "x.npy" train_labels: "y.npy" test_images: "tx.npy" test_labels: "ty.npy" }'


def cli(*args, cwd):
    return subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def learnable(n, rng, dtype):
    """Four classes that a linear layer separates: class k lights pixels 3k..3k+2."""
    y = rng.integers(0, 4, n)
    x = rng.random((n, 3, 4)) * 0.1
    for i, k in enumerate(y):
        x[i].reshape(-1)[3 * k:3 * k + 3] += 1.0
    if dtype == np.uint8:
        x = np.clip(x * 200, 0, 255)
    return x.astype(dtype), y


def write_model(d, data):
    (d / "m.textproto").write_text(MODEL.format(data=data))


@pytest.mark.parametrize("img_dtype,lab_dtype,version", [(np.uint8, np.int64, (1, 0)), (np.float32, np.uint8, (2, 0)),
                                                          (np.float64, np.int32, (3, 0))])
def test_numpy_files_train(tmp_path, img_dtype, lab_dtype, version):
    rng = np.random.default_rng(1)
    for prefix, n in (("", 200), ("t", 100)):
        x, y = learnable(n, rng, img_dtype)
        for name, arr in ((f"{prefix}x.npy", x), (f"{prefix}y.npy", y.astype(lab_dtype))):
            with open(tmp_path / name, "wb") as f:
                np.lib.format.write_array(f, arr, version=version)
    write_model(tmp_path, NPY)
    r = cli("run", "m.textproto", "-q", "--out", "r.h5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f["metrics/test_accuracy"][-1] > 0.9   # separable by construction


def test_numpy_layouts_that_are_refused(tmp_path):
    rng = np.random.default_rng(2)
    x, y = learnable(20, rng, np.float32)
    for name, arr in (("x.npy", x), ("y.npy", y), ("tx.npy", x), ("ty.npy", y)):
        np.save(tmp_path / name, arr)
    write_model(tmp_path, NPY)
    np.save(tmp_path / "x.npy", np.asfortranarray(x.reshape(20, 12)))
    r = cli("validate", "m.textproto", cwd=tmp_path)
    assert r.returncode == 2 and "data.npy.train_images" in r.stderr and "Fortran order" in r.stderr
    np.save(tmp_path / "x.npy", x.astype(">f4"))
    r = cli("validate", "m.textproto", cwd=tmp_path)
    assert r.returncode == 2 and "big-endian" in r.stderr
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "ty.npy", y.astype(np.float32))
    r = cli("validate", "m.textproto", cwd=tmp_path)
    assert r.returncode == 2 and "data.npy.test_labels" in r.stderr and "float32" in r.stderr
    np.save(tmp_path / "ty.npy", y + 4)   # labels 4..7, but 4 output neurons
    r = cli("validate", "m.textproto", cwd=tmp_path)
    assert r.returncode == 2 and "data.npy.test_labels holds label 7" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_h5py_datasets_train(tmp_path):
    rng = np.random.default_rng(3)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        for split, n in (("train", 200), ("test", 100)):
            x, y = learnable(n, rng, np.uint8)
            f[f"{split}/images"] = x
            f[f"{split}/labels"] = y.astype(np.int16)
    write_model(tmp_path, 'hdf5 { file: "d.h5" images: "train/images" labels: "train/labels" '
                          'test_images: "test/images" test_labels: "test/labels" }')
    r = cli("run", "m.textproto", "-q", "--out", "r.h5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f["metrics/test_accuracy"][-1] > 0.9
