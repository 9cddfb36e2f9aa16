#!/usr/bin/python3
"""Golden vectors for reel's ConvTranspose1d, made by PyTorch (tests/nn/test_conv_transpose1d.cpp
checks them).

Run with Debian's python3-torch (1.13) and python3-numpy, from anywhere:

    /usr/bin/python3 tests/nn/golden/make_conv_transpose1d_golden.py

Deterministic (fixed seeds); the output is committed, so the C++ tests need no PyTorch.

What it writes, into tests/nn/golden/conv_transpose1d/:
  index.txt   one line per configuration ('#' lines are comments), fields separated by spaces:
                id dtype N C_in C_out L K stride padding output_padding dilation groups bias L_out
              dtype: float32 | float64 | complex128; N: batch size, or -1 for unbatched input
              (C_in, L); bias: 0 or 1; L_out: the output length.
  {id:03d}.npy  one 1-D array per configuration, in its dtype: these tensors, each flattened in
              C order, concatenated in this order:
                input        (N, C_in, L)   or (C_in, L)
                weight       (C_in, C_out/groups, K)
                bias         (C_out)                       only when bias = 1
                grad_output  (N, C_out, L_out) or (C_out, L_out)
                output       same shape as grad_output
                grad_input   same shape as input
                grad_weight  same shape as weight
                grad_bias    (C_out)                       only when bias = 1

Each expected value: torch.nn.ConvTranspose1d(...) with the random weight and bias copied in,
out = m(x), out.backward(grad_output); gradients x.grad, m.weight.grad, m.bias.grad.
output_padding is drawn below max(stride, dilation) (PyTorch's bound), so configurations with
output_padding >= stride (allowed when dilation is larger) and output_padding > padding occur.
"""
import itertools
import os
import random
import sys

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_transpose1d")
DTYPES = {"float32": torch.float32, "float64": torch.float64, "complex128": torch.complex128}
GROUP_KINDS = ["single", "grouped", "depthwise1", "depthwise2"]


def make_config(rng, cid, dtype, kind):
    if kind == "single":
        groups, c_in, c_out = 1, rng.randint(1, 5), rng.randint(1, 5)
    elif kind == "grouped":
        groups = rng.choice([2, 3])
        c_in = groups * rng.randint(1, 6 // groups)
        c_out = groups * rng.randint(1, 6 // groups)
    else:  # depthwise: groups = C_in, C_out = multiplier * C_in
        mult = int(kind[-1])
        c_in = rng.randint(2, 6 // mult)
        groups, c_out = c_in, mult * c_in
    k = rng.randint(1, 4)
    stride = rng.choice([1, 2, 3])
    dilation = rng.choice([1, 2, 3])
    output_padding = rng.randint(0, max(stride, dilation) - 1)
    padding = rng.randint(0, 3)
    while True:
        length = rng.randint(1, 10)
        l_out = (length - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
        if l_out > 0:
            break
        padding = max(0, padding - 1)
    return dict(id=cid, dtype=dtype, N=rng.choice([-1, 1, 2, 3]), C_in=c_in, C_out=c_out,
                L=length, K=k, stride=stride, padding=padding, output_padding=output_padding,
                dilation=dilation, groups=groups, bias=rng.random() < 0.6)


def plan(rng):
    configs = []
    for rep in range(20):
        for i, dtype in enumerate(DTYPES):
            kind = GROUP_KINDS[(i + rep) % len(GROUP_KINDS)]
            configs.append(make_config(rng, len(configs), dtype, kind))
    # output_padding past both stride and padding (stride 1, dilation 3): the kernels' crop path.
    for dtype in ["float64", "float32"]:
        cfg = make_config(rng, len(configs), dtype, "single")
        cfg.update(stride=1, dilation=3, output_padding=2, padding=0)
        configs.append(cfg)
    return configs


def run(cfg):
    dtype = DTYPES[cfg["dtype"]]
    n, c_in, c_out, length, k = cfg["N"], cfg["C_in"], cfg["C_out"], cfg["L"], cfg["K"]
    groups = cfg["groups"]
    x = torch.randn((c_in, length) if n == -1 else (n, c_in, length), dtype=dtype)
    x.requires_grad_(True)
    w = torch.randn((c_in, c_out // groups, k), dtype=dtype)
    b = torch.randn((c_out,), dtype=dtype) if cfg["bias"] else None
    m = torch.nn.ConvTranspose1d(c_in, c_out, k, stride=cfg["stride"], padding=cfg["padding"],
                                 output_padding=cfg["output_padding"], groups=groups,
                                 bias=cfg["bias"], dilation=cfg["dilation"], dtype=dtype)
    with torch.no_grad():
        m.weight.copy_(w)
        if b is not None:
            m.bias.copy_(b)
    out = m(x)
    grad_out = torch.randn(out.shape, dtype=dtype)
    out.backward(grad_out)
    l_out = out.shape[-1]
    expected = ((length - 1) * cfg["stride"] - 2 * cfg["padding"] +
                cfg["dilation"] * (k - 1) + cfg["output_padding"] + 1)
    assert l_out == expected, (cfg, l_out, expected)
    parts = [x.detach(), m.weight.detach()]
    if b is not None:
        parts.append(m.bias.detach())
    parts += [grad_out, out.detach(), x.grad, m.weight.grad]
    if b is not None:
        parts.append(m.bias.grad)
    return torch.cat([p.reshape(-1) for p in parts]).numpy(), l_out


def main():
    torch.manual_seed(20261130)
    rng = random.Random(20261130)
    configs = plan(rng)
    vals = lambda key: {c[key] for c in configs}
    assert vals("stride") == {1, 2, 3} and vals("dilation") == {1, 2, 3}
    assert vals("bias") == {True, False} and -1 in vals("N") and vals("dtype") == set(DTYPES)
    assert any(c["output_padding"] >= c["stride"] for c in configs)
    assert any(c["output_padding"] > c["padding"] for c in configs)
    assert any(c["groups"] == c["C_in"] > 1 for c in configs)
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.endswith(".npy") or old == "index.txt":
            os.remove(os.path.join(OUT, old))
    lines = [f"# reel ConvTranspose1d golden vectors, made by torch {torch.__version__} "
             f"(tests/nn/golden/make_conv_transpose1d_golden.py); {len(configs)} configurations",
             "# id dtype N C_in C_out L K stride padding output_padding dilation groups bias L_out"]
    for cfg in configs:
        flat, l_out = run(cfg)
        np.save(os.path.join(OUT, f"{cfg['id']:03d}.npy"), flat)
        fields = [f"{cfg['id']:03d}", cfg["dtype"], cfg["N"], cfg["C_in"], cfg["C_out"], cfg["L"],
                  cfg["K"], cfg["stride"], cfg["padding"], cfg["output_padding"],
                  cfg["dilation"], cfg["groups"], int(cfg["bias"]), l_out]
        lines.append(" ".join(str(f) for f in fields))
    with open(os.path.join(OUT, "index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(configs)} configurations to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
