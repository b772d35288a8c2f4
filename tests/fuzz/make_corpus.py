#!/usr/bin/python3
"""Writes the seed corpus of the IDX and trace fuzz targets (a few kB in all).

The model target's seeds are the model files of tests/models/{good,bad} plus the few
files in corpus/model (a model text, a line "%%", then --set arguments). Deterministic
output; run from anywhere: the files land in corpus/ next to this script.
"""
import gzip
import os
import struct

import h5py
import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def idx(dims, data):
    return bytes([0, 0, 0x08, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def write(sub, name, data):
    with open(os.path.join(HERE, sub, name), "wb") as f:
        f.write(data)


def idx_seeds():
    # fuzz_idx input: one byte L, L bytes of labels, then the images.
    labels = idx([4], [0, 1, 2, 1])
    images = idx([4, 2, 3], range(24))
    write("idx", "plain", bytes([len(labels)]) + labels + images)
    write("idx", "gzip", bytes([len(labels)]) + labels + gzip.compress(images, mtime=0))
    write("idx", "truncated", bytes([len(labels)]) + labels + images[:20])
    write("idx", "four_dims", bytes([0]) + idx([2, 1, 2, 2], range(8)))


def trace_seed():
    # The skeleton of a trace: root attributes, metrics, provenance, a snapshot and a report.
    path = os.path.join(HERE, "trace", "small.h5")
    with h5py.File(path, "w", libver="latest", track_order=False) as f:
        f.attrs["format"] = "phaseless-trace"
        f.attrs["format_version"] = np.uint32(1)
        f.attrs["magic"] = np.uint32(2682)
        f.attrs["time_units"] = "tick"
        f.attrs["version"] = "0.1.0"
        m = f.create_group("metrics")
        m.create_dataset("samples", data=np.array([0, 5], dtype=np.uint64), maxshape=(None,), chunks=(4,))
        m.create_dataset("test_accuracy", data=np.array([0.25, 0.5]), maxshape=(None,), chunks=(4,))
        m.create_dataset("test_loss", data=np.array([1.5, np.nan]), maxshape=(None,), chunks=(4,))
        m.create_dataset("train_loss", data=np.array([2.0, 1.0]), maxshape=(None,), chunks=(4,))
        m.create_dataset("events", data=np.array([0, 90], dtype=np.uint64), maxshape=(None,), chunks=(4,))
        p = f.create_group("provenance")
        p.attrs["model_name"] = "tiny"
        p.attrs["seed"] = np.uint64(7)
        p.attrs["threads"] = np.uint32(1)
        p.create_dataset("model_text", data="schema_version: 1\n")
        p.create_dataset("sample_order", data=np.array([3, 1, 2, 0], dtype=np.uint64))
        w = f.create_group("weights/w1")
        w.create_dataset("w", data=np.arange(12, dtype=np.float32).reshape(1, 3, 4), maxshape=(None, 3, 4),
                         chunks=(1, 3, 4))
        r = f.create_group("report/h/mapping")
        r.create_dataset("node_ids", data=np.arange(3, dtype=np.uint64))
        f.create_dataset("report/h/data", data=np.zeros((2, 3), dtype=np.float32))


if __name__ == "__main__":
    idx_seeds()
    trace_seed()
