#!/usr/bin/env python3
"""Checks a safetensors file reel wrote against values PyTorch produced. Standard library only
(json, struct, math), so it runs in CI where there is no torch.

    check_safetensors.py FILE EXPECTED_JSON

EXPECTED_JSON (made by make_safetensors_golden.py from PyTorch's state_dict) lists, in
PyTorch's state_dict order, each tensor's name, dtype, shape and values, and the metadata. The
check reads FILE as the safetensors spec defines it, validating the layout on the way (8-byte
little-endian header length, a JSON object padded with spaces to 8 bytes, tensors stored in name
order and tiling the buffer with no gap or overlap, byte counts matching dtype and shape), and
compares names, dtypes, shapes and every value bit for bit (floats as their float32/float64
bits, so -0.0 and nan are compared exactly). Exits 0 when everything matches, 1 with one line
per difference otherwise.
"""
import json
import math
import struct
import sys

FORMATS = {"F64": "d", "F32": "f", "I64": "q", "I32": "i", "I16": "h", "I8": "b", "U8": "B",
           "BOOL": "?"}
SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U8": 1, "BOOL": 1}


def read_safetensors(path, errors):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        errors.append(f"{path}: {len(data)} bytes, too short")
        return None, None
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        errors.append(f"{path}: header length {n} past the end ({len(data)} bytes)")
        return None, None
    text = data[8:8 + n].decode("utf-8")
    if (8 + n) % 8 != 0:
        errors.append(f"{path}: the buffer starts at byte {8 + n}, not 8-byte aligned")
    if text.rstrip(" ") != text.strip():
        errors.append(f"{path}: the header has padding other than trailing spaces")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            errors.append(f"{path}: duplicate keys in the header: {keys}")
        return dict(pairs)

    header = json.loads(text, object_pairs_hook=no_duplicates)
    buffer = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    if [k for k, _ in entries] != sorted(header):
        errors.append(f"{path}: tensors are not stored in name order: {[k for k, _ in entries]}")
    covered = 0
    for name, info in entries:
        if set(info) != {"dtype", "shape", "data_offsets"}:
            errors.append(f"{path}: {name}: fields {sorted(info)}")
            continue
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if begin != covered:
            errors.append(f"{path}: {name}: begins at {begin}, expected {covered} (gap/overlap)")
        covered = end
        numel = math.prod(shape)
        if end - begin != numel * SIZES.get(dtype, 0):
            errors.append(f"{path}: {name}: {end - begin} bytes for shape {shape} of {dtype}")
            continue
        raw = buffer[begin:end]
        fmt = FORMATS.get(dtype)
        values = list(struct.unpack(f"<{numel}{fmt}", raw)) if fmt else None
        tensors[name] = {"dtype": dtype, "shape": shape, "values": values, "raw": raw}
    if covered != len(buffer):
        errors.append(f"{path}: the tensors cover {covered} of {len(buffer)} buffer bytes")
    return tensors, metadata


def bits(value, dtype):
    """The exact bit pattern of a value stored as `dtype` (floats: IEEE bits; ints: the int)."""
    if dtype == "F32":
        return struct.pack("<f", value)
    if dtype == "F64":
        return struct.pack("<d", value)
    return int(value)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    path, expected_path = sys.argv[1], sys.argv[2]
    with open(expected_path) as f:
        expected = json.load(f)
    errors = []
    tensors, metadata = read_safetensors(path, errors)
    if tensors is None:
        print("\n".join(errors))
        return 1
    if metadata != expected["metadata"]:
        errors.append(f"metadata: {metadata} != expected {expected['metadata']}")
    want_names = [t["name"] for t in expected["tensors"]]
    if sorted(tensors) != sorted(want_names):
        missing = sorted(set(want_names) - set(tensors))
        extra = sorted(set(tensors) - set(want_names))
        errors.append(f"names differ: missing {missing}, unexpected {extra}")
    checked = 0
    for want in expected["tensors"]:
        got = tensors.get(want["name"])
        if got is None:
            continue
        name = want["name"]
        if got["dtype"] != want["dtype"]:
            errors.append(f"{name}: dtype {got['dtype']} != expected {want['dtype']}")
            continue
        if got["shape"] != want["shape"]:
            errors.append(f"{name}: shape {got['shape']} != expected {want['shape']}")
            continue
        bad = [i for i, (g, w) in enumerate(zip(got["values"], want["values"]))
               if bits(g, want["dtype"]) != bits(w, want["dtype"])]
        if bad:
            i = bad[0]
            errors.append(f"{name}: {len(bad)} values differ, first at {i}: "
                          f"{got['values'][i]!r} != expected {want['values'][i]!r}")
        checked += 1
    if errors:
        print(f"check_safetensors: {path} does not match {expected_path}:")
        print("\n".join("  " + e for e in errors))
        return 1
    print(f"check_safetensors: {path}: {checked} tensors match PyTorch's names, dtypes, shapes "
          f"and values bit for bit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
