#!/usr/bin/python3
"""Golden files for reel's safetensors interchange (tests/data/test_safetensors.cpp).

Run with Debian's torch (1.13, which has no `safetensors` package: the format is written here
with json and struct, as the spec describes it):

    /usr/bin/python3 tests/data/safetensors/make_safetensors_golden.py

It writes, next to itself:

  torch_model.safetensors   the state_dict of Net (below) after 3 training-mode forwards (so
                            BatchNorm's running statistics and num_batches_tracked are not their
                            initial values), written as safetensors.torch.save_model writes it:
                            tensors in name order, metadata {"format": "pt"}, the header padded
                            with spaces to 8 bytes.
  torch_state/<name>.npy    every state_dict entry as .npy, to compare bit for bit.
  input.npy, output.npy     an input and Net's output for it in eval mode.
  dtypes.safetensors        one tensor per dtype reel reads (F64 F32 F16 BF16 I64 I32 I16 I8 U8
                            BOOL), with special values (subnormals, inf, nan, -0, extremes);
  dtypes/<name>.npy         the same values as torch converts them (F16/BF16 via .float()).
  reel_expected.json        PyTorch's state_dict of Net filled with the "known values" rule
                            below, which the C++ test also applies to reel's Net: the values
                            check_safetensors.py compares reel's file with (stdlib only, in CI).
"""
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils import weight_norm

HERE = os.path.dirname(os.path.abspath(__file__))

DTYPE_NAMES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


class Net(nn.Module):
    """The model of the interchange tests; tests/data/test_safetensors.cpp builds the same."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm1d(4)
        self.wconv = weight_norm(nn.Conv1d(4, 4, 2, dilation=2))
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x)))
        h = torch.relu(self.wconv(h))
        return self.fc(h.mean(dim=2))


def raw_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    """safetensors' layout: u64 header length, JSON header, the data in name order."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name]
        b = raw_bytes(t)
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def known_values(model):
    """The rule the C++ test applies too: entry k (state_dict order) with n elements gets
    ((37 j + 11 k) % 101 - 50) / 64 at element j (exact in float32); running_var gets
    1 + ((37 j + 11 k) % 101) / 128 (positive); num_batches_tracked gets 7."""
    with torch.no_grad():
        for k, (name, t) in enumerate(model.state_dict().items()):
            j = torch.arange(t.numel(), dtype=torch.int64)
            r = (37 * j + 11 * k) % 101
            if name.endswith("num_batches_tracked"):
                t.fill_(7)
            elif name.endswith("running_var"):
                t.copy_((1 + r.double() / 128).view(t.shape))
            else:
                t.copy_(((r - 50).double() / 64).view(t.shape))


def main():
    torch.manual_seed(8)
    model = Net()
    model.train()
    for _ in range(3):
        model(torch.randn(4, 3, 9))
    model.eval()
    state = model.state_dict()
    write_safetensors(os.path.join(HERE, "torch_model.safetensors"),
                      {k: v for k, v in state.items()}, {"format": "pt"})
    os.makedirs(os.path.join(HERE, "torch_state"), exist_ok=True)
    for name, t in state.items():
        np.save(os.path.join(HERE, "torch_state", name + ".npy"), t.numpy())
    x = torch.randn(2, 3, 7)
    with torch.no_grad():
        y = model(x)
    np.save(os.path.join(HERE, "input.npy"), x.numpy())
    np.save(os.path.join(HERE, "output.npy"), y.numpy())

    # dtypes.safetensors: special values per dtype.
    f = [0.0, -0.0, 1.0, -2.5, 65504.0, 6.1e-5, 5.96e-8, 1e-40, float("inf"), float("-inf"),
         float("nan"), 3.14159, 1e30]
    tensors = {
        "f64": torch.tensor(f, dtype=torch.float64).view(13, 1),
        "f32": torch.tensor(f, dtype=torch.float32),
        "f16": torch.tensor(f, dtype=torch.float32).half(),
        "bf16": torch.tensor(f, dtype=torch.float32).bfloat16(),
        "i64": torch.tensor([0, 1, -1, 2**63 - 1, -2**63], dtype=torch.int64),
        "i32": torch.tensor([0, 1, -1, 2**31 - 1, -2**31], dtype=torch.int32),
        "i16": torch.tensor([0, 1, -1, 32767, -32768], dtype=torch.int16).view(5, 1, 1),
        "i8": torch.tensor([0, 1, -1, 127, -128], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8).view(2, 2),
        "bool": torch.tensor([True, False, True], dtype=torch.bool),
        "scalar": torch.tensor(2.0, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    write_safetensors(os.path.join(HERE, "dtypes.safetensors"), tensors, {"note": "dtypes"})
    os.makedirs(os.path.join(HERE, "dtypes"), exist_ok=True)
    for name, t in tensors.items():
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        np.save(os.path.join(HERE, "dtypes", name + ".npy"), t.numpy())

    # reel_expected.json: the known-values model as PyTorch names, orders and types it.
    known = Net()
    known_values(known)
    expected = {"metadata": {"format": "pt"}, "tensors": []}
    for name, t in known.state_dict().items():
        expected["tensors"].append({
            "name": name, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
            "values": [v.item() for v in t.flatten()]})
    with open(os.path.join(HERE, "reel_expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
