#!/usr/bin/env python3
"""Training throughput of the examples beside their PyTorch twins (issue 10's users' number).

Runs each example for a fixed number of training steps and its PyTorch twin (examples/pytorch/)
for the same steps, at the same thread count, and prints the training samples/s each reports
(training steps only: both leave out evaluation and data preparation) and the ratio.

    bench/examples_throughput.py --bin DIR [--threads N] [--quick] [--no-torch]

DIR holds the built examples (fashion_mnist, tcn_adding). The PyTorch side is /usr/bin/python3
(Debian's python3-torch); run this script with MALLOC_MMAP_THRESHOLD_=33554432
MALLOC_TRIM_THRESHOLD_=68719476736 in its environment so that glibc reuses freed memory on the
PyTorch side (scripts/bench does; docs/benchmarks.md explains why). Rounds: each side runs
`--rounds` times (default 3) alternating, and the best rate of each is reported, since this
VM's second core is shared with other guests.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def rate_of(output, program):
    """The training samples/s of the last line that reports it."""
    for line in reversed(output.splitlines()):
        m = re.search(r"([0-9.]+) samples/s|samples/s ([0-9.]+)", line)
        if m:
            return float(m.group(1) or m.group(2))
    sys.exit(f"examples_throughput: {program} printed no samples/s:\n{output[-2000:]}")


def run(cmd, program):
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        sys.exit(f"examples_throughput: {' '.join(cmd)} failed ({done.returncode}):\n"
                 f"{done.stdout[-2000:]}")
    return rate_of(done.stdout, program)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="folder of the built examples")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a few steps each: a smoke run")
    ap.add_argument("--no-torch", action="store_true", help="reel's side only")
    a = ap.parse_args()
    t = str(a.threads)
    fm_steps = 4 if a.quick else 150      # batches of 128: 19,200 images
    tcn_steps = 4 if a.quick else 200     # batches of 32 sequences of T = 200
    rounds = 1 if a.quick else a.rounds
    out = tempfile.mkdtemp(prefix="reel_examples_")
    py = "/usr/bin/python3"
    examples = [
        ("fashion_mnist (batch 128, 1 epoch cut at %d steps)" % fm_steps,
         [os.path.join(a.bin, "fashion_mnist"), "--epochs", "1", "--max-steps", str(fm_steps),
          "--eval-batches", "1", "--no-plot", "--threads", t, "--out", os.path.join(out, "fm")],
         [py, os.path.join(ROOT, "examples/pytorch/fashion_mnist.py"), "--epochs", "1",
          "--max-steps", str(fm_steps), "--threads", t]),
        ("tcn_adding (T 200, batch 32, %d steps)" % tcn_steps,
         [os.path.join(a.bin, "tcn_adding"), "--max-steps", str(tcn_steps), "--log-interval",
          str(tcn_steps), "--threads", t, "--out", os.path.join(out, "tcn")],
         [py, os.path.join(ROOT, "examples/pytorch/tcn_adding.py"), "--max-steps", str(tcn_steps),
          "--log-interval", str(tcn_steps), "--threads", t, "--out", os.path.join(out, "tcn_torch")]),
    ]
    torch = not a.no_torch
    print(f"Training throughput (training steps only), best of {rounds} alternating rounds; "
          f"threads: reel {t}" + (f", PyTorch {t} (/usr/bin/python3, glibc malloc "
                                  f"{'warm' if os.environ.get('MALLOC_MMAP_THRESHOLD_') else 'defaults'})"
                                  if torch else "") + ".")
    print()
    print("| example | reel samples/s | PyTorch samples/s | reel / PyTorch samples/s |")
    print("|---|---:|---:|---:|")
    for name, reel_cmd, torch_cmd in examples:
        best_reel = best_torch = 0.0
        for _ in range(rounds):
            best_reel = max(best_reel, run(reel_cmd, reel_cmd[0]))
            if torch:
                best_torch = max(best_torch, run(torch_cmd, torch_cmd[1]))
        if torch:
            print(f"| {name} | {best_reel:,.0f} | {best_torch:,.0f} | {best_reel / best_torch:.2f} |")
        else:
            print(f"| {name} | {best_reel:,.0f} | — | — |")
    if a.quick:
        print("\n(--quick: a smoke run of a few steps; these figures are not a measurement.)")


if __name__ == "__main__":
    main()
