#!/usr/bin/python3
"""Golden vectors for reel's 1-D pooling, interpolation and padding modules, made by PyTorch
(tests/nn/test_pool1d.cpp checks them).

Run with Debian's python3-torch (1.13) and python3-numpy, from anywhere:

    /usr/bin/python3 tests/nn/golden/make_pool1d_golden.py

Deterministic (fixed seeds); the output is committed, so the C++ tests need no PyTorch.

What it writes, into tests/nn/golden/pool1d/:
  index.txt   one line per case ('#' lines are comments), space-separated:
                id op dtype N C L L_out offset key=value ...
              op: max_pool1d | avg_pool1d | adaptive_avg_pool1d | adaptive_max_pool1d |
                  interpolate | pad; dtype: float32 | float64; N = -1: unbatched (C, L) input;
              offset: where the case's values start in values.npy; the key=value pairs are the
              op's arguments (kernel_size, stride, padding, dilation, ceil_mode,
              count_include_pad, output_size, mode, size, scale_factor, align_corners,
              recompute_scale_factor, left, right, value), integers/floats/0-1 flags.
  values.npy  one float64 array: per case, concatenated, each flattened in C order:
                input, grad_output, output, grad_input, and for the max pools their indices
              (float32 cases are stored exactly: every float32 is a float64). NaN and -inf
              appear on purpose.

How each expected value is made: the torch.nn module (MaxPool1d(return_indices=True),
AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d(return_indices=True), Upsample or
F.interpolate with recompute_scale_factor, ConstantPad1d / ReflectionPad1d / ReplicationPad1d /
F.pad(mode='circular') for CircularPad1d, which 1.13 lacks), out = m(x),
out.backward(grad_output), grad = x.grad. For max_pool1d the script also checks that
F.max_pool1d without indices and without grad (a different ATen kernel) gives the same values.
Circular padding runs on a batch of one for unbatched input (1.13 refuses (C, L) there).
Nearest interpolation: where torch 1.13's gradient is not the adjoint of its own forward (its
backward kernel keeps the L_out == L and L_out == 2L shortcuts the forward dropped), the
expected grad_input is the forward's adjoint instead, and the case carries grad=adjoint (the
others grad=torch); see nearest_adjoint().
"""
import os
import random
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pool1d")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
INF = float("inf")


def make_input(rng, shape, dtype, special):
    x = torch.randn(shape, dtype=torch.float64)
    if special in ("ties", "ties_inf", "ties_nan"):
        x = torch.round(x * 2) / 2  # many equal values: which maximum wins matters
    flat = x.view(-1)
    n = flat.numel()
    if special == "ties_inf":
        for i in rng.sample(range(n), max(1, n // 3)):
            flat[i] = -INF
    if special == "ties_nan":
        for i in rng.sample(range(n), max(1, n // 6)):
            flat[i] = float("nan")
    return x.to(dtype)


def shape_of(n, c, length):
    return (c, length) if n == -1 else (n, c, length)


def run_module(module, x, batch_for_unbatched=False):
    xl = x.clone().requires_grad_(True)
    if batch_for_unbatched and x.dim() == 2:
        res = module(xl.unsqueeze(0))
        res = tuple(r.squeeze(0) for r in res) if isinstance(res, tuple) else res.squeeze(0)
    else:
        res = module(xl)
    out, idx = (res if isinstance(res, tuple) else (res, None))
    grad_out = torch.randn(out.shape, dtype=torch.float64).to(x.dtype)
    out.backward(grad_out)
    return out.detach(), idx, grad_out, xl.grad


CASES = []


def add(op, dtype, n, c, length, params, module, special="", batch_for_unbatched=False, check=None,
        nearest_kw=None):
    x = make_input(RNG, shape_of(n, c, length), DTYPES[dtype], special)
    out, idx, grad_out, grad_in = run_module(module, x, batch_for_unbatched)
    if check is not None:
        check(x, out, idx)
    if nearest_kw is not None:
        # torch 1.13's upsample_nearest1d_backward keeps shortcuts (L_out == L: identity;
        # L_out == 2L: i >> 1) that its forward no longer takes, so for a scale_factor such as
        # 1.1 on L = 4 (L_out = 4, sources 0 0 1 2) its gradient belongs to another function.
        # There the expected gradient is the forward's adjoint, and the case says grad=adjoint.
        adjoint = nearest_adjoint(x, nearest_kw, grad_out)
        if torch.allclose(adjoint, grad_in):
            params["grad"] = "torch"
        else:
            params["grad"] = "adjoint"
            grad_in = adjoint
    parts = [x, grad_out, out, grad_in] + ([idx] if idx is not None else [])
    CASES.append((op, dtype, n, c, length, out.shape[-1], params, parts))


def max_pool_cases(rng):
    edge = [  # (L, k, s, p, d, ceil): ceil_mode edges, dilation, padding
        (5, 2, 2, 0, 1, True), (5, 2, 2, 1, 1, True), (6, 3, 2, 1, 1, True), (5, 3, 2, 1, 1, True),
        (7, 4, 3, 2, 1, True), (7, 4, 3, 2, 1, False), (4, 3, 3, 1, 1, True), (8, 3, 2, 1, 2, True),
        (9, 2, 3, 1, 3, True), (10, 3, 1, 0, 3, False), (3, 3, 3, 0, 1, True), (2, 3, 1, 1, 1, True),
        (11, 5, 4, 2, 2, True), (6, 1, 2, 0, 1, True),
    ]
    for i, (length, k, s, p, d, ceil) in enumerate(edge):
        for dtype in DTYPES:
            add_max(rng, dtype, rng.choice([-1, 1, 2]), rng.randint(1, 3), length, k, s, p, d, ceil,
                    ["", "ties", "ties_inf", "ties_nan"][i % 4])
    for _ in range(50):
        k = rng.randint(1, 5)
        s = rng.randint(1, 4)
        p = rng.randint(0, k // 2)
        d = rng.randint(1, 3)
        length = rng.randint(max(1, d * (k - 1) + 1 - 2 * p), 14)
        add_max(rng, rng.choice(list(DTYPES)), rng.choice([-1, 1, 2, 3]), rng.randint(1, 3),
                length, k, s, p, d, rng.random() < 0.5, rng.choice(["", "ties", "ties_inf", "ties_nan"]))


def add_max(rng, dtype, n, c, length, k, s, p, d, ceil, special):
    m = nn.MaxPool1d(k, s, p, d, return_indices=True, ceil_mode=ceil)

    def check(x, out, idx):
        with torch.no_grad():
            plain = F.max_pool1d(x, k, s, p, d, ceil_mode=ceil)
        assert torch.equal(plain.isnan(), out.isnan()) and torch.equal(
            plain.nan_to_num(), out.nan_to_num()), "max_pool1d kernels disagree"

    add("max_pool1d", dtype, n, c, length,
        dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=int(ceil)), m, special,
        check=check)


def avg_pool_cases(rng):
    edge = [(5, 2, 2, 1, True), (6, 3, 2, 1, True), (5, 3, 2, 1, True), (7, 4, 3, 2, True),
            (4, 3, 3, 1, True), (7, 5, 2, 2, True), (3, 3, 2, 1, True), (6, 4, 4, 2, True),
            (8, 3, 3, 0, True), (9, 4, 2, 1, False)]
    for (length, k, s, p, ceil) in edge:
        for cip in (True, False):
            add_avg(rng, rng.choice(list(DTYPES)), rng.choice([-1, 2]), 2, length, k, s, p, ceil, cip)
    for _ in range(40):
        k = rng.randint(1, 5)
        s = rng.randint(1, 4)
        p = rng.randint(0, k // 2)
        length = rng.randint(max(1, k - 2 * p), 14)
        add_avg(rng, rng.choice(list(DTYPES)), rng.choice([-1, 1, 2, 3]), rng.randint(1, 3),
                length, k, s, p, rng.random() < 0.5, rng.random() < 0.5)


def add_avg(rng, dtype, n, c, length, k, s, p, ceil, cip):
    m = nn.AvgPool1d(k, s, p, ceil_mode=ceil, count_include_pad=cip)
    add("avg_pool1d", dtype, n, c, length,
        dict(kernel_size=k, stride=s, padding=p, ceil_mode=int(ceil), count_include_pad=int(cip)), m)


def adaptive_cases(rng):
    pairs = [(5, 3), (7, 3), (10, 4), (4, 4), (3, 7), (1, 3), (13, 5), (6, 1), (8, 3), (11, 6)]
    for i, (length, out) in enumerate(pairs):
        for dtype in DTYPES:
            n = [-1, 1, 2][i % 3]
            add("adaptive_avg_pool1d", dtype, n, 2, length, dict(output_size=out),
                nn.AdaptiveAvgPool1d(out))
            add("adaptive_max_pool1d", dtype, n, 2, length, dict(output_size=out),
                nn.AdaptiveMaxPool1d(out, return_indices=True),
                ["", "ties", "ties_inf", "ties_nan"][i % 4])


class Interp(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, x):
        return F.interpolate(x, **self.kw)


def nearest_adjoint(x, kw, grad_out):
    """The input gradient the nearest forward implies: grad_out summed onto each output's
    source (the sources read off the forward of an arange, which is exact)."""
    length = x.shape[-1]
    ramp = torch.arange(length, dtype=torch.float64).expand(x.shape).contiguous().to(x.dtype)
    with torch.no_grad():
        src = F.interpolate(ramp, **kw).to(torch.int64)
    return torch.zeros(x.shape, dtype=x.dtype).scatter_add_(-1, src, grad_out)


def interpolate_cases(rng):
    specs = []
    for mode in ("nearest", "linear"):
        aligns = [None] if mode == "nearest" else [False, True]
        for align in aligns:
            for length, size in [(4, 7), (5, 3), (3, 8), (6, 6), (7, 1), (2, 9), (5, 10)]:
                specs.append((mode, align, length, dict(size=size)))
            for length, sf in [(4, 2.0), (5, 1.5), (3, 2.7), (7, 0.5), (6, 1.3), (5, 3.0), (9, 0.7),
                               (4, 1.1), (5, 2.1)]:
                specs.append((mode, align, length, dict(scale_factor=sf)))
                specs.append((mode, align, length, dict(scale_factor=sf, recompute_scale_factor=True)))
    for i, (mode, align, length, kw) in enumerate(specs):
        dtype = list(DTYPES)[i % 2]
        args = dict(mode=mode, **kw)
        if align is not None:
            args["align_corners"] = align
        params = dict(mode=mode, align_corners=-1 if align is None else int(align),
                      size=kw.get("size", -1), scale_factor=kw.get("scale_factor", -1),
                      recompute_scale_factor=int(kw.get("recompute_scale_factor", False)))
        add("interpolate", dtype, rng.choice([1, 2]), rng.randint(1, 3), length, params, Interp(**args),
            nearest_kw=args if mode == "nearest" else None)


class CircularPad(nn.Module):
    def __init__(self, left, right):
        super().__init__()
        self.lr = (left, right)

    def forward(self, x):
        return F.pad(x, self.lr, mode="circular")


def pad_cases(rng):
    for i in range(40):
        mode = ["constant", "reflect", "replicate", "circular"][i % 4]
        length = rng.randint(3, 9)
        left, right = rng.randint(0, 2), rng.randint(0, 2)
        value = 0.0
        if mode == "constant":
            m = nn.ConstantPad1d((left, right), value := rng.choice([0.0, 1.5, -2.25]))
            if i % 8 == 0:  # a negative pad crops
                left = -1
                m = nn.ConstantPad1d((left, right), value)
        elif mode == "reflect":
            m = nn.ReflectionPad1d((left, right))
        elif mode == "replicate":
            m = nn.ReplicationPad1d((left, right))
        else:
            m = CircularPad(left, right)
        add("pad", list(DTYPES)[i % 2], rng.choice([-1, 1, 2]), rng.randint(1, 3), length,
            dict(mode=mode, left=left, right=right, value=value), m,
            batch_for_unbatched=(mode == "circular"))


def main():
    global RNG
    torch.manual_seed(20261130)
    RNG = random.Random(20261130)
    max_pool_cases(RNG)
    avg_pool_cases(RNG)
    adaptive_cases(RNG)
    interpolate_cases(RNG)
    pad_cases(RNG)
    os.makedirs(OUT, exist_ok=True)
    lines = [f"# reel pooling / interpolate / padding golden vectors, made by torch "
             f"{torch.__version__} (tests/nn/golden/make_pool1d_golden.py); {len(CASES)} cases",
             "# id op dtype N C L L_out offset key=value ..."]
    chunks, offset = [], 0
    for i, (op, dtype, n, c, length, l_out, params, parts) in enumerate(CASES):
        flat = torch.cat([p.reshape(-1).to(torch.float64) for p in parts]).numpy()
        chunks.append(flat)
        kv = " ".join(f"{k}={v}" for k, v in params.items())
        lines.append(f"{i:03d} {op} {dtype} {n} {c} {length} {l_out} {offset} {kv}")
        offset += flat.size
    np.save(os.path.join(OUT, "values.npy"), np.concatenate(chunks))
    with open(os.path.join(OUT, "index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(CASES)} cases ({offset} values) to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
