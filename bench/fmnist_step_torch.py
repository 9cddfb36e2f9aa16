#!/usr/bin/python3
"""python3-torch's side of bench/fmnist_step.cpp: the Fashion-MNIST example's training step
(examples/pytorch/fashion_mnist.py's network, batch 128, random data), whole and layer by layer,
timed the same way (median of batches of calls). Run with Debian's python3-torch and a warm
allocator, as docs/benchmarks.md says:

    MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 \\
        /usr/bin/python3 bench/fmnist_step_torch.py [--threads 2] [--batch 128]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median_ns(fn, batches=11, target=0.02):
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
        if t >= target:
            break
        n = max(n + 1, int(n * 1.2 * target / max(t, 1e-9)))
    times = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    times.sort()
    return times[len(times) // 2] * 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers = []
    c_in = 28
    for block, c_out in enumerate((64, 128, 128), start=1):
        layers.append((f"conv{block} {c_in}→{c_out}", nn.Conv1d(c_in, c_out, 3, padding=1)))
        layers.append((f"bn{block}", nn.BatchNorm1d(c_out)))
        layers.append((f"relu{block}", nn.ReLU()))
        if block < 3:
            layers.append((f"maxpool{block}", nn.MaxPool1d(2)))
        c_in = c_out
    layers.append(("avgpool+flatten", nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())))
    layers.append(("dropout", nn.Dropout(0.2)))
    layers.append(("linear", nn.Linear(c_in, 10)))
    model = nn.Sequential(*[m for _, m in layers])
    adam = torch.optim.Adam(model.parameters(), lr=5e-3)
    x = torch.randn(args.batch, 28, 28)
    labels = torch.randint(0, 10, (args.batch,))

    def step():
        loss = F.cross_entropy(model(x), labels)
        adam.zero_grad()
        loss.backward()
        adam.step()

    def fwd():
        return F.cross_entropy(model(x), labels)

    def fwdbwd():
        loss = F.cross_entropy(model(x), labels)
        adam.zero_grad()
        loss.backward()

    s, f, fb, a = median_ns(step), median_ns(fwd), median_ns(fwdbwd), median_ns(adam.step)
    print(f"python3-torch {torch.__version__}, batch {args.batch}, {args.threads} threads\n")
    print("| part | ms |\n|---|---:|")
    print(f"| whole step | {s * 1e-6:.3f} ({args.batch / (s * 1e-9):.0f} samples/s) |")
    print(f"| forward + loss | {f * 1e-6:.3f} |\n| backward (+ zero_grad) | {(fb - f) * 1e-6:.3f} |")
    print(f"| Adam step | {a * 1e-6:.3f} |\n")
    print("| layer | input | fwd ms | fwd+bwd ms |\n|---|---|---:|---:|")
    h = x
    for name, m in layers:
        inp = h.detach().clone().requires_grad_()
        with torch.no_grad():
            out = m(h)
        gy = torch.randn_like(out)

        def lf():
            return m(inp)

        def lfb():
            inp.grad = None
            m(inp).backward(gy)

        shape = "x".join(str(d) for d in inp.shape)
        print(f"| {name} | {shape} | {median_ns(lf) * 1e-6:.3f} | {median_ns(lfb) * 1e-6:.3f} |")
        h = out


if __name__ == "__main__":
    main()
