#!/usr/bin/python3
"""Golden values for reel's unit scaling (tests/nn/test_unit_scaling.cpp), made by PyTorch.

Run with Debian's python3-torch (1.13):  /usr/bin/python3 tests/nn/golden/make_unit_scaling_golden.py
It rewrites tests/nn/golden/unit_scaling/.

unit_scaling itself is not packaged for Debian, so the functions below transcribe Graphcore's
unit_scaling (github.com/graphcore-research/unit-scaling, commit a7b5b3c: scale.py's
_ScaledGrad, constraints.apply_constraint, functional.conv1d / linear / residual_split /
residual_add / mse_loss) on PyTorch's own autograd and F ops. The functional conv1d takes
the constraint (the module ignores it; reel's module passes it on) and integer padding only.

Each case <name> writes <name>_<tensor>.npy (float64): the inputs, grad_output (the output's
shape), the output, and the gradients of every input, those of (output * grad_output).sum().
index.txt: one line per case: `name kind key=value...` with the case's options.
"""
import math
import os
import shutil

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit_scaling")


class _ScaledGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, fwd_scale, bwd_scale):
        ctx.save_for_backward(torch.tensor(bwd_scale, dtype=x.dtype))
        return fwd_scale * x

    @staticmethod
    def backward(ctx, grad_y):
        (bwd_scale,) = ctx.saved_tensors
        return bwd_scale * grad_y, None, None


def scale_fwd(x, s):
    return _ScaledGrad.apply(x, s, 1.0)


def scale_bwd(x, s):
    return _ScaledGrad.apply(x, 1.0, s)


def apply_constraint(name, *scales):
    if name is None:
        return scales
    pick = {
        "gmean": lambda *s: math.prod(s) ** (1 / len(s)),
        "hmean": lambda *s: 1 / (sum(1 / v for v in s) / len(s)),
        "amean": lambda *s: sum(s) / len(s),
        "to_output_scale": lambda *s: s[0],
        "to_grad_input_scale": lambda o, g: g,
    }[name]
    s = pick(*scales)
    return tuple(s for _ in scales)


def us_conv1d(x, w, b, stride, padding, dilation, groups, constraint):
    fan_out, fan_in, k = w.shape
    out_size = (x.shape[-1] + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    batch = out_size
    if x.dim() > 2:
        batch *= x.shape[:-2].numel()
    out_s = 1 / (fan_in * k) ** 0.5
    in_s = (stride * groups / (fan_out * k)) ** 0.5
    gw = 1 / batch ** 0.5
    out_s, in_s = apply_constraint(constraint, out_s, in_s)
    x = scale_bwd(x, in_s)
    w = scale_bwd(w, gw)
    b = scale_bwd(b, gw) if b is not None else None
    return scale_fwd(F.conv1d(x, w, b, stride, padding, dilation, groups), out_s)


def us_linear(x, w, b, constraint):
    fan_out, fan_in = w.shape
    batch = x.numel() // fan_in
    out_s, in_s = apply_constraint(constraint, fan_in ** -0.5, fan_out ** -0.5)
    gw = batch ** -0.5
    x = scale_bwd(x, in_s)
    w = scale_bwd(w, gw)
    b = scale_bwd(b, gw) if b is not None else None
    return scale_fwd(F.linear(x, w, b), out_s)


def us_residual(x, tau):
    # residual_split, a branch 2*r, residual_add
    d = (1 + tau ** 2) ** 0.5
    r, skip = scale_bwd(x, tau / d), scale_bwd(x, 1 / d)
    return scale_fwd(2.0 * r, tau / d) + scale_fwd(skip, 1 / d)


def us_mse(x, t, reduction):
    g = 8 ** -0.5
    loss = F.mse_loss(scale_bwd(x, g), scale_bwd(t, g), reduction="sum")
    return scale_fwd(loss, 1 / x.numel()) if reduction == "mean" else loss


def save(name, **tensors):
    for k, v in tensors.items():
        np.save(os.path.join(OUT, f"{name}_{k}.npy"), v.detach().numpy().astype(np.float64))


def run(name, fn, inputs):
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = fn(**leaves)
    gy = torch.randn(y.shape, dtype=torch.float64)
    (y * gy).sum().backward()
    save(name, **inputs, grad_output=gy, output=y,
         **{f"grad_{k}": v.grad for k, v in leaves.items()})


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    torch.manual_seed(2024)
    r = lambda *s: torch.randn(*s, dtype=torch.float64)
    index = []
    convs = [
        # name, x, w, bias, stride, padding, dilation, groups, constraint
        ("conv_none", (2, 3, 7), (4, 3, 3), True, 1, 0, 1, 1, None),
        ("conv_stride2_groups2_gmean", (2, 4, 9), (6, 2, 3), True, 2, 1, 1, 2, "gmean"),
        ("conv_dilation2_hmean_nobias", (1, 2, 8), (3, 2, 3), False, 1, 2, 2, 1, "hmean"),
        ("conv_unbatched_amean", (3, 7), (2, 3, 3), True, 1, 1, 1, 1, "amean"),
        ("conv_to_grad_input_scale", (2, 2, 6), (5, 2, 4), True, 1, 0, 1, 1, "to_grad_input_scale"),
        ("conv_to_output_scale_stride3", (3, 4, 13), (4, 4, 2), True, 3, 1, 1, 1, "to_output_scale"),
    ]
    for name, xs, ws, bias, stride, padding, dilation, groups, constraint in convs:
        inputs = dict(x=r(*xs), w=r(*ws))
        if bias:
            inputs["b"] = r(ws[0])
        fn = (lambda x, w, b=None, s=stride, p=padding, d=dilation, g=groups, c=constraint:
              us_conv1d(x, w, b, s, p, d, g, c))
        run(name, fn, inputs)
        index.append(f"{name} conv1d stride={stride} padding={padding} dilation={dilation} "
                     f"groups={groups} constraint={constraint or 'none'} bias={int(bias)}")
    for c in [None, "gmean"]:
        name = f"linear_{c or 'none'}"
        run(name, lambda x, w, b, c=c: us_linear(x, w, b, c), dict(x=r(2, 3, 4), w=r(5, 4), b=r(5)))
        index.append(f"{name} linear constraint={c or 'none'}")
    run("residual", lambda x: us_residual(x, 0.75), dict(x=r(6)))
    index.append("residual residual tau=0.75")
    for red in ["mean", "sum"]:
        run(f"mse_{red}", lambda x, t, red=red: us_mse(x, t, red), dict(x=r(3, 5), t=r(3, 5)))
        index.append(f"mse_{red} mse reduction={red}")
    with open(os.path.join(OUT, "index.txt"), "w") as f:
        f.write("# name kind options (make_unit_scaling_golden.py)\n")
        f.write("\n".join(index) + "\n")


if __name__ == "__main__":
    main()
