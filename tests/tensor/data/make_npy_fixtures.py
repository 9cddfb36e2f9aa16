#!/usr/bin/env python3
"""Writes the .npy fixtures that tests/tensor/test_npy.cpp loads (run from anywhere):

    python3 tests/tensor/data/make_npy_fixtures.py

Made with Debian's python3-numpy (1.24); the outputs are committed so the tests need no NumPy.
The values are simple on purpose: the test checks them by hand.
"""
import os

import numpy as np
from numpy.lib import format as npy_format

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npy")


def save(name, array, version=None):
    path = os.path.join(OUT, name)
    if version is None:
        np.save(path, array)
    else:
        with open(path, "wb") as f:
            npy_format.write_array(f, array, version=version)


def main():
    os.makedirs(OUT, exist_ok=True)
    # Every reel dtype as np.save writes it (little-endian, C order): the test also checks that
    # reel's save_npy produces these files byte for byte.
    save("float32_2x3.npy", (np.arange(6, dtype=np.float32) / 4).reshape(2, 3))
    save("float64_3.npy", np.array([0.5, -1.25, 1e300], dtype=np.float64))
    save("int64_2x2.npy", np.array([[1, -2], [3, 1 << 40]], dtype=np.int64))
    save("bool_4.npy", np.array([True, False, False, True]))
    save("complex64_2.npy", np.array([1 + 2j, -0.5 - 4j], dtype=np.complex64))
    save("complex128_2.npy", np.array([3 - 1j, 0.25 + 0.5j], dtype=np.complex128))
    save("float32_0d.npy", np.array(3.5, dtype=np.float32))
    save("float32_0x3.npy", np.zeros((0, 3), dtype=np.float32))
    save("int64_2x3x4.npy", np.arange(24, dtype=np.int64).reshape(2, 3, 4))
    # Layouts and encodings reel reads but never writes.
    save("float64_be_3.npy", np.array([0.5, -1.25, 1e300], dtype=">f8"))
    save("complex64_be_2.npy", np.array([1 + 2j, -0.5 - 4j], dtype=">c8"))
    save("int64_fortran_2x3.npy", np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)))
    save("float32_fortran_2x3x2.npy",
         np.asfortranarray(np.arange(12, dtype=np.float32).reshape(2, 3, 2)))
    save("int32_3.npy", np.array([-7, 0, 2**31 - 1], dtype=np.int32))
    save("int16_be_3.npy", np.array([-300, 1, 32767], dtype=">i2"))
    save("uint8_3.npy", np.array([0, 128, 255], dtype=np.uint8))
    save("uint64_2.npy", np.array([5, 2**63 - 1], dtype=np.uint64))
    save("float32_v2_2.npy", np.array([1.5, -2.0], dtype=np.float32), version=(2, 0))
    save("float32_v3_2.npy", np.array([1.5, -2.0], dtype=np.float32), version=(3, 0))


if __name__ == "__main__":
    main()
