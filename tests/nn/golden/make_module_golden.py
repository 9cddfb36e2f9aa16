#!/usr/bin/python3
"""Golden values for reel's module system and nn::utils, made by PyTorch
(tests/nn/test_module_system.cpp checks them).

Run with Debian's python3-torch (1.13) and python3-numpy, from anywhere:

    /usr/bin/python3 tests/nn/golden/make_module_golden.py

(the interpreter matters: a pyenv `python3` earlier on PATH has no torch). Deterministic (fixed
seeds); the output is committed, so the C++ tests need no PyTorch.

What it writes, into tests/nn/golden/module/:
  repr_<model>.txt       repr(model) for the nested models built in build_models() (the C++ test
                         builds the same ones from nn::Conv1d and the containers)
  keys_<model>.txt       state_dict keys, one a line
  modules_<model>.txt    named_modules() names, one a line ("" is the model itself)
  params_<model>.txt     named_parameters() names, one a line
  wn_<case>_<what>.npy   weight_norm'ed Conv1d cases (see WN_CASES): the parameters
                         (v = weight_v, g = weight_g, bias), the input x, grad_output go,
                         the output out and the gradients gx, gg, gv, gb after out.backward(go)
  wn_names.txt           named_parameters() of a weight-normed Conv1d, one a line
  wn_removed_weight.npy  remove_weight_norm's weight for case f64_dim0
  clip_<case>_<what>.npy clip_grad_norm_ cases (see CLIP_CASES): gradients g0 g1 g2 before
                         (in0..), total norm `total`, gradients after (out0..)
"""
import os

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module")


def build_models():
    torch.manual_seed(0)
    models = {}
    models["seq"] = nn.Sequential(nn.Conv1d(2, 4, 3), nn.Conv1d(4, 4, 1, bias=False))
    models["nested"] = nn.Sequential(
        nn.Conv1d(2, 4, 3, stride=2, padding=1),
        nn.Sequential(nn.Conv1d(4, 4, 1), nn.Conv1d(4, 2, 1, groups=2)),
        nn.ModuleList([nn.Conv1d(2, 2, 1), nn.Conv1d(2, 2, 3, dilation=2)]),
        nn.ModuleDict({"head": nn.Conv1d(2, 1, 1),
                       "aux": nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular")}),
    )
    models["empty_seq"] = nn.Sequential()
    models["empty_list"] = nn.ModuleList()
    models["empty_dict"] = nn.ModuleDict()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(3, 8, 5, padding=2)
            self.blocks = nn.ModuleList(
                [nn.Sequential(nn.Conv1d(8, 8, 3, padding=1), nn.Conv1d(8, 8, 1)) for _ in range(2)])
            self.heads = nn.ModuleDict({"mean": nn.Conv1d(8, 1, 1), "logvar": nn.Conv1d(8, 1, 1)})

    models["net"] = Net()
    models["wn_seq"] = nn.Sequential(nn.utils.weight_norm(nn.Conv1d(2, 3, 2)), nn.Conv1d(3, 1, 1))
    return models


# (name, dtype, C_in, C_out, K, padding, dilation, dim, N, L)
WN_CASES = [
    ("f32_dim0", torch.float32, 3, 4, 3, 2, 1, 0, 2, 7),
    ("f64_dim0", torch.float64, 2, 5, 2, 0, 2, 0, 3, 6),
    ("f64_dim1", torch.float64, 3, 2, 3, 1, 1, 1, 2, 5),
    ("f64_none", torch.float64, 2, 3, 2, 0, 1, None, 1, 4),
]

# (name, dtype, max_norm, norm_type)
CLIP_CASES = [
    ("l2", torch.float64, 1.0, 2.0),
    ("l2_noclip", torch.float64, 100.0, 2.0),
    ("inf", torch.float64, 0.5, float("inf")),
    ("l1", torch.float64, 2.0, 1.0),
    ("l3_f32", torch.float32, 1.5, 3.0),
]


def save(name, t):
    np.save(os.path.join(OUT, name), t.detach().numpy())


def write_lines(name, lines):
    with open(os.path.join(OUT, name), "w") as f:
        for line in lines:
            f.write(line + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, model in build_models().items():
        with open(os.path.join(OUT, "repr_%s.txt" % name), "w") as f:
            f.write(repr(model))  # no trailing newline: the exact string
        write_lines("keys_%s.txt" % name, list(model.state_dict().keys()))
        write_lines("modules_%s.txt" % name, [n for n, _ in model.named_modules()])
        write_lines("params_%s.txt" % name, [n for n, _ in model.named_parameters()])

    torch.manual_seed(1)
    for (case, dtype, cin, cout, k, padding, dilation, dim, n, length) in WN_CASES:
        conv = nn.Conv1d(cin, cout, k, padding=padding, dilation=dilation).to(dtype)
        conv = nn.utils.weight_norm(conv, dim=dim)
        with torch.no_grad():
            conv.weight_g.mul_(torch.rand_like(conv.weight_g) + 0.5)  # g != ||v||
        if case == "f32_dim0":
            write_lines("wn_names.txt", [nm for nm, _ in conv.named_parameters()])
        x = torch.randn(n, cin, length, dtype=dtype, requires_grad=True)
        out = conv(x)
        go = torch.randn_like(out)
        out.backward(go)
        for what, t in [("v", conv.weight_v), ("g", conv.weight_g), ("bias", conv.bias), ("x", x),
                        ("go", go), ("out", out), ("gx", x.grad), ("gg", conv.weight_g.grad),
                        ("gv", conv.weight_v.grad), ("gb", conv.bias.grad)]:
            save("wn_%s_%s.npy" % (case, what), t)
        if case == "f64_dim0":
            nn.utils.remove_weight_norm(conv)
            save("wn_removed_weight.npy", conv.weight)

    torch.manual_seed(2)
    for (case, dtype, max_norm, norm_type) in CLIP_CASES:
        ps = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in [(3, 4), (5,), (2, 1, 3)]]
        for i, p in enumerate(ps):
            p.grad = torch.randn(p.shape, dtype=dtype) * (i + 1)
            save("clip_%s_in%d.npy" % (case, i), p.grad)
        total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
        save("clip_%s_total.npy" % case, total)
        for i, p in enumerate(ps):
            save("clip_%s_out%d.npy" % (case, i), p.grad)


if __name__ == "__main__":
    main()
