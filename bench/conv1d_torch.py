#!/usr/bin/python3
"""bench/conv1d: PyTorch's side, in Debian's python3-torch (1.13) — the primary anchor of
bench_conv1d (what reel's users run today). The same convolutions as reel's side, timed the
same way, and written in the results-file format bench_conv1d --torch FILE reads.

  bench_conv1d --list-cases [--quick] > cases.txt
  MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 \
    /usr/bin/python3 bench/conv1d_torch.py --cases cases.txt --threads N > torch.txt
  bench_conv1d --threads N --torch torch.txt

The shapes come from one place, bench/conv1d_cases.hpp: `bench_conv1d --list-cases` prints
them (a "key N Cin Cout L K stride pad_left pad_right dilation groups" line per case; --cases -
reads them from stdin), so this script has no list of its own.

What is timed, as bench/conv1d.cpp times reel:
  fwd      under torch.no_grad(): y = F.conv1d(x, w, b, ...)
  fwd+bwd  x, weight and bias require grad; their .grad set to None before each step (as
           reel's zero_grad, set_to_none), then y = F.conv1d(...); y.backward(gy), gy a fixed
           random tensor of y's shape made once outside the timing.
Causal padding (pad_left = dilation * (K - 1), pad_right = 0): PyTorch's Conv1d has none, so
the input is padded with F.pad(x, (pad_left, pad_right)) and convolved with padding 0, as
PyTorch users write it (the pad's copy, and its backward, are part of what they run; reel pads
causally inside its kernel). Symmetric padding goes to F.conv1d's own padding argument.

Timing (bench/timer.hpp's method with conv1d_cases.hpp's settings): one warm-up call, the batch
grown until it lasts about 20 ms, then the median of 11 batches (--quick: 3 batches of about
0.2 ms). Python's per-call cost (~10 µs) is part of the figure: it is what a python3-torch user
pays; it matters only for the smallest cases.

malloc: glibc serves large blocks with fresh mmap'd pages and returns them on free, and
first-touch page faults are very expensive in some VMs, so PyTorch's kernels are compared with
the environment variables above (freed memory is reused, as reel's caching allocator does);
run without them for what an untuned user sees (scripts/bench runs both). The output says which.

Output: "key nanoseconds" lines ("<case>_fwd", "<case>_fwdbwd"), "<case>_<pass>_faults F" (minor
page faults per call, measured over 3 calls after the timing), and "threads N",
"default_threads N" (torch.get_num_threads() before set_num_threads), "malloc_tuned 0|1",
"torch_version V", "mkldnn 0|1".

--device cuda (issue 11; PyTorch 2.11 on the GPU machine, run by scripts/gpu_check):

  bench_conv1d --list-cases > cases.txt
  python3 bench/conv1d_torch.py --device cuda --cases cases.txt > torch_cuda.txt
  bench_conv1d --device cuda --torch torch_cuda.txt

The same cases and passes on CUDA tensors (drawn on the GPU), with
torch.backends.cudnn.benchmark = True (cuDNN times its algorithms at the first call of each
shape, the warm-up call, and keeps the fastest) and each timed batch between two
torch.cuda.synchronize() calls, as bench_conv1d --device cuda times reel. TF32: PyTorch's
defaults, stated in the output: cudnn.allow_tf32 True (float32 convolutions may run on TF32
tensor cores), matmul.allow_tf32 False; --no-tf32 turns cudnn.allow_tf32 off (give
bench_conv1d --no-tf32 too). No page-fault lines (the allocator is CUDA's caching one). Extra
output: "device cuda", "gpu_name", "cuda_version", "cudnn_version", "cudnn_benchmark 0|1",
"cudnn_allow_tf32 0|1", "matmul_allow_tf32 0|1", "cudnn_deterministic 0|1".
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def read_cases(path):
    stream = sys.stdin if path == "-" else open(path)
    cases = []
    with stream:
        for line in stream:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 11:
                sys.exit(f"conv1d_torch.py: {path}: expected 11 fields (key N Cin Cout L K stride "
                         f"pad_left pad_right dilation groups), got {len(fields)}: {line!r}")
            key = fields[0]
            try:
                n, cin, cout, length, k, stride, pl, pr, dil, groups = map(int, fields[1:])
            except ValueError:
                sys.exit(f"conv1d_torch.py: {path}: a non-integer field in {line!r}")
            cases.append((key, n, cin, cout, length, k, stride, pl, pr, dil, groups))
    if not cases:
        sys.exit(f"conv1d_torch.py: {path}: no cases (run bench_conv1d --list-cases)")
    return cases


def median_ns_per_call(fn, quick, sync=None):
    """sync: torch.cuda.synchronize on CUDA (called before and after each batch), else None."""
    batches, target = (3, 0.0002) if quick else (11, 0.020)

    def time_batch(n):
        if sync:
            sync()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if sync:
            sync()
        return time.perf_counter() - t0

    time_batch(1)  # warm-up: first-touch allocations, oneDNN primitive creation, caches
    n = 1
    t = time_batch(n)
    while t < target and n < (1 << 30):
        n = n * 10 if t <= 0 else max(n + 1, int(n * 1.2 * target / t))
        t = time_batch(n)
    return statistics.median(time_batch(n) / n for _ in range(batches)) * 1e9


def faults_per_call(fn, calls=3):
    """Minor page faults (first touches of fresh pages) per call, over a few more calls after
    the timing: about 0 with the allocator warm, thousands per call when glibc hands out fresh
    mmap'd pages for every large tensor."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", required=True, help="bench_conv1d --list-cases output ('-': stdin)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--no-tf32", action="store_true",
                    help="CUDA: cudnn.allow_tf32 False (PyTorch's default is True)")
    args = ap.parse_args()

    cases = read_cases(args.cases)
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("conv1d_torch.py: --device cuda: torch.cuda.is_available() is False")
    print(f"default_threads {torch.get_num_threads()}")
    torch.set_num_threads(args.threads)
    print(f"threads {torch.get_num_threads()}")
    print(f"malloc_tuned {int('MALLOC_MMAP_THRESHOLD_' in os.environ)}")
    print(f"torch_version {torch.__version__}")
    print(f"mkldnn {int(torch.backends.mkldnn.is_available())}")
    sync = None
    if cuda:
        torch.backends.cudnn.benchmark = True
        if args.no_tf32:
            torch.backends.cudnn.allow_tf32 = False
        sync = torch.cuda.synchronize
        print("device cuda")
        print(f"gpu_name {torch.cuda.get_device_name(0).replace(' ', '_')}")
        print(f"cuda_version {torch.version.cuda}")
        print(f"cudnn_version {torch.backends.cudnn.version()}")
        print(f"cudnn_benchmark {int(torch.backends.cudnn.benchmark)}")
        print(f"cudnn_allow_tf32 {int(torch.backends.cudnn.allow_tf32)}")
        print(f"matmul_allow_tf32 {int(torch.backends.cuda.matmul.allow_tf32)}")
        print(f"cudnn_deterministic {int(torch.backends.cudnn.deterministic)}", flush=True)
    device = torch.device(args.device)
    torch.manual_seed(0)

    for key, n, cin, cout, length, k, stride, pl, pr, dil, groups in cases:
        if pl == pr:
            def conv(x, w, b):
                return F.conv1d(x, w, b, stride=stride, padding=pl, dilation=dil, groups=groups)
        else:
            def conv(x, w, b):
                return F.conv1d(F.pad(x, (pl, pr)), w, b, stride=stride, dilation=dil,
                                groups=groups)
        x = torch.randn(n, cin, length, device=device)
        w = torch.randn(cout, cin // groups, k, device=device)
        b = torch.randn(cout, device=device)
        with torch.no_grad():
            gy = torch.randn_like(conv(x, w, b))

        def fwd():
            with torch.no_grad():
                conv(x, w, b)

        xg, wg, bg = (t.clone().requires_grad_() for t in (x, w, b))

        def fwdbwd():
            xg.grad = wg.grad = bg.grad = None
            conv(xg, wg, bg).backward(gy)

        for suffix, fn in (("fwd", fwd), ("fwdbwd", fwdbwd)):
            print(f"{key}_{suffix} {median_ns_per_call(fn, args.quick, sync):.1f}", flush=cuda)
            if not cuda:
                print(f"{key}_{suffix}_faults {faults_per_call(fn):.0f}", flush=True)


if __name__ == "__main__":
    main()
