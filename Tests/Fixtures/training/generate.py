"""Golden values for OptimizationTests: torch.optim.AdamW, clip_grad_norm_ and HF LR schedules.

Run from the repository root:  python3 Tests/Fixtures/training/generate.py
Writes Tests/Fixtures/training/golden.json (needs torch and transformers; CI only reads the JSON).
"""
import json
import math
import os

import torch
from transformers import (
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

torch.manual_seed(1234)
here = os.path.dirname(os.path.abspath(__file__))

# Tensor names follow the HF conventions the optimiser keys on: ".bias" and "LayerNorm" get no decay.
shapes = {
    "layer.dense.weight": [3, 5],
    "layer.dense.bias": [5],
    "layer.LayerNorm.weight": [5],
    "layer.frozen.weight": [2, 3],
}
frozen = {"layer.frozen.weight"}
params = {n: torch.nn.Parameter(torch.randn(*s)) for n, s in shapes.items()}
for n in frozen:
    params[n].requires_grad_(False)
initial = {n: p.detach().flatten().tolist() for n, p in params.items()}

weight_decay = 0.1
decay = [p for n, p in params.items() if n not in frozen and not (n.endswith(".bias") or "LayerNorm" in n)]
no_decay = [p for n, p in params.items() if n not in frozen and (n.endswith(".bias") or "LayerNorm" in n)]
opt = torch.optim.AdamW(
    [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
    lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
)

steps = []
for step, lr in enumerate([1e-2, 5e-3, 2e-2, 1e-3, 1e-2, 3e-3]):
    for g in opt.param_groups:
        g["lr"] = lr
    grads = {}
    for n, p in params.items():
        if n in frozen:
            continue
        g = torch.randn(p.shape) * (0.5 + step)
        if step == 2:
            g[..., 0] = 0.0  # a zero gradient still moves the weights through momentum and decay
        p.grad = g.clone()
        grads[n] = g.flatten().tolist()
    opt.step()
    steps.append({
        "lr": lr,
        "gradients": grads,
        "parameters": {n: p.detach().flatten().tolist() for n, p in params.items()},
        "exp_avg": {n: opt.state[p]["exp_avg"].flatten().tolist() for n, p in params.items() if n not in frozen},
        "exp_avg_sq": {n: opt.state[p]["exp_avg_sq"].flatten().tolist() for n, p in params.items() if n not in frozen},
    })

# Global-norm clipping over the trainable tensors.
clip_grads = {n: (torch.randn(*s) * 3).flatten().tolist() for n, s in shapes.items() if n not in frozen}
clip_params = [torch.nn.Parameter(torch.zeros(*shapes[n])) for n in clip_grads]
for p, n in zip(clip_params, clip_grads):
    p.grad = torch.tensor(clip_grads[n]).reshape(shapes[n])
clip_norm = torch.nn.utils.clip_grad_norm_(clip_params, max_norm=1.0).item()
clipped = {n: p.grad.flatten().tolist() for p, n in zip(clip_params, clip_grads)}

# Learning-rate multipliers after `step` completed updates (LambdaLR.get_last_lr after `step` scheduler steps).
schedules = []
makers = {
    "linear": lambda o, w, t: get_linear_schedule_with_warmup(o, w, t),
    "cosine": lambda o, w, t: get_cosine_schedule_with_warmup(o, w, t),
    "constant": lambda o, w, t: get_constant_schedule_with_warmup(o, w),
}
for kind, maker in makers.items():
    for warmup, total in [(0, 10), (3, 10), (6, 100), (10, 10), (1, 1)]:
        o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = maker(o, warmup, total)
        rates = []
        for _ in range(total + 3):
            rates.append(sched.get_last_lr()[0])
            o.step()
            sched.step()
        schedules.append({"kind": kind, "warmup": warmup, "total": total, "rates": rates})

with open(os.path.join(here, "golden.json"), "w") as f:
    json.dump({
        "adamw": {"shapes": shapes, "frozen": sorted(frozen), "weight_decay": weight_decay,
                  "initial": initial, "steps": steps},
        "clipping": {"max_norm": 1.0, "gradients": clip_grads, "norm": clip_norm, "clipped": clipped},
        "schedules": schedules,
        "warmup_ratio": [{"total": t, "ratio": r, "steps": math.ceil(t * r)} for t, r in
                         [(1000, 0.06), (10, 0.06), (333, 0.1), (7, 0.5)]],
    }, f, indent=None, separators=(",", ":"))
print("wrote golden.json")
