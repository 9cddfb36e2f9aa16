#!/usr/bin/python3
"""Golden vectors for reel's normalization layers (BatchNorm1d, InstanceNorm1d, LayerNorm,
GroupNorm), made with Debian's python3-torch. Run from anywhere:

    /usr/bin/python3 tests/nn/golden/make_norm_golden.py

Writes tests/nn/golden/norm/: index.txt and one NNN.npy per case (a flat array in the case's
dtype, see README.md). Fixed seeds: regenerating gives the same bytes.
"""
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "norm")

torch.manual_seed(20261130)
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def flat(*tensors):
    return np.concatenate([t.detach().reshape(-1).numpy() for t in tensors])


def rand(shape, dtype, lo=-2.0, hi=2.0):
    return (torch.rand(shape, dtype=torch.float64) * (hi - lo) + lo).to(dtype)


cases = []  # (index line, flat array)


def random_affine(m, affine, dtype):
    """Random weight in [0.5, 1.5) and bias in [-2, 2) for an affine layer; its parameters."""
    if not affine:
        return []
    with torch.no_grad():
        m.weight.copy_(rand(m.weight.shape, dtype, 0.5, 1.5))
        m.bias.copy_(rand(m.bias.shape, dtype))
    return [m.weight, m.bias]


def grad_case(kind, dtype_name, shape, affine, eps, extra):
    """One forward/backward case. kind: bn_train, bn_eval, in, in_eval, ln, gn.
    extra: gn: num_groups; ln: number of normalized dims."""
    dtype = DTYPES[dtype_name]
    x = rand(shape, dtype).requires_grad_(True)
    # Scale and shift the input per channel so the statistics are not trivial.
    if kind == "ln":
        k = extra
        m = torch.nn.LayerNorm(list(shape[len(shape) - k:]), eps=eps, elementwise_affine=affine)
    elif kind == "gn":
        m = torch.nn.GroupNorm(extra, shape[1], eps=eps, affine=affine)
    elif kind.startswith("bn"):
        m = torch.nn.BatchNorm1d(shape[1], eps=eps, affine=affine)
    else:  # in, in_eval
        c = shape[-2]
        m = torch.nn.InstanceNorm1d(c, eps=eps, affine=affine,
                                    track_running_stats=(kind == "in_eval"))
    m = m.to(dtype)
    params = random_affine(m, affine, dtype)
    stats = []
    if kind in ("bn_eval", "in_eval"):
        with torch.no_grad():
            m.running_mean.copy_(rand(m.running_mean.shape, dtype, -0.5, 0.5))
            m.running_var.copy_(rand(m.running_var.shape, dtype, 0.5, 2.0))
        stats = [m.running_mean.clone(), m.running_var.clone()]
        m.eval()
    else:
        m.train()
    y = m(x)
    gy = rand(y.shape, dtype)
    y.backward(gy)
    grads = [x.grad] + ([m.weight.grad, m.bias.grad] if affine else [])
    data = flat(x, *params, *stats, gy, y, *grads)
    line = "{} {} {} {} {} {} {}".format(kind, dtype_name, int(affine), repr(eps), extra,
                                         len(shape), " ".join(str(s) for s in shape))
    cases.append((line, data))


def running_case(kind, dtype_name, shape, momentum, affine, steps=4):
    """Training steps then one eval step; records running stats after each step."""
    dtype = DTYPES[dtype_name]
    c = shape[1]
    if kind == "bn":
        m = torch.nn.BatchNorm1d(c, momentum=momentum, affine=affine)
    else:
        m = torch.nn.InstanceNorm1d(c, momentum=momentum, affine=affine, track_running_stats=True)
    m = m.to(dtype)
    params = random_affine(m, affine, dtype)
    m.train()
    pieces = []
    for _ in range(steps):
        # Inputs with a channel-dependent offset and scale, so running stats move visibly.
        x = rand(shape, dtype) * 2.0 + 1.0
        y = m(x)
        pieces += [x, y, m.running_mean.clone(), m.running_var.clone()]
    m.eval()
    xe = rand(shape, dtype)
    ye = m(xe)
    pieces += [xe, ye]
    nbt = int(m.num_batches_tracked)
    data = flat(*params, *pieces)
    mom = "None" if momentum is None else repr(momentum)
    line = "run_{} {} {} {} {} {} {} {}".format(kind, dtype_name, int(affine), mom, steps, nbt,
                                               len(shape), " ".join(str(s) for s in shape))
    cases.append((line, data))


for dt in ("float32", "float64"):
    # BatchNorm1d: (N, C, L), (N, C), train and eval, affine and not.
    for shape in ((4, 3, 6), (5, 4), (2, 2, 9)):
        for affine in (True, False):
            grad_case("bn_train", dt, shape, affine, 1e-5, 0)
            grad_case("bn_eval", dt, shape, affine, 1e-3, 0)
    # InstanceNorm1d: batched and unbatched, non-tracking (input stats) and tracked eval.
    for shape in ((3, 4, 7), (4, 5), (1, 2, 3)):
        for affine in (True, False):
            grad_case("in", dt, shape, affine, 1e-5, 0)
            grad_case("in_eval", dt, shape, affine, 1e-5, 0)
    # LayerNorm over the last 1 or 2 dims.
    for shape, k in (((3, 4, 5), 1), ((2, 3, 4), 2), ((6, 8), 1), ((7,), 1)):
        for affine in (True, False):
            grad_case("ln", dt, shape, affine, 1e-5, k)
    # GroupNorm: (N, C, L), (N, C), depthwise-like (groups == channels) and one group.
    for shape, g in (((2, 6, 5), 3), ((3, 4), 2), ((2, 4, 3), 4), ((2, 4, 5), 1), ((1, 6, 2, 3), 2)):
        for affine in (True, False):
            grad_case("gn", dt, shape, affine, 1e-5, g)
    # Running statistics.
    for momentum in (0.1, None):
        running_case("bn", dt, (6, 3, 5), momentum, True)
        running_case("bn", dt, (8, 4), momentum, False)
    running_case("in", dt, (3, 4, 6), 0.1, True)
    running_case("in", dt, (2, 3, 5), 0.3, False)

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "index.txt"), "w") as f:
    for i, (line, data) in enumerate(cases):
        f.write("{:03d} {}\n".format(i, line))
        np.save(os.path.join(OUT, "{:03d}.npy".format(i)), data)
print("torch", torch.__version__, "-", len(cases), "cases in", OUT)
