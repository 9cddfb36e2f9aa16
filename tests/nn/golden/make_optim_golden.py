#!/usr/bin/python3
"""Golden values for reel's optimizers and learning-rate schedulers, made by PyTorch 1.13
(tests/nn/test_optim_golden.cpp checks them).

Run with Debian's python3-torch (1.13) and python3-numpy, from anywhere:

    /usr/bin/python3 tests/nn/golden/make_optim_golden.py

(the interpreter matters: a pyenv `python3` earlier on PATH has no torch). Deterministic (a
fixed numpy seed); the output is committed, so the C++ tests need no PyTorch.

What it writes, into tests/nn/golden/optim/:

Optimizers. Two parameters, p0 of shape (3, 4) and p1 of shape (5,), start from given values and
take 10 steps with given gradients (fixed per step: no model); p1 has no gradient (None) at
step 3, so it is skipped there and its step counter ends at 9.
  params.npy   float64 (17,): p0 then p1, flattened, the real starting values
  grads.npy    float64 (10, 17): the gradients of each step, same layout
  cparams.npy / cgrads.npy  complex128: the same for the complex configurations
  (amsgrad has no complex configuration: PyTorch 1.13 raises "maximum not implemented for
  complex tensors", and so does reel.)
  opt_index.txt  one line per configuration:
      name optimizer dtype defaults=k:v,... group1=k:v,...|- states=a,b,.../c,d,...
    optimizer: SGD | Adam | AdamW | RMSprop | Adagrad; dtype: float32 | float64 | complex64 |
    complex128; defaults: the optimizer's options (keys as reel's options tables: lr, momentum,
    betas.0, amsgrad (0/1), ...); group1: '-' for one param group holding both parameters, else
    p0 is group 0 (the defaults) and p1 is group 1 with these options over the defaults;
    states: the state entries of p0, then (after the '/') of p1, in the order of the result
    file (they differ when p1's group has other options).
  opt_<name>.npy  1-D, in the configuration's dtype (the step counters cast to it): for p0 then
    p1, the parameter after 10 steps, then each of its state entries in `states` order
    (flattened; the step counter as one number).

Schedulers. An SGD optimizer (momentum 0.9) or Adam/Adagrad with two param groups (lr 0.1 and
0.05, one parameter each), the scheduler built on it, then 100 scheduler.step() calls.
  sched_index.txt  one line per scheduler configuration: name, then its constructor in words
    (the C++ test has a table of the same names; this file documents what each is).
  sched_<name>_lr.npy        float64 (101, 2): get_last_lr() after construction, then after
                             each step
  sched_<name>_momentum.npy  float64 (101, 2): each group's momentum (SGD) or betas[0] (Adam)
                             at the same points (OneCycleLR with cycle_momentum only)
  plateau_metrics.npy        float64 (100,): the metric sequence given to ReduceLROnPlateau
  plateau_<name>_lr.npy      float64 (100, 2): get_last_lr() after each step(metric)
"""
import os
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim")
os.makedirs(OUT, exist_ok=True)

STEPS = 10
SHAPES = [(3, 4), (5,)]
SKIP = (1, 3)  # p1 has no gradient at step 3

rng = np.random.default_rng(20261130)
NUMEL = [int(np.prod(s)) for s in SHAPES]
params = rng.standard_normal(sum(NUMEL))
grads = rng.standard_normal((STEPS, sum(NUMEL)))
cparams = params + 1j * rng.standard_normal(sum(NUMEL))
cgrads = grads + 1j * rng.standard_normal((STEPS, sum(NUMEL)))
np.save(os.path.join(OUT, "params.npy"), params)
np.save(os.path.join(OUT, "grads.npy"), grads)
np.save(os.path.join(OUT, "cparams.npy"), cparams)
np.save(os.path.join(OUT, "cgrads.npy"), cgrads)

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64,
                "complex64": torch.complex64, "complex128": torch.complex128}
NP_DTYPES = {"float32": np.float32, "float64": np.float64,
             "complex64": np.complex64, "complex128": np.complex128}

# name: (optimizer, defaults, group1 options or None, dtypes)
REAL = ("float32", "float64")
ALL = REAL + ("complex64", "complex128")
CONFIGS = [
    ("sgd", "SGD", dict(lr=0.1), None, REAL),
    ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9), None, REAL),
    ("sgd_dampening_wd", "SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
     None, ALL),
    ("sgd_nesterov_maximize", "SGD",
     dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True, weight_decay=0.1), None, REAL),
    ("sgd_groups", "SGD", dict(lr=0.1, momentum=0.9), dict(lr=0.01, dampening=0.5), REAL),
    ("adam", "Adam", dict(lr=0.01), None, REAL),
    ("adam_wd_amsgrad", "Adam",
     dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True), None, REAL),
    ("adam_maximize_wd", "Adam", dict(lr=0.01, maximize=True, eps=1e-6, weight_decay=0.1), None,
     ALL),
    ("adam_groups", "Adam", dict(lr=0.01), dict(lr=0.001, weight_decay=0.1), REAL),
    ("adamw", "AdamW", dict(lr=0.01), None, REAL),
    ("adamw_amsgrad_maximize", "AdamW",
     dict(lr=0.02, weight_decay=0.05, amsgrad=True, maximize=True), None, REAL),
    ("adamw_betas", "AdamW", dict(lr=0.02, betas=(0.7, 0.95)), None, ALL),
    ("rmsprop", "RMSprop", dict(lr=0.01), None, REAL),
    ("rmsprop_centered_momentum", "RMSprop",
     dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1), None, ALL),
    ("rmsprop_momentum_maximize", "RMSprop", dict(lr=0.01, momentum=0.9, maximize=True), None,
     REAL),
    ("rmsprop_groups", "RMSprop", dict(lr=0.01), dict(lr=0.05, centered=True), REAL),
    ("adagrad", "Adagrad", dict(lr=0.1), None, REAL),
    ("adagrad_decay", "Adagrad",
     dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-8),
     None, ALL),
    ("adagrad_maximize", "Adagrad", dict(lr=0.1, maximize=True), None, REAL),
]
STATES = {
    "SGD": ["momentum_buffer"],
    "Adam": ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "AdamW": ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "RMSprop": ["step", "square_avg", "momentum_buffer", "grad_avg"],
    "Adagrad": ["step", "sum"],
}


def options_text(options):
    parts = []
    for k, v in options.items():
        if k == "betas":
            parts += [f"betas.0:{v[0]!r}", f"betas.1:{v[1]!r}"]
        else:
            parts.append(f"{k}:{float(v)!r}")
    return ",".join(parts)


def split(flat):
    out, at = [], 0
    for shape, n in zip(SHAPES, NUMEL):
        out.append(flat[at:at + n].reshape(shape))
        at += n
    return out


index = []
for name, opt_name, defaults, group1, dtypes in CONFIGS:
    for dt in dtypes:
        complex_ = dt.startswith("complex")
        start = cparams if complex_ else params
        gs = cgrads if complex_ else grads
        ps = [torch.tensor(a, dtype=TORCH_DTYPES[dt]).requires_grad_() for a in split(start)]
        cls = getattr(torch.optim, opt_name)
        kwargs = dict(defaults)
        kwargs["foreach"] = False  # the single-tensor implementations
        if group1 is None:
            opt = cls(ps, **kwargs)
        else:
            opt = cls([{"params": [ps[0]]}, dict(params=[ps[1]], **group1)], **kwargs)
        for step in range(STEPS):
            for i, (p, g) in enumerate(zip(ps, split(gs[step]))):
                if (i, step) == SKIP:
                    p.grad = None
                else:
                    p.grad = torch.tensor(g, dtype=TORCH_DTYPES[dt])
            opt.step()
        states = [[s for s in STATES[opt_name] if opt.state[p].get(s) is not None]
                  for p in ps]
        chunks = []
        for p, names in zip(ps, states):
            chunks.append(p.detach().numpy().reshape(-1).astype(NP_DTYPES[dt]))
            for s in names:
                v = opt.state[p][s]
                v = np.asarray(v.detach().numpy() if torch.is_tensor(v) else v)
                chunks.append(v.reshape(-1).astype(NP_DTYPES[dt]))
        full = f"{name}_{dt}"
        np.save(os.path.join(OUT, f"opt_{full}.npy"), np.concatenate(chunks))
        index.append(f"{full} {opt_name} {dt} defaults={options_text(defaults)} "
                     f"group1={options_text(group1) if group1 else '-'} "
                     f"states={'/'.join(','.join(names) for names in states)}")

with open(os.path.join(OUT, "opt_index.txt"), "w") as f:
    f.write("# name optimizer dtype defaults=k:v,... group1=k:v,...|- states=a,b,.../c,d,...\n")
    f.write("\n".join(index) + "\n")

# --- schedulers -----------------------------------------------------------------------------
S = torch.optim.lr_scheduler


def two_groups(kind="SGD"):
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    if kind == "SGD":
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    if kind == "Adam":
        return torch.optim.Adam(groups, lr=0.1)
    return torch.optim.Adagrad(groups, lr=0.1)


SCHEDULERS = [
    ("step", "SGD", "StepLR(step_size=7, gamma=0.5)",
     lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
    ("multistep", "SGD", "MultiStepLR(milestones=[10, 30, 30, 75], gamma=0.3)",
     lambda o: S.MultiStepLR(o, milestones=[10, 30, 30, 75], gamma=0.3)),
    ("exponential", "SGD", "ExponentialLR(gamma=0.97)", lambda o: S.ExponentialLR(o, gamma=0.97)),
    ("cosine", "SGD", "CosineAnnealingLR(T_max=30, eta_min=0.001)",
     lambda o: S.CosineAnnealingLR(o, T_max=30, eta_min=0.001)),
    ("cosine_long", "SGD", "CosineAnnealingLR(T_max=100)",
     lambda o: S.CosineAnnealingLR(o, T_max=100)),
    ("linear_warmup", "SGD", "LinearLR(start_factor=0.25, end_factor=1.0, total_iters=20)",
     lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=20)),
    ("linear_decay", "SGD", "LinearLR(start_factor=1.0, end_factor=0.1, total_iters=50)",
     lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=50)),
    ("onecycle_cos", "SGD", "OneCycleLR(max_lr=[1.0, 0.5], total_steps=100)",
     lambda o: S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=100)),
    ("onecycle_linear_three_phase", "SGD",
     "OneCycleLR(max_lr=0.8, total_steps=100, pct_start=0.25, anneal_strategy='linear', "
     "div_factor=10, final_div_factor=100, three_phase=True)",
     lambda o: S.OneCycleLR(o, max_lr=0.8, total_steps=100, pct_start=0.25,
                            anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0,
                            three_phase=True)),
    ("onecycle_adam", "Adam",
     "OneCycleLR(max_lr=0.01, epochs=10, steps_per_epoch=10, base_momentum=0.8, "
     "max_momentum=0.9) on Adam",
     lambda o: S.OneCycleLR(o, max_lr=0.01, epochs=10, steps_per_epoch=10, base_momentum=0.8,
                            max_momentum=0.9)),
    ("onecycle_no_momentum", "Adagrad",
     "OneCycleLR(max_lr=0.3, total_steps=100, cycle_momentum=False) on Adagrad",
     lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=100, cycle_momentum=False)),
    ("sequential_warmup_cosine", "SGD",
     "SequentialLR([LinearLR(start_factor=0.1, total_iters=10), CosineAnnealingLR(T_max=90)], "
     "milestones=[10])",
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=10),
                                  S.CosineAnnealingLR(o, T_max=90)], milestones=[10])),
    ("sequential_three", "SGD",
     "SequentialLR([LinearLR(start_factor=0.5, total_iters=5), ExponentialLR(gamma=0.95), "
     "StepLR(step_size=10, gamma=0.5)], milestones=[5, 40])",
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, total_iters=5),
                                  S.ExponentialLR(o, gamma=0.95),
                                  S.StepLR(o, step_size=10, gamma=0.5)], milestones=[5, 40])),
]

sched_index = []
for name, kind, text, make in SCHEDULERS:
    opt = two_groups(kind)
    sched = make(opt)
    lrs = [sched.get_last_lr()]
    momentum = []

    def record_momentum():
        momentum.append([g["betas"][0] if "betas" in g else g.get("momentum", 0.0)
                         for g in opt.param_groups])

    record_momentum()
    for _ in range(100):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        record_momentum()
    np.save(os.path.join(OUT, f"sched_{name}_lr.npy"), np.array(lrs, dtype=np.float64))
    if name.startswith("onecycle") and "cycle_momentum=False" not in text:
        np.save(os.path.join(OUT, f"sched_{name}_momentum.npy"),
                np.array(momentum, dtype=np.float64))
    sched_index.append(f"{name} {kind}: {text}")

# ReduceLROnPlateau: a loss that falls, stalls with noise, falls again, then rises.
t = np.arange(100)
metrics = np.where(t < 30, 1.0 - 0.02 * t, 0.4) + 0.01 * rng.standard_normal(100)
metrics[60:75] -= np.linspace(0.0, 0.2, 15)
metrics[75:] += np.linspace(0.0, 0.3, 25)
np.save(os.path.join(OUT, "plateau_metrics.npy"), metrics)
PLATEAUS = [
    ("default", "ReduceLROnPlateau()", dict()),
    ("min_rel", "ReduceLROnPlateau(mode='min', factor=0.5, patience=3, threshold=0.01, "
     "cooldown=2, min_lr=[0.001, 0.02])",
     dict(mode="min", factor=0.5, patience=3, threshold=0.01, cooldown=2, min_lr=[0.001, 0.02])),
    ("max_abs", "ReduceLROnPlateau(mode='max', factor=0.3, patience=2, threshold=0.05, "
     "threshold_mode='abs', min_lr=0.0005) fed -metric",
     dict(mode="max", factor=0.3, patience=2, threshold=0.05, threshold_mode="abs",
          min_lr=0.0005)),
    ("min_abs_eps", "ReduceLROnPlateau(mode='min', factor=0.9, patience=0, threshold=0.001, "
     "threshold_mode='abs', eps=0.004)",
     dict(mode="min", factor=0.9, patience=0, threshold=0.001, threshold_mode="abs", eps=0.004)),
]
for name, text, kwargs in PLATEAUS:
    opt = two_groups("SGD")
    sched = S.ReduceLROnPlateau(opt, **kwargs)
    lrs = []
    for m in metrics:
        sched.step(-m if kwargs.get("mode") == "max" else m)
        lrs.append(sched._last_lr)
    np.save(os.path.join(OUT, f"plateau_{name}_lr.npy"), np.array(lrs, dtype=np.float64))
    sched_index.append(f"plateau_{name} SGD: {text}")

with open(os.path.join(OUT, "sched_index.txt"), "w") as f:
    f.write("\n".join(sched_index) + "\n")
print(f"wrote {len(index)} optimizer and {len(sched_index)} scheduler configurations to {OUT}")
