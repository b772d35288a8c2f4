#!/usr/bin/python3
"""Writes the tiny IDX files the model-loader tests point at (a few hundred bytes).

The good pair is 3x4 images (rows != cols, so a transposed shape check would show),
5 training and 3 test samples. The broken files each carry exactly one defect.
Run from anywhere: the files land next to this script. Deterministic output.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS, COLS = 3, 4


def header(dims):
    # IDX: two zero bytes, type 0x08 (unsigned byte), number of dims, then
    # each dimension as a big-endian uint32.
    return bytes([0, 0, 0x08, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def images(n):
    return bytes((i * 7 + 13) % 256 for i in range(n * ROWS * COLS))


def labels(n):
    return bytes(i % 3 for i in range(n))


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    write("train-images-idx3-ubyte", header([5, ROWS, COLS]) + images(5))
    write("train-labels-idx1-ubyte", header([5]) + labels(5))
    write("t10k-images-idx3-ubyte", header([3, ROWS, COLS]) + images(3))
    write("t10k-labels-idx1-ubyte", header([3]) + labels(3))
    # Header promises 5 images, the data stops after 2.
    write("truncated-data-idx3-ubyte", header([5, ROWS, COLS]) + images(2))
    # Cut inside the dimension sizes: not even the header is complete.
    write("truncated-header-idx3-ubyte", header([5, ROWS, COLS])[:10])
    # Magic written little-endian (03 08 00 00), a typical hand-rolled writer bug.
    write("bad-magic-idx3-ubyte", bytes([3, 8, 0, 0]) + header([5, ROWS, COLS])[4:] + images(5))
    # One label short of the 5 training images.
    write("short-labels-idx1-ubyte", header([4]) + labels(4))
    # Images stored flat (samples x pixels): 2-D, not the 3-D image layout.
    write("flat-images-idx2-ubyte", header([5, ROWS * COLS]) + images(5))
    # Test labels 0, 1, 5: a class the 3 training labels never show (6 classes in all).
    write("t10k-labels-six-classes-idx1-ubyte", header([3]) + bytes([0, 1, 5]))


if __name__ == "__main__":
    main()
