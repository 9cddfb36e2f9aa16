#!/usr/bin/python3
"""Golden values for variable-length sequences (tests/nn/test_sequence.cpp), from PyTorch 1.13.

Run with Debian's torch: /usr/bin/python3 tests/nn/golden/make_sequence_golden.py
It rewrites tests/nn/golden/sequence/.

pad_index.txt, one line per pad_sequence case:
    <id> <dtype> <batch_first 0|1> <padding_value> <number of sequences>
  files <id>_seq<i>.npy (the sequences), <id>_grad_output.npy, and PyTorch's <id>_output.npy
  and <id>_grad_seq<i>.npy (the gradients of (output * grad_output).sum()).

loss_index.txt, one line per masked-loss case:
    <id> <loss> <dtype> <reduction> [key=value ...]
  files <id>_input.npy, <id>_target.npy, <id>_mask.npy (bool), <id>_weight.npy /
  <id>_pos_weight.npy (when the case has weight=1 / pos_weight=1), <id>_grad_output.npy, and
  the reference <id>_output.npy, <id>_grad_input.npy, <id>_grad_target.npy (pointwise losses
  only). PyTorch has no mask argument; the reference computes the masked loss explicitly:
  pointwise losses and class probabilities as (loss * m).sum() / m.sum() (m: the mask broadcast
  to the unreduced loss; sum: (loss * m).sum(); none: loss * m), class-index cross_entropy and
  nll_loss as the same loss with the masked targets set to ignore_index (-100).
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sequence")
DT = {"float32": torch.float32, "float64": torch.float64}


def save(name, t):
    np.save(os.path.join(OUT, name + ".npy"), t.detach().numpy())


def pad_cases():
    # (dtype, batch_first, padding_value, shapes)
    return [
        ("float64", False, 0.0, [(3, 2), (5, 2), (1, 2)]),
        ("float32", True, -1.5, [(4, 3, 2), (2, 3, 2), (0, 3, 2)]),
        ("float64", True, 7.0, [(3,), (1,), (4,)]),
        ("float32", False, 2.0, [(2, 3), (4, 1), (3, 3)]),  # a size-1 trailing dim broadcasts
        ("float64", True, 0.0, [(6, 2)]),
    ]


def make_pad(index):
    for k, (dtype, bf, pv, shapes) in enumerate(pad_cases()):
        cid = "pad%02d" % k
        seqs = [torch.randn(s, dtype=DT[dtype], requires_grad=True) for s in shapes]
        out = pad_sequence(seqs, batch_first=bf, padding_value=pv)
        go = torch.randn(out.shape, dtype=DT[dtype])
        (out * go).sum().backward()
        for i, s in enumerate(seqs):
            save("%s_seq%d" % (cid, i), s)
            save("%s_grad_seq%d" % (cid, i), s.grad)
        save(cid + "_output", out)
        save(cid + "_grad_output", go)
        index.append("%s %s %d %r %d" % (cid, dtype, int(bf), pv, len(seqs)))


def lengths_mask(lengths, steps):
    return torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]


def pointwise(loss, x, t, opts):
    if loss == "mse_loss":
        return F.mse_loss(x, t, reduction="none")
    if loss == "l1_loss":
        return F.l1_loss(x, t, reduction="none")
    if loss == "smooth_l1_loss":
        return F.smooth_l1_loss(x, t, reduction="none", beta=opts["beta"])
    if loss == "huber_loss":
        return F.huber_loss(x, t, reduction="none", delta=opts["delta"])
    if loss == "binary_cross_entropy":
        return F.binary_cross_entropy(x, t, reduction="none", weight=opts.get("w"))
    if loss == "binary_cross_entropy_with_logits":
        return F.binary_cross_entropy_with_logits(x, t, reduction="none", weight=opts.get("w"),
                                                  pos_weight=opts.get("pw"))
    if loss == "cross_entropy_probs":
        return F.cross_entropy(x, t, reduction="none", label_smoothing=opts.get("ls", 0.0))
    raise ValueError(loss)


def reduce_masked(loss, m, reduction):
    mf = m.expand(loss.shape).to(loss.dtype)
    if reduction == "none":
        return loss * mf
    if reduction == "sum":
        return (loss * mf).sum()
    return (loss * mf).sum() / mf.sum()


def make_loss(index):
    B, L, FEAT, C = 3, 5, 2, 4
    lengths = [5, 2, 3]
    mask = lengths_mask(lengths, L)  # [B, L]
    k = 0
    for dtype in ("float32", "float64"):
        dt = DT[dtype]
        for reduction in ("mean", "sum", "none"):
            cases = [
                ("mse_loss", {}, ""),
                ("l1_loss", {}, ""),
                ("smooth_l1_loss", {"beta": 0.5}, "beta=0.5"),
                ("huber_loss", {"delta": 0.7}, "delta=0.7"),
                ("binary_cross_entropy", {"w": True}, "weight=1"),
                ("binary_cross_entropy_with_logits", {"w": True, "pw": True},
                 "weight=1 pos_weight=1"),
                ("cross_entropy_probs", {"ls": 0.1}, "label_smoothing=0.1"),
                ("cross_entropy", {"w": True, "ls": 0.0}, "weight=1"),
                ("cross_entropy", {"ls": 0.2}, "label_smoothing=0.2"),
                ("cross_entropy", {"w": True, "ls": 0.1, "ignore": True},
                 "weight=1 label_smoothing=0.1 ignore_index=-100"),
                ("nll_loss", {"w": True}, "weight=1"),
            ]
            for loss, opts, desc in cases:
                cid = "loss%03d" % k
                k += 1
                files = {}
                if loss in ("cross_entropy", "nll_loss"):
                    x = torch.randn(B, C, L, dtype=dt)
                    if loss == "nll_loss":
                        x = F.log_softmax(x, 1)
                    x.requires_grad_(True)
                    t = torch.randint(0, C, (B, L))
                    if opts.get("ignore"):
                        t[0, 1] = -100  # a real ignore_index inside the unmasked steps
                    m = mask
                    w = torch.rand(C, dtype=dt) + 0.5 if opts.get("w") else None
                    tm = torch.where(m, t, torch.full_like(t, -100))
                    if loss == "cross_entropy":
                        out = F.cross_entropy(x, tm, weight=w, ignore_index=-100,
                                              reduction=reduction,
                                              label_smoothing=opts.get("ls", 0.0))
                    else:
                        out = F.nll_loss(x, tm, weight=w, ignore_index=-100,
                                         reduction=reduction)
                    if w is not None:
                        files["weight"] = w
                    tgrad = False
                else:
                    if loss == "cross_entropy_probs":
                        x = torch.randn(B, C, L, dtype=dt, requires_grad=True)
                        t = torch.softmax(torch.randn(B, C, L, dtype=dt), 1)
                        m = mask  # [B, L]: the loss's shape
                        tgrad = False
                    else:
                        if loss == "binary_cross_entropy":
                            x = torch.sigmoid(torch.randn(B, L, FEAT, dtype=dt))
                            t = torch.rand(B, L, FEAT, dtype=dt)
                        else:
                            x = torch.randn(B, L, FEAT, dtype=dt)
                            t = torch.randn(B, L, FEAT, dtype=dt)
                            if loss == "binary_cross_entropy_with_logits":
                                t = torch.rand(B, L, FEAT, dtype=dt)
                        x.requires_grad_(True)
                        t.requires_grad_(True)
                        m = mask[:, :, None]  # [B, L, 1] broadcasts over the features
                        tgrad = True
                    o = dict(opts)
                    if opts.get("w"):
                        o["w"] = torch.rand(FEAT, dtype=dt) + 0.5
                        files["weight"] = o["w"]
                    if opts.get("pw"):
                        o["pw"] = torch.rand(FEAT, dtype=dt) + 0.5
                        files["pos_weight"] = o["pw"]
                    if not opts.get("w"):
                        o.pop("w", None)
                    out = reduce_masked(pointwise(loss, x, t, o), m, reduction)
                go = torch.randn(out.shape, dtype=dt)
                (out * go).sum().backward()
                save(cid + "_input", x)
                save(cid + "_target", t)
                np.save(os.path.join(OUT, cid + "_mask.npy"), m.numpy())
                for name, v in files.items():
                    save(cid + "_" + name, v)
                save(cid + "_grad_output", go)
                save(cid + "_output", out)
                save(cid + "_grad_input", x.grad)
                if tgrad:
                    save(cid + "_grad_target", t.grad)
                index.append(("%s %s %s %s %s" % (cid, loss, dtype, reduction, desc)).rstrip())


def main():
    torch.manual_seed(8)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    pad_index, loss_index = [], []
    make_pad(pad_index)
    make_loss(loss_index)
    with open(os.path.join(OUT, "pad_index.txt"), "w") as f:
        f.write("# id dtype batch_first padding_value sequences\n")
        f.write("\n".join(pad_index) + "\n")
    with open(os.path.join(OUT, "loss_index.txt"), "w") as f:
        f.write("# id loss dtype reduction options\n")
        f.write("\n".join(loss_index) + "\n")


if __name__ == "__main__":
    main()
