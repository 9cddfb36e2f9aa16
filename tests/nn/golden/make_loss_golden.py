#!/usr/bin/python3
"""Golden values for reel's losses (tests/nn/test_loss.cpp), made by PyTorch.

Run with Debian's python3-torch (1.13):  /usr/bin/python3 tests/nn/golden/make_loss_golden.py
It rewrites tests/nn/golden/loss/: index.txt and the .npy files of each case.

index.txt: one line per case, `id loss dtype reduction key=value...`, the keys being the
loss's options (beta, delta, ignore_index, label_smoothing, log_target) and which optional
tensors the case has (weight=1, pos_weight=1). Files NNN_<name>.npy hold input, target,
[weight], [pos_weight], grad_output (the output's shape), output, grad_input and
[grad_target] (where PyTorch differentiates the target). The gradients are those of
(output * grad_output).sum().
"""
import os
import shutil

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loss")
REDUCTIONS = ["none", "mean", "sum"]
cases = []


def add(loss, dtype, reduction, tensors, opts, target_grad):
    """tensors: dict of input, target, weight, pos_weight (torch, float64 master copies)."""
    t = {k: (v.to(dtype) if v.is_floating_point() else v.clone()) for k, v in tensors.items()}
    x = t["input"].clone().requires_grad_(True)
    tg = t["target"]
    if target_grad:
        tg = tg.clone().requires_grad_(True)
    kw = dict(opts)
    if "weight" in t:
        kw["weight"] = t["weight"]
    if "pos_weight" in t:
        kw["pos_weight"] = t["pos_weight"]
    fn = {
        "l1": F.l1_loss, "mse": F.mse_loss, "smooth_l1": F.smooth_l1_loss,
        "huber": F.huber_loss, "cross_entropy": F.cross_entropy, "nll": F.nll_loss,
        "bce": F.binary_cross_entropy, "bce_logits": F.binary_cross_entropy_with_logits,
        "kl_div": F.kl_div,
    }[loss]
    out = fn(x, tg, reduction=reduction, **kw)
    gen = torch.Generator().manual_seed(1000 + len(cases))
    go = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(dtype)
    (out * go).sum().backward()
    cid = f"{len(cases):03d}"
    files = {"input": t["input"], "target": t["target"], "grad_output": go, "output": out,
             "grad_input": x.grad}
    for k in ("weight", "pos_weight"):
        if k in t:
            files[k] = t[k]
    if target_grad:
        files["grad_target"] = tg.grad
    for name, v in files.items():
        np.save(os.path.join(OUT, f"{cid}_{name}.npy"), v.detach().numpy())
    keys = " ".join(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in opts.items())
    flags = " ".join(f"{k}=1" for k in ("weight", "pos_weight") if k in t)
    dt = "float32" if dtype == torch.float32 else "float64"
    cases.append(f"{cid} {loss} {dt} {reduction} {keys} {flags}".rstrip())


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    g = torch.Generator().manual_seed(7)

    def randn(*s):
        return torch.randn(*s, generator=g, dtype=torch.float64)

    def randint(hi, *s):
        return torch.randint(0, hi, s, generator=g)

    for dtype in (torch.float32, torch.float64):
        # Pointwise losses: differences on both sides of beta / delta, and some exactly 0.
        x, y = randn(3, 4) * 2, randn(3, 4)
        y[0, 0] = x[0, 0]
        for r in REDUCTIONS:
            add("l1", dtype, r, {"input": x, "target": y}, {}, True)
            add("mse", dtype, r, {"input": x, "target": y}, {}, True)
            for beta in (1.0, 0.5, 0.0):
                add("smooth_l1", dtype, r, {"input": x, "target": y}, {"beta": beta}, True)
            for delta in (1.0, 0.7):
                add("huber", dtype, r, {"input": x, "target": y}, {"delta": delta}, True)
        # Broadcast target (PyTorch warns, then broadcasts).
        add("mse", dtype, "mean", {"input": x, "target": randn(4)}, {}, True)

        # Cross-entropy over class indices: (N, C), (N, C, L), unbatched (C), ignored targets,
        # weights, label smoothing, a custom ignore_index, extreme logits.
        C = 5
        w = torch.rand(C, generator=g, dtype=torch.float64) + 0.5
        x2, t2 = randn(6, C) * 3, randint(C, 6)
        t2[2] = -100
        x3, t3 = randn(2, C, 3), randint(C, 2, 3)
        t3[1, 1] = -100
        xe = randn(4, C) * 1e4  # extreme logits: exp overflows without the max shift
        te = randint(C, 4)
        for r in REDUCTIONS:
            for ls in (0.0, 0.2):
                for wt in (False, True):
                    extra = {"weight": w} if wt else {}
                    add("cross_entropy", dtype, r, {"input": x2, "target": t2, **extra},
                        {"label_smoothing": ls}, False)
                    add("cross_entropy", dtype, r, {"input": x3, "target": t3, **extra},
                        {"label_smoothing": ls}, False)
                    add("cross_entropy", dtype, r, {"input": xe, "target": te, **extra},
                        {"label_smoothing": ls}, False)
            add("cross_entropy", dtype, r, {"input": randn(C), "target": torch.tensor(3)},
                {}, False)
            add("cross_entropy", dtype, r, {"input": x2, "target": t2.clamp(min=0), "weight": w},
                {"ignore_index": 1, "label_smoothing": 0.1}, False)
            # Every target ignored: mean is 0 / 0 = nan.
            add("cross_entropy", dtype, r,
                {"input": x2[:3], "target": torch.full((3,), -100)}, {}, False)
            # Class probabilities (rows of the target sum to 1; PyTorch does not check that).
            p2 = torch.softmax(randn(6, C), 1)
            p3 = torch.softmax(randn(2, C, 3), 1)
            for ls in (0.0, 0.3):
                add("cross_entropy", dtype, r, {"input": x2, "target": p2},
                    {"label_smoothing": ls}, True)
                add("cross_entropy", dtype, r, {"input": x3, "target": p3, "weight": w},
                    {"label_smoothing": ls}, True)
            add("cross_entropy", dtype, r, {"input": xe, "target": p2[:4]}, {}, True)

        # NLL over log-probabilities.
        lp2, lp3 = torch.log_softmax(x2, 1), torch.log_softmax(x3, 1)
        for r in REDUCTIONS:
            add("nll", dtype, r, {"input": lp2, "target": t2}, {}, False)
            add("nll", dtype, r, {"input": lp2, "target": t2, "weight": w}, {}, False)
            add("nll", dtype, r, {"input": lp3, "target": t3, "weight": w}, {}, False)
            add("nll", dtype, r, {"input": lp2, "target": t2.clamp(min=0)}, {"ignore_index": 0},
                False)
            add("nll", dtype, r, {"input": lp2[0], "target": torch.tensor(1)}, {}, False)

        # BCE on probabilities, exact 0 and 1 included (the clamped logs), weights broadcast.
        pb = torch.sigmoid(randn(3, 4) * 2)
        pb[0, 0], pb[1, 1] = 0.0, 1.0
        tb = torch.rand(3, 4, generator=g, dtype=torch.float64)
        tb[0, 1] = 1.0
        wb = torch.rand(4, generator=g, dtype=torch.float64) + 0.5
        for r in REDUCTIONS:
            add("bce", dtype, r, {"input": pb, "target": tb}, {}, False)
            add("bce", dtype, r, {"input": pb, "target": tb, "weight": wb}, {}, False)
            # Logits, moderate and extreme; pos_weight over the last (class) dim.
            xl = randn(3, 4) * 3
            xl[0, 0], xl[0, 1], xl[1, 0], xl[1, 1] = 1e4, -1e4, 40.0, -40.0
            for wt in (False, True):
                for pw in (False, True):
                    extra = {}
                    if wt:
                        extra["weight"] = wb
                    if pw:
                        extra["pos_weight"] = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
                    add("bce_logits", dtype, r, {"input": xl, "target": tb, **extra}, {}, True)

        # KL divergence: log-probability input; probability target with a zero entry, or a
        # log-probability target.
        xk = torch.log_softmax(randn(3, 4), 1)
        tk = torch.softmax(randn(3, 4), 1)
        tk[0, 0] = 0.0
        for r in REDUCTIONS + ["batchmean"]:
            add("kl_div", dtype, r, {"input": xk, "target": tk}, {"log_target": False}, False)
            add("kl_div", dtype, r, {"input": xk, "target": torch.log_softmax(randn(3, 4), 1)},
                {"log_target": True}, True)

    with open(os.path.join(OUT, "index.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")
    print(f"{len(cases)} cases, torch {torch.__version__}")


if __name__ == "__main__":
    main()
