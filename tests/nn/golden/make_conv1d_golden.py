#!/usr/bin/python3
"""Golden vectors for reel's Conv1d, made by PyTorch (tests/nn/test_conv1d_golden.cpp checks them).

Run with Debian's python3-torch (1.13) and python3-numpy (1.24), from anywhere:

    /usr/bin/python3 tests/nn/golden/make_conv1d_golden.py

(the interpreter matters: a pyenv `python3` earlier on PATH has no torch). The output is
deterministic (torch.manual_seed + random.Random with fixed seeds) and is committed, so the C++
tests need no PyTorch.

What it writes, into tests/nn/golden/conv1d/:
  index.txt   one line per configuration (lines starting with '#' are comments), fields separated
              by single spaces:
                id dtype N C_in C_out L K stride padding dilation groups bias padding_mode L_out
              dtype: float32 | float64 | complex128; N: batch size, or -1 for unbatched input
              (C_in, L); padding: an integer, or valid | same | causal; bias: 0 or 1;
              padding_mode: zeros | reflect | replicate | circular; L_out: the output length.
  {id:03d}.npy  one 1-D array per configuration, in the configuration's dtype: these tensors,
              each flattened in C order, concatenated in this order:
                input        (N, C_in, L)   or (C_in, L)
                weight       (C_out, C_in/groups, K)
                bias         (C_out)                      only when bias = 1
                grad_output  (N, C_out, L_out) or (C_out, L_out)
                output       same shape as grad_output     = conv(input)
                grad_input   same shape as input
                grad_weight  same shape as weight
                grad_bias    (C_out)                      only when bias = 1
              One file per configuration keeps the directory small and each file self-contained;
              the shapes follow from the index line, and the test checks the total length.

How each expected value is made:
  - int / 'valid' / 'same' padding: torch.nn.Conv1d(..., padding_mode=mode) with its weight and
    bias set to the random ones; out = conv(x); out.backward(grad_output); the gradients are
    x.grad, conv.weight.grad, conv.bias.grad.
  - torch 1.13 cannot pad unbatched input in circular mode ("Invalid padding size"), so for every
    non-zero padding_mode with unbatched input the module runs on x.unsqueeze(0) (a batch of one)
    and the results are squeezed back (x stays the unbatched leaf, so x.grad is unbatched). For
    reflect and replicate, where 1.13 does accept unbatched input, the script checks that the
    direct call agrees.
  - 'causal' (reel's addition, no PyTorch twin): left = dilation*(K-1), right = 0, i.e.
    F.pad(x, (dilation*(K-1), 0), mode) (mode 'constant' for zeros) followed by F.conv1d with
    padding 0 and the same stride/dilation/groups — PyTorch's numbers for what causal means.
  - complex128: nn.Conv1d supports complex on the CPU in 1.13 for every mode (checked when this
    was written); the gradients are what torch's backward gives, i.e. the conjugate-Wirtinger
    convention (grad_x = conv_transpose(grad_y, conj W), grad_W = xcorr(grad_y, conj x)).
"""
import itertools
import os
import random
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv1d")

DTYPES = {"float32": torch.float32, "float64": torch.float64, "complex128": torch.complex128}
MODES = ["zeros", "reflect", "replicate", "circular"]
FORMS = ["int0", "int", "valid", "same"]  # 'causal' is added separately
GROUP_KINDS = ["single", "grouped", "depthwise1", "depthwise2", "depthwise3"]


def pads_for(padding, k, dilation):
    """(left, right) the padding means, as nn.Conv1d resolves it."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = dilation * (k - 1)
        return total // 2, total - total // 2
    if padding == "causal":
        return dilation * (k - 1), 0
    return padding, padding


def min_length(mode, left, right, k, dilation):
    """Smallest L for which the configuration is valid (reflect: pad < L; circular: pad <= L;
    the kernel must fit into the padded input)."""
    lo = max(1, dilation * (k - 1) + 1 - left - right)
    if mode == "reflect":
        lo = max(lo, left + 1, right + 1)
    elif mode == "circular":
        lo = max(lo, left, right)
    return lo


def make_config(rng, cid, form, mode, dtype, group_kind):
    if group_kind == "single":
        groups, c_in, c_out = 1, rng.randint(1, 6), rng.randint(1, 6)
    elif group_kind == "grouped":
        groups = rng.choice([2, 3, 4])
        c_in = groups * rng.randint(1, 8 // groups)
        c_out = groups * rng.randint(1, 8 // groups)
    else:  # depthwise: groups = C_in, C_out = multiplier * C_in
        mult = int(group_kind[-1])
        c_in = rng.randint(2, 8 // mult)
        groups, c_out = c_in, mult * c_in
    k = rng.randint(1, 5)
    dilation = rng.choice([1, 2, 3])
    stride = 1 if form == "same" else rng.choice([1, 2, 3])
    if form == "int0":
        padding = 0
    elif form == "int":
        padding = rng.randint(1, 3)
    else:
        padding = form
    left, right = pads_for(padding, k, dilation)
    lo = min_length(mode, left, right, k, dilation)
    # A third of the configurations sit at (or near) the smallest valid length: the edges are
    # where padding modes differ, and where reflect/circular reach their bounds.
    length = lo + rng.randint(0, 2) if rng.random() < 0.3 else rng.randint(lo, 24)
    length = min(length, 24)  # lo <= 13 always (K <= 5, dilation <= 3)
    batch = rng.choice([-1, 1, 2, 3])
    return dict(id=cid, dtype=dtype, N=batch, C_in=c_in, C_out=c_out, L=length, K=k,
                stride=stride, padding=padding, dilation=dilation, groups=groups,
                bias=rng.random() < 0.6, padding_mode=mode)


def plan(rng):
    configs = []
    # Every padding form x every mode x every dtype, three times, with the other parameters drawn
    # at random (groups kind cycled so each kind meets each mode).
    combos = list(itertools.product(FORMS, MODES, DTYPES))
    for rep in range(3):
        for i, (form, mode, dtype) in enumerate(combos):
            kind = GROUP_KINDS[(i + rep * 2) % len(GROUP_KINDS)]
            configs.append(make_config(rng, len(configs), form, mode, dtype, kind))
    # Causal: each mode x each dtype, plus a few more zeros/float64.
    for mode, dtype in itertools.product(MODES, DTYPES):
        kind = GROUP_KINDS[len(configs) % len(GROUP_KINDS)]
        configs.append(make_config(rng, len(configs), "causal", mode, dtype, kind))
    for kind in GROUP_KINDS[:4]:
        configs.append(make_config(rng, len(configs), "causal", "zeros", "float64", kind))
    return configs


def random_tensor(shape, dtype):
    return torch.randn(shape, dtype=dtype)


def run(cfg):
    dtype = DTYPES[cfg["dtype"]]
    n, c_in, c_out, length, k = cfg["N"], cfg["C_in"], cfg["C_out"], cfg["L"], cfg["K"]
    groups, mode = cfg["groups"], cfg["padding_mode"]
    x_shape = (c_in, length) if n == -1 else (n, c_in, length)
    x = random_tensor(x_shape, dtype).requires_grad_(True)
    w = random_tensor((c_out, c_in // groups, k), dtype)
    b = random_tensor((c_out,), dtype) if cfg["bias"] else None

    if cfg["padding"] == "causal":
        w = w.clone().requires_grad_(True)
        if b is not None:
            b = b.clone().requires_grad_(True)
        xb = x.unsqueeze(0) if n == -1 else x
        left = cfg["dilation"] * (k - 1)
        xp = F.pad(xb, (left, 0), mode="constant" if mode == "zeros" else mode)
        out = F.conv1d(xp, w, b, stride=cfg["stride"], padding=0, dilation=cfg["dilation"],
                       groups=groups)
        if n == -1:
            out = out.squeeze(0)
        w_leaf, b_leaf = w, b
    else:
        conv = torch.nn.Conv1d(c_in, c_out, k, stride=cfg["stride"], padding=cfg["padding"],
                               dilation=cfg["dilation"], groups=groups, bias=cfg["bias"],
                               padding_mode=mode, dtype=dtype)
        with torch.no_grad():
            conv.weight.copy_(w)
            if b is not None:
                conv.bias.copy_(b)
        if n == -1 and mode != "zeros":
            out = conv(x.unsqueeze(0)).squeeze(0)
            if mode != "circular":  # 1.13 accepts these unbatched: it must agree
                with torch.no_grad():
                    direct = conv(x)
                assert torch.allclose(direct, out), f"config {cfg['id']}: unbatched disagrees"
        else:
            out = conv(x)
        w_leaf, b_leaf = conv.weight, conv.bias

    grad_out = random_tensor(out.shape, dtype)
    out.backward(grad_out)
    l_out = out.shape[-1]
    left, right = pads_for(cfg["padding"], k, cfg["dilation"])
    expected_l = (length + left + right - cfg["dilation"] * (k - 1) - 1) // cfg["stride"] + 1
    assert l_out == expected_l, (cfg, l_out, expected_l)

    parts = [x.detach(), w_leaf.detach()]
    if b is not None:
        parts.append(b_leaf.detach())
    parts += [grad_out, out.detach(), x.grad, w_leaf.grad]
    if b is not None:
        parts.append(b_leaf.grad)
    flat = torch.cat([p.reshape(-1) for p in parts]).numpy()
    return flat, l_out


def index_line(cfg, l_out):
    fields = [f"{cfg['id']:03d}", cfg["dtype"], cfg["N"], cfg["C_in"], cfg["C_out"], cfg["L"],
              cfg["K"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"],
              int(cfg["bias"]), cfg["padding_mode"], l_out]
    return " ".join(str(f) for f in fields)


def check_coverage(configs):
    """Fail loudly if the plan stopped covering what the issue asks for."""
    def values(key):
        return {c[key] for c in configs}
    forms = {("int0" if c["padding"] == 0 else "int") if isinstance(c["padding"], int)
             else c["padding"] for c in configs}
    assert forms == set(FORMS) | {"causal"}, forms
    assert values("padding_mode") == set(MODES)
    assert values("dtype") == set(DTYPES)
    assert {1, 2, 3} <= values("dilation") and {1, 2, 3} <= values("stride")
    assert values("bias") == {True, False}
    assert -1 in values("N") and values("N") - {-1}
    multipliers = {c["C_out"] // c["C_in"] for c in configs
                   if c["groups"] == c["C_in"] > 1 and c["C_out"] % c["C_in"] == 0}
    assert {1, 2, 3} <= multipliers, multipliers
    for mode in MODES:  # each mode meets unbatched input, groups, dilation, stride
        mine = [c for c in configs if c["padding_mode"] == mode]
        assert any(c["N"] == -1 for c in mine) and any(c["groups"] > 1 for c in mine)
        assert any(c["dilation"] > 1 for c in mine) and any(c["stride"] > 1 for c in mine)
    assert all(c["stride"] == 1 for c in configs if c["padding"] == "same")
    assert len(configs) >= 150


def main():
    # nn.Conv1d warns that 'same' with an even kernel may copy the input: expected, not news.
    warnings.filterwarnings("ignore", message="Using padding='same'")
    torch.manual_seed(20240603)
    rng = random.Random(20240603)
    configs = plan(rng)
    check_coverage(configs)
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.endswith(".npy") or old == "index.txt":
            os.remove(os.path.join(OUT, old))
    lines = [
        f"# reel Conv1d golden vectors, made by torch {torch.__version__} "
        f"(tests/nn/golden/make_conv1d_golden.py); {len(configs)} configurations",
        "# id dtype N C_in C_out L K stride padding dilation groups bias padding_mode L_out",
    ]
    for cfg in configs:
        flat, l_out = run(cfg)
        np.save(os.path.join(OUT, f"{cfg['id']:03d}.npy"), flat)
        lines.append(index_line(cfg, l_out))
    with open(os.path.join(OUT, "index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(configs)} configurations to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
