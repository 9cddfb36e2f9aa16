#!/usr/bin/python3
"""Expected gradients of in-place ops on views, from PyTorch (CopySlices), for
tests/autograd/test_inplace_views.cpp.

    /usr/bin/python3 tests/autograd/golden/make_inplace_golden.py

Writes tests/autograd/golden/inplace/<scenario>_<name>.npy: the inputs (fixed seed, float64)
and PyTorch's gradients of every input that requires grad (`<name>_grad`), plus the loss
(`loss`). Each scenario below is written the same way in the C++ test; the comment names the
case it covers. Run with Debian's python3-torch (1.13: it reports 1.13.0a0); regenerating gives
the same bytes.
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inplace")
torch.manual_seed(7)
D = torch.float64


def rnd(*shape, grad=False):
    t = torch.randn(*shape, dtype=D)
    return t.requires_grad_() if grad else t


def save(scenario, tensors, loss):
    """tensors: name -> tensor; leaves that require grad also get <name>_grad."""
    loss.backward()
    for name, t in tensors.items():
        np.save(os.path.join(OUT, f"{scenario}_{name}.npy"), t.detach().numpy())
        if t.requires_grad and t.is_leaf:
            np.save(os.path.join(OUT, f"{scenario}_{name}_grad.npy"), t.grad.numpy())
    np.save(os.path.join(OUT, f"{scenario}_loss.npy"), loss.detach().numpy())


def narrow_copy():
    # The buffer-fill pattern: a base that doesn't require grad, written through narrow views
    # with values that do; h now requires grad and its gradient reaches x.
    x, w = rnd(2, 3, 1, grad=True), rnd(2, 3, 4)
    h = torch.zeros(2, 3, 4, dtype=D)
    h.narrow(2, 0, 1).copy_(x)
    h.narrow(2, 2, 1).copy_(x * 2)
    h.narrow(2, 3, 1).copy_(x.sum())  # a broadcast copy
    assert h.requires_grad and type(h.grad_fn).__name__ == "CopySlices"
    save("narrow_copy", {"x": x, "w": w}, (h * h * w).sum())


def select_mul():
    # select(...).mul_(scalar) on a non-leaf; a view taken before the op is used after it.
    a, w, w2 = rnd(3, 4, grad=True), rnd(3, 4), rnd(4)
    y = a * 1.5
    v = y.select(0, 1)
    y.select(0, 1).mul_(2)
    save("select_mul", {"a": a, "w": w, "w2": w2}, (y * y * w).sum() + (v * w2).sum())


def slice_add():
    # slice with a step .add_(z): gradients to the base's history and to z.
    a, z, w = rnd(5, 3, grad=True), rnd(2, 3, grad=True), rnd(5, 3)
    base = a.clone()
    base[1:5:2].add_(z * z)
    save("slice_add", {"a": a, "z": z, "w": w}, (base * base * w).sum())


def fill_zero():
    # fill_ / zero_ on views: nothing flows to the overwritten region.
    a, w = rnd(3, 4, grad=True), rnd(3, 4)
    y = a * 2
    y.narrow(1, 1, 2).zero_()
    y.select(0, 2).fill_(3.0)
    save("fill_zero", {"a": a, "w": w}, (y * y * w).sum())


def masked_fill():
    a, w = rnd(4, 3, grad=True), rnd(4, 3)
    mask = torch.tensor([[True, False, True], [False, False, True]])
    y = a.sin()  # (exp would save its output, which the fill modifies: PyTorch's error)
    y.narrow(0, 1, 2).masked_fill_(mask, 0.5)
    save("masked_fill", {"a": a, "w": w, "mask": mask}, (y * w).sum())


def view_of_view():
    # narrow of a select, multiplied by a tensor that requires grad; a view overlapping the
    # written region (taken before) is used after.
    a, z, w, w2 = rnd(3, 4, 5, grad=True), rnd(4, 2, grad=True), rnd(3, 4, 5), rnd(3, 4)
    y = a.clone()
    other = y.select(2, 1)  # overlaps the region written below in y[1, :, 1]
    y.select(0, 1).narrow(1, 1, 2).mul_(z)
    save("view_of_view", {"a": a, "z": z, "w": w, "w2": w2},
         (y * w).sum() + (other * other * w2).sum())


def base_inplace():
    # An in-place op on the base after a view was taken: the view sees it.
    a, b, w = rnd(4, 3, grad=True), rnd(4, 3, grad=True), rnd(2, 3)
    y = a * 1
    v = y.narrow(0, 1, 2)
    y.mul_(b)
    save("base_inplace", {"a": a, "b": b, "w": w}, (v * w).sum())


def rnn_fill():
    # A recurrence writing each step into a preallocated buffer. (Reading the previous step
    # back from the buffer would fail in PyTorch as in reel: matmul saved that slot, which the
    # next step's copy_ bumps the version of.)
    T, B, H = 4, 2, 3
    x, W, w = rnd(T, B, H, grad=True), rnd(H, H, grad=True), rnd(T, B, H)
    h = torch.zeros(T, B, H, dtype=D)
    prev = torch.zeros(B, H, dtype=D)
    for t in range(T):
        prev = torch.tanh(prev.matmul(W) + x.select(0, t))
        h.select(0, t).copy_(prev)
    save("rnn_fill", {"x": x, "W": W, "w": w}, (h * w).sum())


def mixed_ops():
    # clamp_, div_ by a tensor that requires grad, sub_ with alpha, repeated on the same view.
    a, d, s, w = rnd(4, 4, grad=True), rnd(2, 4, grad=True), rnd(2, 4, grad=True), rnd(4, 4)
    y = a * 1
    v = y.narrow(0, 2, 2)
    v.clamp_(-0.5, 0.7)
    v.div_(d * d + 1)
    v.sub_(s, alpha=0.5)
    save("mixed_ops", {"a": a, "d": d, "s": s, "w": w}, (y * y * w).sum() + (v * w[0]).sum())


def transpose_copy():
    # copy_ through a permuted (non-contiguous) view of a non-contiguous base.
    a, x, w = rnd(3, 4, grad=True), rnd(2, 3, grad=True), rnd(4, 3)
    y = (a * 1).t()  # the base is itself non-contiguous (a view of a*1: base is a*1)
    y.narrow(0, 1, 2).copy_(x)
    save("transpose_copy", {"a": a, "x": x, "w": w}, (y * y * w).sum())


def expand_regen():
    # An expanded view (stride 0) taken before an in-place op on its base: its regenerated
    # history sums the gradients of the elements that share a location.
    a, b, w = rnd(3, 4, grad=True), rnd(3, 4, grad=True), rnd(2, 3, 4)
    y = a * 1
    v = y.narrow(0, 1, 1).expand(2, 3, 4)
    y.add_(b * b)
    save("expand_regen", {"a": a, "b": b, "w": w}, (v * v * w).sum())


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for f in (narrow_copy, select_mul, slice_add, fill_zero, masked_fill, view_of_view,
              base_inplace, rnn_fill, mixed_ops, transpose_copy, expand_regen):
        f()
    print("torch", torch.__version__, "->", OUT)
