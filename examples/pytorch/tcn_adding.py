"""The TCN of Bai, Kolter & Koltun (2018) on the adding problem, in PyTorch: the twin of
examples/tcn_adding.cpp, with the same model, data layout, training loop and
hyper-parameters (the defaults of both are the same).

Model and loop as github.com/locuslab/TCN (TCN/tcn.py, TCN/adding_problem/{model,add_test}.py):
TemporalBlock = weight_norm(conv) -> chomp -> relu -> dropout, twice, a 1x1 downsample when the
channel counts differ, relu(out + residual); dilation 2^i at level i; Linear on the last step;
Adam; MSE; batches taken in order (no shuffle), the last one partial.

Initialisation, as the repository's *effective* one: init_weights() there calls
conv.weight.data.normal_(0, 0.01) after weight_norm(), which only overwrites the computed
`weight` attribute; the forward pre-hook recomputes it from weight_g and weight_v, so the two
weight-normed convolutions keep PyTorch's default (kaiming-uniform) v and g = ||v||. Only the
downsample and the final Linear weights are drawn from N(0, 0.01). We do the same, explicitly.

The data: the repository's distribution (values uniform in [0, 1), two distinct marked
positions uniform over all T, target their sum), drawn vectorised here; the random streams
differ from reel's, not the distributions.

  MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 \
    /usr/bin/python3 examples/pytorch/tcn_adding.py --threads 2
"""
import argparse
import csv
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import weight_norm


class Chomp1d(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x[:, :, :-self.s].contiguous()


class TemporalBlock(nn.Module):
    def __init__(self, n_in, n_out, k, dilation, dropout):
        super().__init__()
        pad = (k - 1) * dilation
        self.conv1 = weight_norm(nn.Conv1d(n_in, n_out, k, padding=pad, dilation=dilation))
        self.conv2 = weight_norm(nn.Conv1d(n_out, n_out, k, padding=pad, dilation=dilation))
        self.net = nn.Sequential(self.conv1, Chomp1d(pad), nn.ReLU(), nn.Dropout(dropout),
                                 self.conv2, Chomp1d(pad), nn.ReLU(), nn.Dropout(dropout))
        self.downsample = nn.Conv1d(n_in, n_out, 1) if n_in != n_out else None
        self.relu = nn.ReLU()
        # (locuslab's normal_ on conv1/conv2.weight is a no-op after weight_norm; see above)
        if self.downsample is not None:
            self.downsample.weight.data.normal_(0, 0.01)

    def forward(self, x):
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class TCN(nn.Module):
    def __init__(self, n_in, n_out, channels, k, dropout):
        super().__init__()
        layers = [TemporalBlock(n_in if i == 0 else channels[i - 1], c, k, 2 ** i, dropout)
                  for i, c in enumerate(channels)]
        self.tcn = nn.Sequential(*layers)
        self.linear = nn.Linear(channels[-1], n_out)
        self.linear.weight.data.normal_(0, 0.01)

    def forward(self, x):
        return self.linear(self.tcn(x)[:, :, -1])


def adding(n, T, g):
    """inputs [n, 2, T]: row 0 uniform [0, 1), row 1 ones at two distinct positions uniform
    over all T (as np.random.choice(T, 2, replace=False)); targets [n, 1]: their sum."""
    num = torch.rand(n, 1, T, generator=g)
    p1 = torch.randint(0, T, (n,), generator=g)
    p2 = torch.randint(0, T - 1, (n,), generator=g)
    p2 = p2 + (p2 >= p1).long()  # uniform over the T - 1 positions other than p1
    mask = torch.zeros(n, 1, T)
    rows = torch.arange(n)
    mask[rows, 0, p1] = 1
    mask[rows, 0, p2] = 1
    y = (num[rows, 0, p1] + num[rows, 0, p2]).unsqueeze(1)
    return torch.cat([num, mask], 1), y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--T', type=int, default=200)
    ap.add_argument('--n-train', type=int, default=50000)
    ap.add_argument('--n-test', type=int, default=1000)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--lr', type=float, default=4e-3)
    ap.add_argument('--levels', type=int, default=6)
    ap.add_argument('--nhid', type=int, default=30)
    ap.add_argument('--k', type=int, default=7)
    ap.add_argument('--dropout', type=float, default=0.0)
    ap.add_argument('--clip', type=float, default=-1, help='gradient norm clip, <= 0: none')
    ap.add_argument('--log-interval', type=int, default=100)
    ap.add_argument('--max-steps', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1111)
    ap.add_argument('--out', default='runs/tcn_adding_torch')
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rf = 1 + 2 * (a.k - 1) * (2 ** a.levels - 1)
    print(f'receptive field {rf} for T = {a.T}' + ('' if rf >= a.T else '  (too short!)'))
    g = torch.Generator().manual_seed(a.seed)
    xtr, ytr = adding(a.n_train, a.T, g)
    xte, yte = adding(a.n_test, a.T, g)
    model = TCN(2, 1, [a.nhid] * a.levels, a.k, a.dropout)
    print(f'{sum(p.numel() for p in model.parameters())} parameters')
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)

    def test_mse():
        model.eval()
        with torch.no_grad():
            r = F.mse_loss(model(xte), yte).item()
        model.train()
        return r

    os.makedirs(a.out, exist_ok=True)
    rows = []
    step, seen, below = 0, 0, None
    t_train = 0.0
    t0 = time.time()
    done = False
    for ep in range(a.epochs):
        model.train()
        for i in range(0, a.n_train, a.batch):
            ts = time.time()
            x, y = xtr[i:i + a.batch], ytr[i:i + a.batch]
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            if a.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step()
            lv = loss.item()
            t_train += time.time() - ts
            step += 1
            seen += x.shape[0]
            if step % a.log_interval == 0:
                tl = test_mse()
                if below is None and tl < 0.01:
                    below = step
                rows.append((step, ep + 1, lv, tl, seen / t_train, time.time() - t0))
                print(f'epoch {ep + 1} step {step} train {lv:.6f} test {tl:.6f} '
                      f'{seen / t_train:.0f} samples/s', flush=True)
            if a.max_steps and step >= a.max_steps:
                done = True
                break
        if done:
            break
    # The last step's evaluation, unless the loop just did it.
    tl = rows[-1][3] if rows and rows[-1][0] == step else test_mse()
    if below is None and tl < 0.01:
        below = step
    wall = time.time() - t0
    if not rows or rows[-1][0] != step:
        rows.append((step, ep + 1, lv, tl, seen / t_train, wall))
    with open(os.path.join(a.out, 'metrics.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['step', 'epoch', 'train_loss', 'test_mse', 'samples_per_s', 'wall_s'])
        w.writerows(rows)
    print(f'final test mse {tl:.6f} steps {step} wall {wall:.1f}s '
          f'train samples/s {seen / t_train:.0f} first step with test mse < 0.01: {below}')


if __name__ == '__main__':
    main()
