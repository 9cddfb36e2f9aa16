#!/usr/bin/python3
"""reel -> PyTorch: loads the safetensors file reel wrote into the same model in PyTorch with
load_state_dict(strict=True) and checks that PyTorch's forward gives reel's output.

    /usr/bin/python3 torch_roundtrip.py MODEL_FILE IO_FILE

MODEL_FILE is reel::save(model) of the test's Net (tests/data/test_safetensors.cpp, the same
model as Net in make_safetensors_golden.py); IO_FILE is a safetensors file reel wrote holding
"input" and reel's eval-mode "output" for it. Needs torch (Debian's python3-torch 1.13, which
has no safetensors package: the file is read with json and struct). CTest registers it only
when /usr/bin/python3 can import torch. Exits 1 on any mismatch.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_safetensors_golden import Net  # noqa: E402

NUMPY = {"F64": np.float64, "F32": np.float32, "I64": np.int64, "I32": np.int32,
         "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    buffer = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        array = np.frombuffer(buffer[begin:end], dtype=NUMPY[info["dtype"]])
        tensors[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return tensors, metadata


def main():
    model_path, io_path = sys.argv[1], sys.argv[2]
    state, metadata = load_safetensors(model_path)
    if metadata.get("format") != "pt":
        print(f"torch_roundtrip: metadata {metadata} lacks format=pt")
        return 1
    model = Net()
    model.load_state_dict(state, strict=True)  # raises on any missing or unexpected name
    for name, t in model.state_dict().items():
        if t.dtype != state[name].dtype or not torch.equal(t, state[name]):
            print(f"torch_roundtrip: {name} differs after load_state_dict")
            return 1
    io, _ = load_safetensors(io_path)
    model.eval()
    with torch.no_grad():
        out = model(io["input"])
    want = io["output"]
    if out.shape != want.shape or not torch.allclose(out, want, rtol=1e-5, atol=1e-6):
        print(f"torch_roundtrip: PyTorch's output\n{out}\ndiffers from reel's\n{want}")
        return 1
    diff = (out - want).abs().max().item()
    print(f"torch_roundtrip: {len(state)} tensors loaded strictly into PyTorch's Net; forward "
          f"matches reel's output (max abs difference {diff:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
