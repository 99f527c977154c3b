#!/usr/bin/python3
"""Runs `tg optimize` and the same configuration in torch.optim (float32),
and prints how far their final points are apart. Needs Debian's
python3-torch; not part of make check (CI has no torch).

    scripts/compare_optimize.py [path/to/tg]

The configurations are deliberately not the ones in tests/fixtures: mixed
options, schedules, clipping, both objectives, thousands of steps."""
import math
import subprocess
import sys

import torch

TG = sys.argv[1] if len(sys.argv) > 1 else "build/tg"

CONFIGS = [
    # (objective, optimizer, tg flags, torch kwargs, start, steps, schedule)
    ("rosenbrock", "sgd", "--lr 0.0015 --momentum 0.8 --dampening 0.1", dict(lr=0.0015, momentum=0.8, dampening=0.1), (-1.2, 1.0), 3000, None),
    ("rosenbrock", "sgd", "--lr 0.001 --momentum 0.9 --nesterov --weight-decay 0.001", dict(lr=0.001, momentum=0.9, nesterov=True, weight_decay=0.001), (0.0, 2.0), 2000, None),
    ("quadratic", "sgd", "--lr 0.02 --maximize", dict(lr=0.02, maximize=True), (1.0, 1.0), 50, None),
    ("rosenbrock", "adagrad", "--lr 0.3 --lr-decay 0.001 --initial-accumulator-value 0.5", dict(lr=0.3, lr_decay=0.001, initial_accumulator_value=0.5), (-1, 1), 3000, None),
    ("quadratic", "rmsprop", "--lr 0.01 --alpha 0.95 --centered --momentum 0.5", dict(lr=0.01, alpha=0.95, centered=True, momentum=0.5), (4, 3), 800, None),
    ("rosenbrock", "rmsprop", "--lr 0.0005 --weight-decay 0.01 --eps 1e-6", dict(lr=0.0005, weight_decay=0.01, eps=1e-6), (-1, 1), 4000, None),
    ("rosenbrock", "adam", "--lr 0.01 --betas 0.8,0.99 --amsgrad", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True), (-1.5, 2), 3000, None),
    ("rosenbrock", "adam", "--lr 0.02 --weight-decay 0.0001", dict(lr=0.02, weight_decay=1e-4), (-1, 1), 2000,
     ("cosine", "--t-max 2000 --eta-min 0.0001", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=2000, eta_min=1e-4))),
    ("quadratic", "adamw", "--lr 0.05 --weight-decay 0.1", dict(lr=0.05, weight_decay=0.1), (-3, 2), 1000,
     ("step", "--step-size 200 --gamma 0.5", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=200, gamma=0.5))),
    ("rosenbrock", "adamw", "--lr 0.01", dict(lr=0.01), (-1, 1), 3000,
     ("onecycle", "--max-lr 0.02 --total-steps 3000", lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.02, total_steps=3000))),
    ("rosenbrock", "radam", "--lr 0.01 --betas 0.9,0.99", dict(lr=0.01, betas=(0.9, 0.99)), (-1, 1), 3000, None),
    ("quadratic", "lbfgs", "--lr 1 --max-iter 10", dict(lr=1, max_iter=10), (-2, 2), 3, None),
    ("rosenbrock", "lbfgs", "--lr 1 --line-search strong_wolfe --history-size 10", dict(lr=1, line_search_fn="strong_wolfe", history_size=10), (-1.2, 1), 6, None),
]


def objective(name, x, y):
    if name == "rosenbrock":
        return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2
    return (x - 2) ** 2 + 10 * (y + 1) ** 2


def run_torch(obj, opt_name, kwargs, start, steps, sched, dtype=torch.float32):
    x = torch.tensor([float(start[0])], dtype=dtype, requires_grad=True)
    y = torch.tensor([float(start[1])], dtype=dtype, requires_grad=True)
    cls = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
           "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "radam": torch.optim.RAdam,
           "lbfgs": torch.optim.LBFGS}[opt_name]
    opt = cls([x, y], **kwargs)
    scheduler = sched[2](opt) if sched else None

    def closure():
        opt.zero_grad()
        f = objective(obj, x, y).sum()
        f.backward()
        return f

    for _ in range(steps):
        if opt_name == "lbfgs":
            opt.step(closure)
        else:
            closure()
            opt.step()
        if scheduler:
            scheduler.step()
    with torch.no_grad():
        return x.item(), y.item(), objective(obj, x, y).item()


def run_tg(obj, opt_name, flags, start, steps, sched):
    cmd = [TG, "optimize", obj, "--optimizer", opt_name, "--steps", str(steps),
           "--start", "%r,%r" % start, "--print-every", "0"] + flags.split()
    if sched:
        cmd += ["--schedule", sched[0]] + sched[1].split()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    final = [line for line in out.splitlines() if line.startswith("final:")][0]
    values = dict(kv.split("=") for kv in final.split()[1:])
    return float(values["x"]), float(values["y"]), float(values["f"])


def rel_diff(a, b):
    return max(abs(p - q) / max(abs(q), 1e-6) for p, q in zip(a[:2], b[:2]))


def main():
    """tg vs torch (both float32), next to torch float32 vs torch float64: a
    path whose own float32 rounding moves it by more than tg's difference
    disagrees by rounding, not by rule."""
    print("%-11s %-7s %-58s %5s  %-10s %-10s %s" % ("objective", "optim", "flags", "steps", "tg-torch", "f32-f64",
                                                  "f tg / torch"))
    worst = 0.0
    for obj, name, flags, kwargs, start, steps, sched in CONFIGS:
        t = run_tg(obj, name, flags, start, steps, sched)
        r = run_torch(obj, name, kwargs, start, steps, sched)
        r64 = run_torch(obj, name, kwargs, start, steps, sched, torch.float64)
        diff, sensitivity = rel_diff(t, r), rel_diff(r, r64)
        worst = max(worst, diff)
        label = flags + ("  " + sched[0] + " " + sched[1] if sched else "")
        print("%-11s %-7s %-58s %5d  %-10.2e %-10.2e %.6g / %.6g" % (obj, name, label[:58], steps, diff, sensitivity,
                                                                  t[2], r[2]))
    print("worst relative difference between tg and torch in the final point: %.2e" % worst)


if __name__ == "__main__":
    main()
