#!/usr/bin/python3
"""Golden values for reel's half dtypes (float16, bfloat16, complex32), made by PyTorch 1.13.

tests/tensor/test_low_precision.cpp checks the casts, promotion, elementwise ops and reductions;
tests/nn/test_conv1d_half_golden.cpp checks Conv1d, matmul and Linear.

Run with Debian's python3-torch (1.13) and python3-numpy (1.24), from anywhere:

    /usr/bin/python3 tests/nn/golden/make_low_precision_golden.py

(the interpreter matters: a pyenv `python3` earlier on PATH has no torch). Deterministic (fixed
seeds for torch and numpy); the output is committed, so the C++ tests need no PyTorch.

Encoding. Every float16/bfloat16 value (input or result) is stored as its 16-bit pattern,
`t.view(torch.int16)`, in an int16 .npy (reel's load_npy reads it as int64: take the low 16
bits), so the comparisons are bit-exact where they should be and NaN payloads survive. float32
values whose bits matter (cast inputs, NaN payloads) are stored as int32 bit patterns for the same
reason. Everything goes into tests/nn/golden/low_precision/.

Casts (all by `Tensor.to(dtype)` on the CPU; results are bit-exact goldens):
  cast_f32_in.npy        int32: float32 bit patterns: a curated list (see CURATED_* below: ties
                         both ways, just above/below ties, max finite, the round-up-to-inf
                         boundary, overflow, -0, +-inf, quiet/signalling/payload/negative NaNs,
                         the normal/subnormal boundary, smallest subnormal and half of it,
                         subnormal ties, for both float16 and bfloat16) then 4096 random bit
                         patterns with the exponent uniform over 0..255 and 2048 random values in
                         float16's range.
  cast_f32_to_f16.npy    int16: the float16 bits of each          (PyTorch: c10::Half(float))
  cast_f32_to_bf16.npy   int16: the bfloat16 bits of each         (round to nearest even)
  NaN bits: a NaN result is to be compared as "a NaN", not bit for bit: PyTorch's own NaN bits
  depend on the code path (float32 -> bfloat16 gives 0xffff for any NaN in a 1-D tensor, its
  vectorized conversion, but 0x7fc0 for a 0-d tensor or from float64, c10::BFloat16's scalar
  one; float16 -> float32 quiets a signalling NaN). What the files must catch is a NaN that
  turns into an infinity (truncating 0x7f800001 to bfloat16 gives 0x7f80) or a number.
  cast_f64_in.npy        float64: curated double-rounding cases (values just off a float16 or
                         bfloat16 tie that float32 rounds onto the tie) and 2048 random values.
  cast_f64_to_f16.npy / cast_f64_to_bf16.npy   int16 bits. PyTorch rounds double -> float32 ->
                         half, so the double-rounding cases do NOT give the correctly rounded
                         value; reel must do the same.
  cast_f16_all_to_f32.npy  int32: float32 bits of float16 bit pattern i, for all 65536 i.
  cast_f16_all_to_bf16.npy int16: bfloat16 bits of float16 bit pattern i, for all 65536 i.
  cast_bf16_in.npy         int16: 8192 bfloat16 bit patterns (all exponents 0, 1, 0x7e..0x80,
                           0xfe, 0xff with every mantissa, i.e. subnormals, around 1, the largest
                           finite, inf and every NaN, both signs; the rest random).
  cast_bf16_to_f32.npy     int32: their float32 bits.
  cast_bf16_to_f16.npy     int16: their float16 bits.
  cast_to_int_in_f16.npy / cast_to_int_in_bf16.npy  int16: half values for the half -> integer
                           casts (fractions, negatives, wrap-around, out of range, +-inf, NaN).
  cast_<f16|bf16>_to_<int64|int32|int16|uint8|bool>.npy  int64: the results (bool as 0/1).
                           Out of range and NaN are UB in C++; the values are what PyTorch gives
                           on x86 (through int64 / int32 and wrapping), which reel pins.
  cast_int64_in.npy / cast_int32_in.npy   int64 values (integers that round, ties, large).
  cast_<int64|int32>_to_<f16|bf16>.npy    int16 bits. (PyTorch: static_cast<float>(int) first, so
                           int64 -> bfloat16 can double-round; curated cases included.)
  cast_c64_in.npy          complex64 values; cast_c64_c32_c64.npy: complex64 after a round trip
                           through complex32 (each part rounded to float16 as above).

Promotion (text):
  promote_types.txt   one line per ordered pair of reel's 13 dtypes: "a b torch.promote_types(a,b)".
  result_type.txt     "lhs_kind lhs rhs_kind rhs result" with kinds tensor (1-D), zerodim (0-d
                      tensor) and scalar (python bool/int/float/complex; the dtype column says which).

Elementwise ops and reductions:
  ew_<dt>_a.npy, ew_<dt>_b.npy    int16: the inputs (dt = float16 | bfloat16), 1-D, 1024 values
                   including +-0, +-inf, NaN, subnormals, the extremes, and random values of
                   every magnitude; b is mostly random with a block of specials.
  ew_<dt>_<op>.npy int16: the result of op(a) or op(a, b).
  ew_index.txt     "op dtype source ulps far": source is `torch` where 1.13 computes the op in that
                   dtype on the CPU (float32 arithmetic, rounded once per element by ATen), or
                   `float32_rounded` where 1.13 raises "not implemented for 'Half'" (then the
                   value is op(a.float(), b.float()).to(dt)). ulps: the allowed distance in
                   units in the last place of dt: 0 for ops float32 computes correctly rounded
                   (add, sub, mul, div, sqrt, neg, abs, relu, maximum, minimum, square: both
                   sides round the same float32 value once), 1 for the transcendental ones
                   (exp, log, tanh, sigmoid, gelu, silu, sin, cos, erf, pow, reciprocal is
                   exact: 0), whose float32 values may differ by a float32 ulp between libms,
                   which can move the rounded result by one ulp of dt. NaN must be NaN (any
                   payload); for ulps > 0, +0 and -0 are equal. The script checks that
                   PyTorch's result of the ulps-0 ops is its float32 result rounded once.
  ew_<dt>_<op>_f64.npy  int16, for the ulps-1 ops only: op computed in float64 on the same
                   inputs, rounded to dt. The test accepts a value within 1 ulp of PyTorch's own
                   OR of this one: float32 evaluations of these functions differ far in their
                   tails (1 + erf(x/sqrt2) cancels in gelu below about -5, exp overflows in
                   silu below about -89) and at the smallest normals and subnormals (1.13's
                   vectorized bfloat16 gelu and silu flush them: gelu(2^-126) gives 0, not
                   2^-127), where either answer is a defensible float32 opmath result.
                   far: how many elements of PyTorch's own result are more than 1 ulp from the
                   float64 one (informational).
  red_index.txt    "id op dtype shape dim source rtol atol input": op sum | mean | softmax |
                   log_softmax; dim -1 = over everything (sum/mean), else that dim. Files
                   red_<input>_in.npy (shared by the cases naming it), red_<id>_out.npy
                   (int16 bits). Tolerance: reel and ATen both
                   accumulate in float32 but in different orders: |difference| <=
                   2 * n * 2^-24 * sum|x| (n the reduction length) before the final rounding,
                   plus one ulp of dt after it (rtol = 2^-7 for bfloat16, 2^-10 for float16);
                   mean divides both by n. softmax: rtol one ulp plus 2^-20 absolute (exp's
                   float32 error times the length).

Conv1d, matmul, Linear:
  conv_index.txt   one line per configuration:
      id dtype N C_in C_out L K stride padding dilation groups bias padding_mode L_out source
      rtol atol_out atol_grad_input atol_grad_weight atol_grad_bias
    (fields as tests/nn/golden/conv1d/index.txt, then:) source: `torch` where PyTorch 1.13 runs
    the whole forward and backward in that dtype on the CPU (bfloat16 with zeros or circular
    padding), else `float64_rounded`: the float64 result of the same inputs rounded to the dtype
    (float16: 1.13 has no Half conv on the CPU; bfloat16 reflect/replicate: 1.13 has no BFloat16
    reflection/replication pad). The script checks that every `torch` result lies within the
    tolerance of the float64 one.
  conv_<id>.npy    int16 bits, concatenated: input, weight, [bias], grad_output, output,
                   grad_input, grad_weight, [grad_bias] (as in conv1d/).
  mm_index.txt     "id kind dtype shape_a shape_b bias source rtol atol_out atol_ga atol_gb
                   atol_gbias": kind matmul (a @ b, shapes "2x3x4") or linear (a: input,
                   b: weight (out, in), bias (out) when bias=1). mm_<id>.npy: a, b, [bias],
                   grad_output, output, grad_a, grad_b, [grad_bias].

Tolerances of the Conv1d / matmul / Linear cases (derived; written per case into the index):
  for each output element y = sum_i p_i over n products, reel accumulates in float32: its value
  before rounding is within n * 2^-24 * S of the exact one, S = sum_i |p_i| (bias included);
  PyTorch's own float32 accumulation is within the same bound, the float64 reference within a
  negligible one. So before the final rounding the two differ by at most c * n * 2^-24 * S
  (c = 2 against a `torch` result, 1 against `float64_rounded`); rounding both to the dtype adds
  at most one ulp of the result (rtol = 2^-7 for bfloat16, 2^-10 for float16: the largest
  relative spacing). n and S are computed per element (n by running the same conv/matmul on all
  ones, S on |x|, |w|, |grad_output|) and the atol is the maximum of c * n * S * 2^-24 over the
  tensor, plus the smallest subnormal of the dtype. With a padding mode other than zeros the
  grad_input of an edge element is the sum of two rounded partial gradients (the conv's
  gradient of the padded input, then the pad's backward) in reel and in PyTorch alike, one
  extra rounding bounded by u * S (u = 2^-8 for bfloat16, 2^-11 for float16), added to
  atol_grad_input in those modes.
"""
import math
import os
import struct
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "low_precision")
F16, BF16 = torch.float16, torch.bfloat16
NAMES = {F16: "float16", BF16: "bfloat16"}
# rtol: one ulp relative (the largest spacing relative to the value); u: unit roundoff.
RTOL = {F16: 2.0 ** -10, BF16: 2.0 ** -7}
UNIT = {F16: 2.0 ** -11, BF16: 2.0 ** -8}
TINY = {F16: 2.0 ** -24, BF16: 2.0 ** -133}  # smallest subnormal
U32 = 2.0 ** -24

written = []


def save(name, array):
    path = os.path.join(OUT, name)
    np.save(path, array)
    written.append(name)


def bits16(t):
    return t.contiguous().view(torch.int16).numpy().copy()


def f32_from_bits(bits):
    return torch.from_numpy(np.array(bits, dtype=np.uint32).view(np.int32)).view(torch.float32)


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def next_up32(x):
    return float(np.nextafter(np.float32(x), np.float32(np.inf)))


def next_down32(x):
    return float(np.nextafter(np.float32(x), np.float32(-np.inf)))


# --- casts ---------------------------------------------------------------------------------------

def curated_f32():
    v = []
    # float16 (10 explicit mantissa bits): ties at 1 + odd * 2^-11.
    for base in (1.0, 2.0 ** 10, 2.0 ** -5):
        for odd in (1, 3, 5, 1023):
            t = base * (1 + odd * 2.0 ** -11)
            v += [t, next_up32(t), next_down32(t), -t]
    # bfloat16 (7 explicit bits): ties at 1 + odd * 2^-8.
    for base in (1.0, 2.0 ** 100, 2.0 ** -100):
        for odd in (1, 3, 5, 255):
            t = base * (1 + odd * 2.0 ** -8)
            v += [t, next_up32(t), next_down32(t), -t]
    # float16 extremes: max finite 65504, the round-to-inf boundary 65520 (a tie: rounds to even,
    # i.e. up to inf), just below it, overflow.
    v += [65504.0, 65505.0, 65519.0, next_down32(65520.0), 65520.0, next_up32(65520.0), 65536.0,
          1e5, -65504.0, -65520.0, -1e5, 3.4028234663852886e38]
    # bfloat16 extremes: max finite (2 - 2^-7) 2^127, the boundary (2 - 2^-8) 2^127 (a tie: to
    # inf), just below.
    bmax = (2 - 2.0 ** -7) * 2.0 ** 127
    bnd = (2 - 2.0 ** -8) * 2.0 ** 127
    v += [bmax, next_up32(bmax), next_down32(bnd), bnd, next_up32(bnd), -bnd, -bmax]
    # zeros, infinities
    v += [0.0, -0.0, math.inf, -math.inf]
    # float16 subnormals: min normal 2^-14, max subnormal 2^-14 - 2^-24, smallest 2^-24, half of
    # it (a tie to 0), just above half, 3 * 2^-25 (tie to 2^-23, even), the subnormal/normal tie
    # 2^-14 - 2^-25 (rounds up to the normal), smaller than half the smallest.
    s = 2.0 ** -24
    v += [2.0 ** -14, next_down32(2.0 ** -14), 2.0 ** -14 - s, 2.0 ** -14 - s / 2,
          next_down32(2.0 ** -14 - s / 2), s, s / 2, next_up32(s / 2), next_down32(s / 2),
          3 * s / 2, 5 * s / 2, 7 * s / 2, 1.5 * 2.0 ** -20, s / 4, -s / 2, -s, -3 * s / 2,
          2.0 ** -15 + s / 2, 2.0 ** -15 + 3 * s / 2]
    # bfloat16 subnormals: min normal 2^-126 (float32's too), max subnormal, smallest 2^-133,
    # half of it (tie to 0), 3 * 2^-134, float32's smallest subnormal 2^-149.
    b = 2.0 ** -133
    v += [2.0 ** -126, 2.0 ** -126 - b, 2.0 ** -126 - b / 2, b, b / 2, next_up32(b / 2),
          3 * b / 2, 5 * b / 2, 2.0 ** -149, -2.0 ** -149, -b / 2, -3 * b / 2]
    bits = [f32_bits(x) for x in v]
    # NaNs: quiet, signalling, payloads, negative
    bits += [0x7FC00000, 0x7F800001, 0x7FC12345, 0x7FBFFFFF, 0xFFC00000, 0xFF800001, 0x7FFFFFFF,
             0x7F802000, 0x7F801000, 0xFFFFFFFF]
    return bits


def random_f32_bits(rng, n):
    sign = rng.integers(0, 2, n, dtype=np.uint32) << 31
    exp = rng.integers(0, 256, n, dtype=np.uint32) << 23
    mant = rng.integers(0, 1 << 23, n, dtype=np.uint32)
    return list(sign | exp | mant)


def casts(rng):
    bits = curated_f32() + random_f32_bits(rng, 4096)
    x = f32_from_bits(bits)
    in_range = (torch.randn(2048) * 2.0 ** torch.randint(-26, 17, (2048,)).float()).float()
    x = torch.cat([x, in_range])
    save("cast_f32_in.npy", x.view(torch.int32).numpy().copy())
    save("cast_f32_to_f16.npy", bits16(x.to(F16)))
    save("cast_f32_to_bf16.npy", bits16(x.to(BF16)))

    # float64: double rounding (PyTorch converts double -> float -> half).
    d = []
    for t in (1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 2.0 ** -24 / 2, 65520.0):
        d += [t + t * 2.0 ** -40, t - t * 2.0 ** -40, t]
    for t in (1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 2.0 ** -133 / 2):
        d += [t + t * 2.0 ** -40, t - t * 2.0 ** -40, t]
    d += [1e-300, -1e-300, 1e300, -1e300, 2.0 ** -1074, math.inf, -math.inf, math.nan, -0.0,
          3.4028235677973366e38, 65504.00000000001]
    d = torch.tensor(d, dtype=torch.float64)
    d = torch.cat([d, torch.randn(2048, dtype=torch.float64) *
                   2.0 ** torch.randint(-140, 130, (2048,)).double()])
    save("cast_f64_in.npy", d.numpy())
    save("cast_f64_to_f16.npy", bits16(d.to(F16)))
    save("cast_f64_to_bf16.npy", bits16(d.to(BF16)))
    # check the double-rounding cases really double-round (else they test nothing)
    assert d[0].item() != 1 and d[:1].to(F16).item() == 1.0

    all16 = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    h = all16.view(F16)
    save("cast_f16_all_to_f32.npy", h.float().view(torch.int32).numpy().copy())
    save("cast_f16_all_to_bf16.npy", bits16(h.to(BF16)))

    chosen = []
    for e in (0x00, 0x01, 0x7E, 0x7F, 0x80, 0xFE, 0xFF):
        for s in (0, 1):
            chosen += [(s << 15) | (e << 7) | m for m in range(128)]
    rest = rng.integers(0, 1 << 16, 8192 - len(chosen))
    bb = np.array(chosen + list(rest), dtype=np.uint16).view(np.int16)
    bt = torch.from_numpy(bb.copy()).view(BF16)
    save("cast_bf16_in.npy", bb)
    save("cast_bf16_to_f32.npy", bt.float().view(torch.int32).numpy().copy())
    save("cast_bf16_to_f16.npy", bits16(bt.to(F16)))

    # half -> integers
    vals = [0.0, -0.0, 0.5, 0.75, 1.5, 2.5, -0.5, -1.5, -2.75, 3.999, 100.7, 127.0, 128.0, 200.0,
            255.0, 256.0, 257.0, 300.0, -1.0, -100.0, -128.0, -129.0, -200.0, -256.0, 1000.0,
            32752.0, 32768.0, -32768.0, 40000.0, -40000.0, 65504.0, -65504.0, math.inf,
            -math.inf, math.nan, 2.0 ** -24]
    bvals = vals + [1e10, -1e10, 2.0 ** 31, -2.0 ** 31, 3e9, 2.0 ** 62, 2.0 ** 63, -2.0 ** 63,
                    2.0 ** 64, 1e30, -1e30, 1e38, 2.0 ** -133]
    for dt, vv in ((F16, vals), (BF16, bvals)):
        tag = "f16" if dt == F16 else "bf16"
        t = torch.tensor(vv, dtype=torch.float32).to(dt)
        save(f"cast_to_int_in_{tag}.npy", bits16(t))
        for it, iname in ((torch.int64, "int64"), (torch.int32, "int32"), (torch.int16, "int16"),
                          (torch.uint8, "uint8"), (torch.bool, "bool")):
            save(f"cast_{tag}_to_{iname}.npy", t.to(it).to(torch.int64).numpy())

    # integers -> half
    ints = [0, 1, -1, 2047, 2048, 2049, 2050, 2051, 4097, 4099, 65504, 65519, 65520, 65536,
            -65520, 100000, 255, 256, 257, 258, 259, 511, 513, 2 ** 24 + 1, 2 ** 31 - 1,
            -2 ** 31, 16777217, 33554435]
    i64 = ints + [2 ** 40 + 2 ** 32 + 1, (2 ** 8 + 1) * 2 ** 32 + 1, (2 ** 8 + 3) * 2 ** 32 - 1,
                  ((1 << 8) + 1) * (1 << 54) + 1, 2 ** 63 - 1, -2 ** 63,
                  (((1 << 8) | 1) << 16) * (1 << 24) + (1 << 10)]
    for it, name, vv in ((torch.int64, "int64", i64), (torch.int32, "int32", ints)):
        t = torch.tensor(vv, dtype=it)
        save(f"cast_{name}_in.npy", t.to(torch.int64).numpy())
        save(f"cast_{name}_to_f16.npy", bits16(t.to(F16)))
        save(f"cast_{name}_to_bf16.npy", bits16(t.to(BF16)))
    # an int64 -> bfloat16 double rounding: float32 rounds 2^40 (1 + 2^-8 + 2^-30) onto the tie
    big = torch.tensor([(2 ** 8 + 1) * 2 ** 32 + 1])
    assert big.to(BF16).item() == 2.0 ** 40, big.to(BF16).item()

    # complex64 -> complex32 -> complex64
    re = torch.tensor([0.0, 1 + 2.0 ** -11, 65520.0, 1e-8, math.inf, math.nan, -0.0, 3.14159],
                      dtype=torch.float32)
    im = torch.tensor([-0.0, 1 + 3 * 2.0 ** -11, -65504.0, 2.0 ** -25, 1.0, 2.0, math.inf,
                       -2.71828], dtype=torch.float32)
    c = torch.complex(torch.cat([re, torch.randn(56)]), torch.cat([im, torch.randn(56)]))
    save("cast_c64_in.npy", c.numpy())
    save("cast_c64_c32_c64.npy", c.to(torch.complex32).to(torch.complex64).numpy())


# --- promotion -----------------------------------------------------------------------------------

DTYPES = [("bool", torch.bool), ("uint8", torch.uint8), ("int8", torch.int8),
          ("int16", torch.int16), ("int32", torch.int32), ("int64", torch.int64),
          ("float16", F16), ("bfloat16", BF16), ("float32", torch.float32),
          ("float64", torch.float64), ("complex32", torch.complex32),
          ("complex64", torch.complex64), ("complex128", torch.complex128)]
NAME_OF = {d: n for n, d in DTYPES}


def promotion():
    lines = ["# a b torch.promote_types(a, b), torch " + torch.__version__]
    for an, a in DTYPES:
        for bn, b in DTYPES:
            lines.append(f"{an} {bn} {NAME_OF[torch.promote_types(a, b)]}")
    with open(os.path.join(OUT, "promote_types.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    written.append("promote_types.txt")

    lines = ["# lhs_kind lhs rhs_kind rhs torch.result_type(lhs, rhs); kinds: tensor (1-D), "
             "zerodim (0-d tensor), scalar (python bool/int/float/complex)"]
    scalars = [("bool", True), ("int", 3), ("float", 2.5), ("complex", 1 + 2j)]
    for hn, h in (("float16", F16), ("bfloat16", BF16), ("complex32", torch.complex32)):
        t = torch.zeros(2, dtype=h)
        z = torch.zeros((), dtype=h)
        for sn, s in scalars:
            lines.append(f"tensor {hn} scalar {sn} {NAME_OF[torch.result_type(t, s)]}")
            lines.append(f"zerodim {hn} scalar {sn} {NAME_OF[torch.result_type(z, s)]}")
        for on, o in DTYPES:
            lines.append(f"tensor {hn} zerodim {on} "
                         f"{NAME_OF[torch.result_type(t, torch.zeros((), dtype=o))]}")
            lines.append(f"zerodim {hn} tensor {on} "
                         f"{NAME_OF[torch.result_type(z, torch.zeros(2, dtype=o))]}")
            lines.append(f"tensor {on} zerodim {hn} "
                         f"{NAME_OF[torch.result_type(torch.zeros(2, dtype=o), z)]}")
    with open(os.path.join(OUT, "result_type.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    written.append("result_type.txt")


# --- elementwise and reductions ------------------------------------------------------------------

UNARY = {"neg": torch.neg, "abs": torch.abs, "exp": torch.exp, "log": torch.log,
         "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "gelu": F.gelu,
         "silu": F.silu, "sqrt": torch.sqrt, "sin": torch.sin, "cos": torch.cos, "erf": torch.erf,
         "square": torch.square, "reciprocal": torch.reciprocal,
         "pow_scalar": lambda a: torch.pow(a, 2.5)}
BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
          "maximum": torch.maximum, "minimum": torch.minimum, "pow": torch.pow}
EXACT = {"neg", "abs", "relu", "sqrt", "square", "reciprocal", "add", "sub", "mul", "div",
         "maximum", "minimum"}


def special_values(dt):
    fi = torch.finfo(dt)
    return [0.0, -0.0, math.inf, -math.inf, math.nan, fi.max, -fi.max, fi.tiny, -fi.tiny,
            fi.tiny / 4, fi.tiny / 64, 1.0, -1.0, 0.5, 2.0, -2.0, 3.0, 10.0, -10.0, 88.0, 89.0,
            -88.0, -104.0, 11.0, 12.0, -17.0, 1e-3, -1e-3]


def ew_inputs(dt, n=1024):
    spec = torch.tensor(special_values(dt), dtype=torch.float32)
    lo = -24 if dt == F16 else -60
    hi = 15 if dt == F16 else 60
    a = torch.randn(n - len(spec)) * 2.0 ** torch.randint(lo, hi, (n - len(spec),)).float()
    a = torch.cat([spec, a]).to(dt)
    b = torch.randn(n) * 2.0 ** torch.randint(-4, 5, (n,)).float()
    b[: len(spec)] = spec.flip(0)
    b[100:110] = torch.tensor([0.0, -0.0, 1.0, 2.0, 0.5, math.inf, math.nan, -1.0, 3.0, -3.0])
    return a, b.to(dt)


def ulps16(x, y):
    """Distance in ulps between two half tensors of one dtype (+0 and -0 are one point; a NaN
    against a number counts as far)."""
    def key(t):
        b = t.view(torch.int16).to(torch.int64) & 0xFFFF
        return torch.where(b >= 0x8000, -(b - 0x8000), b)
    d = (key(x) - key(y)).abs()
    return torch.where(x.isnan() != y.isnan(), torch.full_like(d, 1 << 20), d)


def try_native(fn, *args):
    try:
        return fn(*args), "torch"
    except RuntimeError as e:
        if "not implemented for" not in str(e):
            raise
        dt = args[0].dtype
        return fn(*[a.float() for a in args]).to(dt), "float32_rounded"


def elementwise():
    lines = ["# op dtype source ulps far (see make_low_precision_golden.py)"]
    for dt in (F16, BF16):
        name = NAMES[dt]
        a, b = ew_inputs(dt)
        save(f"ew_{name}_a.npy", bits16(a))
        save(f"ew_{name}_b.npy", bits16(b))
        for op, fn in list(UNARY.items()) + list(BINARY.items()):
            args = (a,) if op in UNARY else (a, b)
            out, source = try_native(fn, *args)
            assert out.dtype == dt, (op, out.dtype)
            f32 = fn(*[t.float() for t in args]).to(dt)
            if op in EXACT:
                # PyTorch's result is its float32 result rounded once (NaN bits aside)
                same = (out.view(torch.int16) == f32.view(torch.int16)) | (out.isnan() & f32.isnan())
                assert bool(same.all()), (op, name)
                replaced = 0
            else:
                # The float64 value rounded to dt, the second reference of these ops: where
                # float32 evaluations differ (cancellation in 1 + erf(x/sqrt2) far in gelu's
                # tail, PyTorch's vectorized bfloat16 gelu/silu flushing the smallest normals and
                # subnormals to 0: gelu(2^-126) is 2^-127, not 0) 1.13's own value can be
                # several ulps from it. The test accepts 1 ulp from either.
                ref = fn(*[t.double() for t in args]).to(dt)
                far = ulps16(out, ref) > 1
                far &= ~(out.isnan() & ref.isnan())
                replaced = int(far.sum())
                save(f"ew_{name}_{op}_f64.npy", bits16(ref))
            save(f"ew_{name}_{op}.npy", bits16(out))
            lines.append(f"{op} {name} {source} {0 if op in EXACT else 1} {replaced}")  # far
    with open(os.path.join(OUT, "ew_index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    written.append("ew_index.txt")


def reductions():
    lines = ["# id op dtype shape dim source rtol atol input (see make_low_precision_golden.py)"]
    cid = 0
    for dt in (F16, BF16):
        name = NAMES[dt]
        # (op, shape, dim, input): cases with the same input letter share one input tensor
        cases = [("sum", (12000,), -1, "a"), ("mean", (12000,), -1, "a"),
                 ("sum", (20, 700), 1, "b"), ("mean", (20, 700), 0, "b"),
                 ("sum", (10000,), -1, "ones"), ("softmax", (4, 1000), 1, "c"),
                 ("log_softmax", (4, 1000), 1, "c"), ("softmax", (40, 5), 0, "d")]
        scales = {"a": 1.0, "b": 4.0, "c": 3.0, "d": 3.0}
        inputs = {}
        for op, shape, dim, key in cases:
            if key not in inputs:
                if key == "ones":  # 10000 is exact in float16, not in bfloat16
                    x = torch.ones(shape, dtype=dt)
                else:
                    x = (torch.randn(shape) * scales[key] + 0.25).to(dt)
                inputs[key] = (f"{name}_{key}", x)
                save(f"red_{name}_{key}_in.npy", bits16(x))
            in_name, x = inputs[key]
            if op in ("sum", "mean"):
                fn = (lambda t: getattr(t, op)()) if dim == -1 else \
                    (lambda t: getattr(t, op)(dim))
                n = x.numel() if dim == -1 else shape[dim]
                s = x.float().abs()
                s = s.sum() if dim == -1 else s.sum(dim)
                atol = 2 * n * U32 * s.max().item()
                if op == "mean":
                    atol /= n
                atol += TINY[dt]
            else:
                fn = {"softmax": lambda t: t.softmax(dim),
                      "log_softmax": lambda t: t.log_softmax(dim)}[op]
                atol = 2.0 ** -20 + TINY[dt]
            out, source = try_native(fn, x)
            ref = fn(x.double())
            diff = (out.double() - ref).abs()
            assert bool((diff <= atol + RTOL[dt] * ref.abs()).all()), (op, name, diff.max())
            save(f"red_{cid:02d}_out.npy", bits16(out))
            shape_s = "x".join(str(s) for s in shape)
            lines.append(f"{cid:02d} {op} {name} {shape_s} {dim} {source} {RTOL[dt]!r} {atol!r} "
                         f"{in_name}")
            cid += 1
    with open(os.path.join(OUT, "red_index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    written.append("red_index.txt")


# --- Conv1d ----------------------------------------------------------------------------------------

# (N, C_in, C_out, L, K, stride, padding, dilation, groups, bias, padding_mode)
CONV_CONFIGS = [
    (2, 4, 6, 20, 3, 1, 0, 1, 1, True, "zeros"),
    (1, 8, 8, 33, 5, 2, 2, 1, 1, True, "zeros"),         # stride, batch 1
    (3, 6, 4, 25, 3, 1, 2, 3, 1, False, "zeros"),        # dilation, no bias
    (2, 6, 6, 17, 4, 1, "same", 1, 1, True, "zeros"),    # 'same', even kernel
    (2, 6, 9, 19, 3, 1, "same", 2, 3, True, "zeros"),    # 'same', groups, dilation
    (-1, 5, 7, 23, 3, 1, 1, 1, 1, True, "zeros"),        # unbatched
    (2, 6, 6, 21, 5, 1, 2, 1, 6, True, "zeros"),         # depthwise
    (2, 4, 8, 16, 3, 1, 1, 1, 4, False, "zeros"),        # depthwise x2, no bias
    (2, 5, 4, 18, 3, 1, 1, 1, 1, True, "circular"),
    (-1, 4, 4, 15, 5, 1, "same", 1, 2, True, "circular"),  # unbatched, groups
    (2, 4, 6, 14, 3, 2, 1, 1, 1, True, "reflect"),
    (1, 6, 4, 22, 3, 1, "same", 2, 2, True, "reflect"),
    (2, 3, 5, 12, 3, 1, 2, 1, 1, False, "replicate"),
    (2, 32, 16, 24, 7, 1, 3, 1, 1, True, "zeros"),       # a long reduction: 224 products
]


def pads_for(padding, k, dilation):
    if padding == "same":
        total = dilation * (k - 1)
        return total // 2, total - total // 2
    return padding, padding


def conv_fn(x, w, b, cfg):
    """The configuration's conv, as F.pad + F.conv1d (zeros: F.conv1d's own padding)."""
    n, _, _, _, k, stride, padding, dilation, groups, _, mode = cfg
    if mode == "zeros":
        return F.conv1d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                        groups=groups)
    left, right = pads_for(padding, k, dilation)
    xb = x.unsqueeze(0) if n == -1 else x
    xp = F.pad(xb, (left, right), mode=mode)
    y = F.conv1d(xp, w, b, stride=stride, dilation=dilation, groups=groups)
    return y.squeeze(0) if n == -1 else y


def forward_backward(fn, leaves, grad_out_fn):
    leaves = [t.detach().clone().requires_grad_(True) if t is not None else None for t in leaves]
    out = fn(*leaves)
    g = grad_out_fn(out)
    out.backward(g)
    return out.detach(), g, [t.grad if t is not None else None for t in leaves]


def bounds(fn, leaves, grad_out):
    """Per-element (n, S) of the output and of each gradient: n by running on all ones, S on
    absolute values (float64)."""
    ones = [torch.ones_like(t, dtype=torch.float64) if t is not None else None for t in leaves]
    absl = [t.double().abs() if t is not None else None for t in leaves]
    n_out, _, n_grads = forward_backward(fn, ones, lambda o: torch.ones_like(o))
    s_out, _, s_grads = forward_backward(fn, absl, lambda o: grad_out.double().abs())
    return (n_out, s_out), [(a, b) if a is not None else None for a, b in zip(n_grads, s_grads)]


def tol(nsn, c):
    n, s = nsn
    return c * (n * s).max().item() * U32


def golden_case(fn, leaves, dt, extra_gi_rounding):
    """Runs fn in dt natively if PyTorch can, else in float64 rounded; returns (source, tensors,
    rtol, atols)."""
    g64 = None

    def grad_out(o):
        nonlocal g64
        if g64 is None:
            g64 = torch.randn(o.shape).to(dt)
        return g64.to(o.dtype)

    out64, _, grads64 = forward_backward(fn, [t.double() if t is not None else None
                                              for t in leaves], grad_out)
    try:
        out, _, grads = forward_backward(fn, leaves, grad_out)
        source, c = "torch", 2
    except RuntimeError as e:
        if "not implemented for" not in str(e):
            raise
        source, c = "float64_rounded", 1
    if source == "torch" and not within(out, grads, out64, grads64, bounds(fn, leaves, g64), 2,
                                        dt, extra_gi_rounding):
        # 1.13 computes it in dt but not with float32 accumulation and one rounding (its
        # bfloat16 mm/addmm on the CPU is several ulps off): not a reference for reel's contract.
        source, c = "float64_rounded_torch_inexact", 1
    if source != "torch":
        out, grads = out64.to(dt), [g.to(dt) if g is not None else None for g in grads64]
    atols = tolerances(bounds(fn, leaves, g64), c, dt, extra_gi_rounding)
    assert within(out, grads, out64, grads64, bounds(fn, leaves, g64), c, dt, extra_gi_rounding)
    return source, out, g64, grads, atols


def tolerances(bnds, c, dt, extra_gi_rounding):
    nso, gb = bnds
    atols = [tol(nso, c) + TINY[dt]]
    for i, nsg in enumerate(gb):
        if nsg is None:
            continue
        a = tol(nsg, c) + TINY[dt]
        if i == 0 and extra_gi_rounding:
            a += UNIT[dt] * nsg[1].max().item()
        atols.append(a)
    return atols


def within(out, grads, out64, grads64, bnds, c, dt, extra_gi_rounding):
    """Whether the result (and gradients) lie within the derived tolerance of float64's."""
    atols = tolerances(bnds, c, dt, extra_gi_rounding)
    checks = [(out, out64, atols[0])] + [
        (g, r, a) for g, r, a in zip([g for g in grads if g is not None],
                                     [g for g in grads64 if g is not None], atols[1:])]
    return all(bool(((got.double() - ref).abs() <= a + RTOL[dt] * ref.abs()).all())
               for got, ref, a in checks)


def conv_cases():
    lines = ["# id dtype N C_in C_out L K stride padding dilation groups bias padding_mode L_out "
             "source rtol atol_out atol_grad_input atol_grad_weight atol_grad_bias"]
    cid = 0
    for dt in (F16, BF16):
        for cfg in CONV_CONFIGS:
            n, c_in, c_out, length, k, stride, padding, dilation, groups, bias, mode = cfg
            xs = (c_in, length) if n == -1 else (n, c_in, length)
            x = torch.randn(xs).to(dt)
            w = (torch.randn(c_out, c_in // groups, k) / math.sqrt(c_in // groups * k)).to(dt)
            b = torch.randn(c_out).to(dt) if bias else None
            source, out, g, grads, atols = golden_case(
                lambda x_, w_, b_: conv_fn(x_, w_, b_, cfg), [x, w, b], dt, mode != "zeros")
            parts = [x, w] + ([b] if bias else []) + [g, out] + \
                [t for t in grads if t is not None]
            flat = np.concatenate([bits16(t).reshape(-1) for t in parts])
            save(f"conv_{cid:03d}.npy", flat)
            if not bias:
                atols.append(0.0)
            fields = [f"{cid:03d}", NAMES[dt], n, c_in, c_out, length, k, stride, padding,
                      dilation, groups, int(bias), mode, out.shape[-1], source, repr(RTOL[dt])]
            lines.append(" ".join(str(f) for f in fields) + " " +
                         " ".join(repr(a) for a in atols))
            cid += 1
    sources = {l.split()[14] for l in lines[1:] if l.split()[1] == "bfloat16"}
    assert sources == {"torch", "float64_rounded"}, sources
    with open(os.path.join(OUT, "conv_index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    written.append("conv_index.txt")


MM_CONFIGS = [("matmul", (5, 7), (7, 3), False), ("matmul", (2, 4, 33), (33, 6), False),
              ("matmul", (3, 4, 16), (3, 16, 5), False), ("matmul", (16, 256), (256, 4), False),
              ("linear", (6, 20), (10, 20), True), ("linear", (2, 3, 40), (12, 40), True),
              ("linear", (9, 128), (4, 128), False)]


def mm_cases():
    lines = ["# id kind dtype shape_a shape_b bias source rtol atol_out atol_grad_a atol_grad_b "
             "atol_grad_bias"]
    cid = 0
    for dt in (F16, BF16):
        for kind, sa, sb, bias in MM_CONFIGS:
            a = torch.randn(sa).to(dt)
            b = (torch.randn(sb) / math.sqrt(sb[-1] if kind == "linear" else sb[-2])).to(dt)
            c = torch.randn(sb[0]).to(dt) if bias else None
            fn = (lambda a_, b_, c_: torch.matmul(a_, b_)) if kind == "matmul" else \
                (lambda a_, b_, c_: F.linear(a_, b_, c_))
            source, out, g, grads, atols = golden_case(fn, [a, b, c], dt, False)
            parts = [a, b] + ([c] if bias else []) + [g, out] + [t for t in grads if t is not None]
            save(f"mm_{cid:02d}.npy", np.concatenate([bits16(t).reshape(-1) for t in parts]))
            if not bias:
                atols.append(0.0)
            fields = [f"{cid:02d}", kind, NAMES[dt], "x".join(map(str, sa)),
                      "x".join(map(str, sb)), int(bias), source, repr(RTOL[dt])]
            lines.append(" ".join(str(f) for f in fields) + " " +
                         " ".join(repr(x) for x in atols))
            cid += 1
    with open(os.path.join(OUT, "mm_index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    written.append("mm_index.txt")


def main():
    warnings.filterwarnings("ignore", message="Using padding='same'")
    torch.manual_seed(20261130)
    rng = np.random.default_rng(20261130)
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.endswith(".npy") or old.endswith(".txt"):
            os.remove(os.path.join(OUT, old))
    casts(rng)
    promotion()
    elementwise()
    reductions()
    conv_cases()
    mm_cases()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in written)
    assert total < 1_100_000, total
    print(f"wrote {len(written)} files ({total} bytes) to {OUT} with torch {torch.__version__}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
