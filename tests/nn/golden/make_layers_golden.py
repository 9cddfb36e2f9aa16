#!/usr/bin/python3
"""Golden vectors for reel's basic layers and activations, made by PyTorch
(tests/nn/test_layers.cpp checks them).

Run with Debian's python3-torch (1.13) and python3-numpy, from anywhere:

    /usr/bin/python3 tests/nn/golden/make_layers_golden.py

The output is deterministic (fixed seeds) and committed, so the C++ tests need no PyTorch.

What it writes, into tests/nn/golden/layers/:
  index.txt   one line per case (lines starting with '#' are comments), fields separated by
              single spaces:
                id kind dtype shape params
              kind: an activation (relu leaky_relu prelu elu gelu silu mish tanh sigmoid softplus
              hardtanh softmax log_softmax glu), linear or embedding; dtype: float32 | float64;
              shape: the input's shape, sizes joined by 'x' ('scalar' for 0-dim); for embedding
              the shape of the indices; params: comma-separated key=value ('-' for none):
                leaky_relu: slope   prelu: n (num_parameters)   elu: alpha
                gelu: approximate (none|tanh)   softplus: beta, threshold
                hardtanh: min, max   softmax, log_softmax, glu: dim
                linear: out (out_features), bias (0|1)
                embedding: num, dim, pad (padding_idx as given, or 'none')
  {id:03d}.npy  one 1-D array in the case's dtype: these tensors, each flattened in C order,
              concatenated in this order:
                activations: x, grad_output, [weight], output, grad_x, [grad_weight]
                             (weight: prelu's, shape (n,))
                linear:      x, weight (out, in), [bias (out,)], grad_output, output, grad_x,
                             grad_weight, [grad_bias]
                embedding:   weight (num, dim), grad_output, output, grad_weight
  {id:03d}_idx.npy  embedding only: the int64 indices, in their shape.

Each case runs the torch.nn module with the given parameters copied in: out = m(x);
out.backward(grad_output); the gradients are x.grad and the parameters' .grad.
"""
import os

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers")

lines = []
case_id = 0


def shape_str(shape):
    return "x".join(str(s) for s in shape) if len(shape) else "scalar"


def params_str(params):
    return ",".join(f"{k}={v}" for k, v in params.items()) if params else "-"


def emit(kind, dtype, shape, params, tensors, idx=None):
    global case_id
    flat = np.concatenate([t.detach().numpy().reshape(-1) for t in tensors])
    np.save(os.path.join(OUT, f"{case_id:03d}.npy"), flat)
    if idx is not None:
        np.save(os.path.join(OUT, f"{case_id:03d}_idx.npy"), idx.numpy().astype(np.int64))
    lines.append(f"{case_id} {kind} {dtype} {shape_str(shape)} {params_str(params)}")
    case_id += 1


def make_input(shape, dtype, specials, gen):
    n = int(np.prod(shape)) if len(shape) else 1
    x = torch.randn(n, generator=gen, dtype=torch.float64) * 2
    k = min(len(specials), n)
    x[:k] = torch.tensor(specials[:k], dtype=torch.float64)
    return x.reshape(shape).to(dtype)


ACTIVATIONS = [
    # (kind, params, module, special points)
    ("relu", {}, lambda: nn.ReLU(), [0.0, -1e-3, 1e-3, 50.0, -50.0]),
    ("leaky_relu", {"slope": 0.01}, lambda: nn.LeakyReLU(), [0.0, -2.0, 2.0, -100.0]),
    ("leaky_relu", {"slope": 0.2}, lambda: nn.LeakyReLU(0.2), [0.0, -3.5, 1e-4]),
    ("elu", {"alpha": 1.0}, lambda: nn.ELU(), [0.0, -1e-3, -30.0, -100.0, 100.0, 1.0, -1.0]),
    ("elu", {"alpha": 0.7}, lambda: nn.ELU(0.7), [0.0, -0.5, -20.0, 3.0]),
    ("gelu", {"approximate": "none"}, lambda: nn.GELU(), [0.0, -10.0, 10.0, -3.0, 3.0]),
    ("gelu", {"approximate": "tanh"}, lambda: nn.GELU("tanh"), [0.0, -10.0, 10.0, -3.0, 3.0, -50.0]),
    ("silu", {}, lambda: nn.SiLU(), [0.0, -50.0, 50.0]),
    ("mish", {}, lambda: nn.Mish(), [0.0, -30.0, 30.0, -100.0, 100.0, 1e-3]),
    ("tanh", {}, lambda: nn.Tanh(), [0.0, -20.0, 20.0]),
    ("sigmoid", {}, lambda: nn.Sigmoid(), [0.0, -50.0, 50.0]),
    ("softplus", {"beta": 1.0, "threshold": 20.0}, lambda: nn.Softplus(),
     [0.0, 20.0, 19.999, 20.001, 21.0, -30.0, -100.0, 100.0]),
    ("softplus", {"beta": 2.0, "threshold": 5.0}, lambda: nn.Softplus(2.0, 5.0),
     [0.0, 2.5, 2.4999, 2.5001, 3.0, -10.0, -1e-3]),
    ("hardtanh", {"min": -1.0, "max": 1.0}, lambda: nn.Hardtanh(),
     [-1.0, 1.0, 0.0, -1.0001, 1.0001, -5.0, 5.0, 0.9999, -0.9999]),
    ("hardtanh", {"min": -2.0, "max": 0.5}, lambda: nn.Hardtanh(-2.0, 0.5),
     [-2.0, 0.5, 0.0, -3.0, 1.0]),
]


def run_activation(kind, params, make, specials, dtype, shape, gen):
    m = make()
    x = make_input(shape, dtype, specials, gen).requires_grad_()
    out = m(x)
    g = (torch.randn(out.shape, generator=gen, dtype=torch.float64)).to(dtype)
    out.backward(g)
    emit(kind, str(dtype).replace("torch.", ""), tuple(shape), params, [x, g, out, x.grad])


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    gen = torch.Generator().manual_seed(20261130)
    for dtype in (torch.float32, torch.float64):
        # elementwise activations: batched, unbatched, 0-dim
        for kind, params, make, specials in ACTIVATIONS:
            for shape in ((2, 3, 5), (3, 5), ()):
                run_activation(kind, params, make, specials, dtype, shape, gen)
        # softmax / log_softmax along several dims, with large logits
        for kind, cls in (("softmax", nn.Softmax), ("log_softmax", nn.LogSoftmax)):
            for shape, dim in (((2, 3, 5), 1), ((2, 3, 5), -1), ((4, 6), 0), ((7,), 0)):
                run_activation(kind, {"dim": dim}, lambda: cls(dim), [0.0, 30.0, -30.0, 80.0],
                               dtype, shape, gen)
        # glu
        for shape, dim in (((2, 3, 4), -1), ((2, 4, 3), 1), ((6,), 0), ((4, 6), 0)):
            run_activation("glu", {"dim": dim}, lambda: nn.GLU(dim), [0.0, -20.0, 20.0],
                           dtype, shape, gen)
        # prelu: channel dim 1 for 2+ dims, one shared slope otherwise
        for shape, n in (((2, 3, 5), 3), ((2, 3, 5), 1), ((3, 5), 5), ((4, 3), 1), ((5,), 1),
                         ((), 1)):
            m = nn.PReLU(n).to(dtype)
            with torch.no_grad():
                m.weight.copy_(torch.rand(n, generator=gen, dtype=torch.float64) * 0.6 - 0.1)
            x = make_input(shape, dtype, [0.0, -1.0, 1.0, -50.0], gen).requires_grad_()
            out = m(x)
            g = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(dtype)
            out.backward(g)
            emit("prelu", str(dtype).replace("torch.", ""), tuple(shape), {"n": n},
                 [x, g, m.weight, out, x.grad, m.weight.grad])
        # linear: 1-D, 2-D, 3-D input, with and without bias
        for shape, out_f, bias in (((4,), 3, 1), ((2, 4), 3, 1), ((2, 3, 4), 5, 1),
                                   ((2, 4), 3, 0), ((2, 3, 4), 2, 0), ((4,), 1, 0)):
            m = nn.Linear(shape[-1], out_f, bias=bool(bias)).to(dtype)
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen, dtype=torch.float64))
                if bias:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen, dtype=torch.float64))
            x = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype).requires_grad_()
            out = m(x)
            g = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(dtype)
            out.backward(g)
            tensors = [x, m.weight] + ([m.bias] if bias else []) + [g, out, x.grad, m.weight.grad]
            tensors += [m.bias.grad] if bias else []
            emit("linear", str(dtype).replace("torch.", ""), tuple(shape),
                 {"out": out_f, "bias": bias}, tensors)
        # embedding: repeated indices, padding_idx positive and negative
        for idx, pad in (([[1, 2, 2, 0, 9], [2, 5, 5, 5, 1]], None),
                         ([[1, 2, 2, 0, 9], [2, 5, 5, 5, 1]], 2),
                         ([3, 9, 9, 0, 3, 9], -1),
                         (4, 4),
                         ([7, 7, 7], 0)):
            idx = torch.tensor(idx, dtype=torch.int64)
            m = nn.Embedding(10, 4, padding_idx=pad).to(dtype)
            with torch.no_grad():
                m.weight.copy_(torch.randn(10, 4, generator=gen, dtype=torch.float64))
            out = m(idx)
            g = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(dtype)
            out.backward(g)
            emit("embedding", str(dtype).replace("torch.", ""), tuple(idx.shape),
                 {"num": 10, "dim": 4, "pad": "none" if pad is None else pad},
                 [m.weight, g, out, m.weight.grad], idx=idx)
    with open(os.path.join(OUT, "index.txt"), "w") as f:
        f.write(f"# made by make_layers_golden.py with torch {torch.__version__}\n")
        f.write("# id kind dtype shape params\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
