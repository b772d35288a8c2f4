"""Crafted and damaged traces for tests/cli/test_cli_reliability.cpp.

usage: hostile_traces.py KIND SOURCE_TRACE OUT
Each KIND copies SOURCE_TRACE (a trace `phaseless run` wrote) to OUT and breaks one thing.
"""
import shutil
import sys

import h5py
import numpy as np


def replace_attr(obj, name, value):
    del obj.attrs[name]
    obj.attrs[name] = value


def array_format(f):        # a string attribute that is an array of 3 variable-length strings
    replace_attr(f, "format", np.array(["phaseless-trace"] * 3, dtype=h5py.string_dtype()))


def array_fixed_format(f):  # an array of fixed-length strings
    replace_attr(f, "format", np.array([b"phaseless-trace"] * 4, dtype="S15"))


def array_magic(f):         # a numeric attribute that is an array
    replace_attr(f, "magic", np.arange(64, dtype="u4"))


def array_seed(f):          # the u64 read natively into one variable
    replace_attr(f["provenance"], "seed", np.arange(50, dtype="u8"))


def array_units(f):
    replace_attr(f, "time_units", np.array(["tick"] * 1000, dtype=h5py.string_dtype()))


def string_version(f):      # a number expected, a string found
    replace_attr(f, "version", "0.1")


def huge_shape(f):          # 2^40 x 2^40 x 2^40 elements: the count overflows 64 bits
    del f["metrics/test_accuracy"]
    f.create_dataset("metrics/test_accuracy", shape=(2**40, 2**40, 2**40), maxshape=(None, None, None),
                     chunks=(1, 1, 1), dtype="f8")


def provenance_dataset(f):  # /provenance is a dataset instead of a group
    del f["provenance"]
    f["provenance"] = np.zeros(3)


def longer_report(f):       # what a kill during a flush once left: data one row ahead
    d = f["report/h1/data"]
    d.resize(d.shape[0] + 1, axis=0)


KINDS = {f.__name__: f for f in (array_format, array_fixed_format, array_magic, array_seed, array_units,
                                  string_version, huge_shape, provenance_dataset, longer_report)}


def bad_checksum(src, out):
    """Flips one byte of the superblock, which carries a checksum."""
    data = bytearray(open(src, "rb").read())
    assert data[:8] == b"\x89HDF\r\n\x1a\n" and data[8] == 2, "expected a version-2 superblock at offset 0"
    data[20] ^= 0xFF
    open(out, "wb").write(data)


def looping_heap(src, out):
    """Makes HDF5 1.10 loop forever on any variable-length string: the first object of the
    first global heap collection gets index 0 (free space) and size 0, and the decoder's
    walk over the collection then advances by 0 bytes, for ever."""
    data = bytearray(open(src, "rb").read())
    at = data.find(b"GCOL")
    assert at > 0, "expected a global heap collection (variable-length strings)"
    assert data[at + 4] == 1, "expected a version-1 collection"
    # 4 signature + 1 version + 3 reserved + 8 collection size, then the object header:
    # 2 index + 2 reference count + 4 reserved + 8 size.
    data[at + 16:at + 32] = bytes(16)
    open(out, "wb").write(data)


def main():
    kind, src, out = sys.argv[1:4]
    if kind in ("bad_checksum", "looping_heap"):
        globals()[kind](src, out)
        return
    shutil.copyfile(src, out)
    with h5py.File(out, "a") as f:
        KINDS[kind](f)


if __name__ == "__main__":
    main()
