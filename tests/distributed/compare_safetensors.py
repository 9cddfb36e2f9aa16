#!/usr/bin/env python3
"""Compares the float32 tensors of two safetensors files within a tolerance.

    compare_safetensors.py A B [--rtol 1e-4] [--atol 1e-6]

Exit 0 when both files hold the same tensor names and shapes and every float32 value of A lies
within atol + rtol * |b| of B's (other dtypes: equal bytes); 1 otherwise, naming the worst tensor. Used by CTest to check that
`mpirun -np 2 tcn_adding --distributed --batch B` trains the weights of one process with
--batch 2B (they differ by float rounding only: the averaged gradient sums in another order).
Python 3 standard library only.
"""
import json
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if info["dtype"] == "F32":
            count = (end - begin) // 4
            values = struct.unpack_from(f"<{count}f", blob, base + begin)
        else:  # other dtypes (BatchNorm's I64 counter): compared exactly, as bytes
            values = [blob[base + begin:base + end]]
        out[name] = (tuple(info["shape"]), values)
    return out


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    opts = dict(zip(argv[1:], argv[2:]))
    rtol = float(opts.get("--rtol", 1e-4))
    atol = float(opts.get("--atol", 1e-6))
    a_path, b_path = args[0], args[1]
    a, b = load(a_path), load(b_path)
    if sorted(a) != sorted(b):
        print(f"different tensor names: {sorted(set(a) ^ set(b))}")
        return 1
    worst = (0.0, None)
    for name in sorted(a):
        (sa, va), (sb, vb) = a[name], b[name]
        if sa != sb:
            print(f"{name}: shape {sa} vs {sb}")
            return 1
        for x, y in zip(va, vb):
            if isinstance(x, bytes):
                if x != y:
                    print(f"{name}: the values differ")
                    return 1
                continue
            excess = abs(x - y) - (atol + rtol * abs(y))
            if excess > worst[0]:
                worst = (excess, f"{name}: {x!r} vs {y!r}")
    if worst[1] is not None:
        print(f"outside rtol {rtol} atol {atol}: worst {worst[1]}")
        return 1
    print(f"{len(a)} tensors equal within rtol {rtol} atol {atol}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
