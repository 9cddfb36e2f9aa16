#!/usr/bin/python3
"""bench/train_step: PyTorch's side. One training step (forward, loss, backward, optimizer step)
of the two models issue 7 names, timed as bench/train_step.cpp times reel's, in Debian's
python3-torch. scripts/bench runs it and bench_train_step --torch FILE merges the numbers.

  /usr/bin/python3 bench/train_step_torch.py [--threads N] [--quick]

Output: "key nanoseconds-per-step" lines ("tcn", "tiny"), plus "threads N" and "torch VERSION".

The models (bench/train_step.cpp builds the same ones):
  tcn   4 residual blocks; each two weight-normed causal Conv1d(64->64, k=3) with dilation
        1, 2, 4, 8 per block, ReLU and Dropout(0.1) after each, the residual added and a
        ReLU (Bai et al. 2018's TemporalBlock, channels equal so no 1x1 downsample); a
        Linear(64->1) head on the last time step. Input (32, 64, 256), MSE loss, Adam(1e-3).
  tiny  Conv1d(8->8, k=3, padding=1) -> ReLU -> Conv1d(8->8, k=3, padding=1) -> mean over
        time -> MSE against a (1, 8) target; input (1, 8, 32); SGD(lr=0.01). Host overhead
        dominates this one.

Causal padding is written as PyTorch users write it: pad (k-1)*dilation on the left with
F.pad, then a Conv1d with padding 0 (reel's Conv1d has padding="causal" for it).

Timing: warm-up steps, then the median of `batches` batches of steps, each batch long enough
(~50 ms; tcn steps are long, so one step per batch) for the clock to be negligible. Run it with
MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 so glibc reuses freed
memory (scripts/bench does): first-touch page faults are very expensive in some VMs.
"""
import argparse
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import weight_norm


class CausalConv(nn.Module):
    def __init__(self, channels, k, dilation):
        super().__init__()
        self.left = (k - 1) * dilation
        self.conv = weight_norm(nn.Conv1d(channels, channels, k, dilation=dilation))

    def forward(self, x):
        return self.conv(F.pad(x, (self.left, 0)))


class Block(nn.Module):
    def __init__(self, channels, k, dilation, dropout):
        super().__init__()
        self.conv1 = CausalConv(channels, k, dilation)
        self.conv2 = CausalConv(channels, k, dilation)
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x):
        h = self.drop1(torch.relu(self.conv1(x)))
        h = self.drop2(torch.relu(self.conv2(h)))
        return torch.relu(x + h)


class TCN(nn.Module):
    def __init__(self, channels=64, k=3, dilations=(1, 2, 4, 8), dropout=0.1):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(channels, k, d, dropout) for d in dilations])
        self.head = nn.Linear(channels, 1)

    def forward(self, x):
        return self.head(self.blocks(x)[:, :, -1])


def tiny_model():
    return nn.Sequential(nn.Conv1d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv1d(8, 8, 3, padding=1))


def time_steps(step, quick):
    warmup, batches, target = (1, 3, 0.005) if quick else (3, 15, 0.05)
    for _ in range(warmup):
        step()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        t = time.perf_counter() - t0
        if t >= target or quick:
            break
        n = max(n + 1, int(n * 1.2 * target / max(t, 1e-9)))
    per = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        per.append((time.perf_counter() - t0) / n)
    return statistics.median(per) * 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    tcn = TCN()
    tcn.train()
    x = torch.randn(32, 64, 256)
    y = torch.randn(32, 1)
    opt = torch.optim.Adam(tcn.parameters(), lr=1e-3)

    def tcn_step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(tcn(x), y)
        loss.backward()
        opt.step()

    tiny = tiny_model()
    xs = torch.randn(1, 8, 32)
    ys = torch.randn(1, 8)
    sgd = torch.optim.SGD(tiny.parameters(), lr=0.01)

    def tiny_step():
        sgd.zero_grad(set_to_none=True)
        loss = F.mse_loss(tiny(xs).mean(dim=2), ys)
        loss.backward()
        sgd.step()

    print(f"threads {args.threads}")
    print(f"torch {torch.__version__}")
    print(f"tcn {time_steps(tcn_step, args.quick):.0f}")
    print(f"tiny {time_steps(tiny_step, args.quick):.0f}")


if __name__ == "__main__":
    main()
