#!/usr/bin/python3
"""The PyTorch twin of examples/fashion_mnist.cpp: the same network, data, initialisation,
optimizer, schedule and hyper-parameters, so the two can be compared (docs/benchmarks.md).

Each 28x28 image is read as a sequence of 28 rows (L = 28) of 28 features (C_in = 28):

    Conv1d(28, 64, 3, padding=1) + BatchNorm1d + ReLU     L = 28
    MaxPool1d(2)                                          L = 14
    Conv1d(64, 128, 3, padding=1) + BatchNorm1d + ReLU
    MaxPool1d(2)                                          L = 7
    Conv1d(128, 128, 3, padding=1) + BatchNorm1d + ReLU
    AdaptiveAvgPool1d(1), Flatten, Dropout(0.2), Linear(128, 10)

trained with Adam + OneCycleLR (stepped per batch) and cross-entropy, 5 epochs of batches of
128. About 0.84 M multiply-adds per image forward (~5 MFLOP per training sample, forward
and backward).

Run with Debian's python3-torch (no torchvision needed: the gzip IDX files are read with
gzip + struct + numpy):

    MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 \
        /usr/bin/python3 examples/pytorch/fashion_mnist.py [--epochs 5] [--seed 0] ...
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Mean and standard deviation of the training images' pixels in [0, 1]; the reel example uses
# the same constants.
MEAN, STD = 0.2860, 0.3530


def read_idx(path, expect_magic, expect_dims):
    """Reads one gzip IDX file; validates magic, dims and size against the file length."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 + 4 * len(expect_dims):
        sys.exit(f"{path}: truncated header ({len(raw)} bytes)")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expect_magic:
        sys.exit(f"{path}: magic {magic:#x}, expected {expect_magic:#x}")
    dims = struct.unpack(">" + "I" * len(expect_dims), raw[4:4 + 4 * len(expect_dims)])
    for d, e in zip(dims, expect_dims):
        if e is not None and d != e:
            sys.exit(f"{path}: dims {dims}, expected {expect_dims}")
    start = 4 + 4 * len(dims)
    if len(raw) - start != int(np.prod(dims)):
        sys.exit(f"{path}: {len(raw) - start} data bytes, dims {dims} need {int(np.prod(dims))}")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def load(data_dir, train):
    prefix = "train" if train else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"),
                      0x803, (None, 28, 28))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, (None,))
    if len(images) != len(labels):
        sys.exit(f"{prefix}: {len(images)} images but {len(labels)} labels")
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    # [N, rows, cols] -> [N, C = cols (features), L = rows (time)], once for the whole set;
    # normalised as the reel example does.
    x = ((x - MEAN) / STD).transpose(1, 2).contiguous()
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def block(c_in, c_out):
    return [nn.Conv1d(c_in, c_out, 3, padding=1), nn.BatchNorm1d(c_out), nn.ReLU()]


def make_model(dropout):
    return nn.Sequential(
        *block(28, 64), nn.MaxPool1d(2),
        *block(64, 128), nn.MaxPool1d(2),
        *block(128, 128),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(128, 10))


@torch.no_grad()
def evaluate(model, x, y, batch_size):
    model.eval()
    correct, loss_sum = 0, 0.0
    for i in range(0, len(x), batch_size):
        out = model(x[i:i + batch_size])
        loss_sum += F.cross_entropy(out, y[i:i + batch_size], reduction="sum").item()
        correct += (out.argmax(1) == y[i:i + batch_size]).sum().item()
    model.train()
    return loss_sum / len(x), correct / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-3, help="OneCycleLR's max_lr")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all)")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train = load(args.data_dir, True)
    x_test, y_test = load(args.data_dir, False)
    model = make_model(args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(x_train)} training, {len(x_test)} test images; {n_params} parameters; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    steps_per_epoch = len(x_train) // args.batch_size  # drop_last, as the reel example
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(args.seed)
    train_time, samples, step = 0.0, 0, 0
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(len(x_train), generator=gen)
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(yb)
            correct += (out.argmax(1) == yb).sum().item()
            seen += len(yb)
            step += 1
            if args.max_steps and step >= args.max_steps:
                break
        dt = time.perf_counter() - t0
        train_time += dt
        samples += seen
        test_loss, test_acc = evaluate(model, x_test, y_test, 1000)
        print(f"epoch {epoch}/{args.epochs}  loss {loss_sum / seen:.4f}  "
              f"acc {100 * correct / seen:.2f}%  test loss {test_loss:.4f}  "
              f"test acc {100 * test_acc:.2f}%  {seen / dt:.0f} samples/s  {dt:.1f} s",
              flush=True)
        if args.max_steps and step >= args.max_steps:
            break
    print(f"test accuracy {100 * test_acc:.2f}%  training {train_time:.1f} s  "
          f"{samples / train_time:.0f} samples/s")


if __name__ == "__main__":
    main()
