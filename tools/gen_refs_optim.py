#!/usr/bin/python3
"""gen_refs_optim.py -- PyTorch reference values for tests/test_optim_ref.c.

Regenerate (needs PyTorch; the committed files mean the tests never do):

    /usr/bin/python3 tools/gen_refs_optim.py [OUT_DIR]      (default tests/ref)

tests/ref/optim_steps.safetensors
    w0 [8], grads [5, 8]: float32 drawn with torch.manual_seed(0)
    <config> [5, 8]: the parameter after each of 5 torch.optim steps (float32,
    as PyTorch computes them), each step fed grads[t]. Configs (the C test has
    the same table):
      sgd            SGD(lr .1, momentum .9, weight_decay .01)
      sgd_nesterov   same, nesterov=True
      sgd_dampening  SGD(lr .1, momentum .9, dampening .5)
      sgd_lrchange   SGD(lr .1, momentum .9, wd .01), lr set to .01 before step 4
      sgd_clipnorm   clip_grad_norm_(max_norm .5) then SGD(lr .1, momentum .9)
      sgd_clipvalue  clip_grad_value_(.05) then SGD(lr .1)
      adam           Adam(lr .01, weight_decay .1)
      adamw          AdamW(lr .01, weight_decay .1)
      rmsprop        RMSprop(lr .01, weight_decay .01)
      rmsprop_mc     RMSprop(lr .01, momentum .9, centered=True)
      adagrad        Adagrad(lr .1, lr_decay .5, weight_decay .01, initial_accumulator_value .2)
tests/ref/optim_schedules.safetensors
    <schedule> [12]: the rate of epochs 0..11 from lr_scheduler stepped once per
    epoch with base lr 1 (float32 of PyTorch's float):
      step       StepLR(step_size 3, gamma .5)
      multistep  MultiStepLR(milestones [7, 11], gamma .1)  (nnc: 1-based 8, 12)
      exp        ExponentialLR(gamma .9)
      poly       PolynomialLR(total_iters 12, power 2)
      cosine     CosineAnnealingLR(T_max 12, eta_min .01)
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_refs import write_safetensors  # noqa: E402

S = 5


def run(w0, grads, make, hook=None, lr_at=None):
    w = w0.clone().requires_grad_(True)
    opt = make([w])
    out = []
    for t in range(S):
        if lr_at is not None:
            for gr in opt.param_groups:
                gr["lr"] = lr_at(t)
        w.grad = grads[t].clone()
        if hook:
            hook(w)
        opt.step()
        out.append(w.detach().clone())
    return torch.stack(out)


def optim_steps():
    torch.manual_seed(0)
    w0 = torch.randn(8)
    grads = torch.randn(S, 8) * 0.5
    o = torch.optim
    ts = {"w0": w0, "grads": grads}
    ts["sgd"] = run(w0, grads, lambda p: o.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01))
    ts["sgd_nesterov"] = run(w0, grads, lambda p: o.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True))
    ts["sgd_dampening"] = run(w0, grads, lambda p: o.SGD(p, lr=0.1, momentum=0.9, dampening=0.5))
    ts["sgd_lrchange"] = run(w0, grads, lambda p: o.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
                             lr_at=lambda t: 0.1 if t < 3 else 0.01)
    ts["sgd_clipnorm"] = run(w0, grads, lambda p: o.SGD(p, lr=0.1, momentum=0.9),
                             hook=lambda w: torch.nn.utils.clip_grad_norm_([w], 0.5))
    ts["sgd_clipvalue"] = run(w0, grads, lambda p: o.SGD(p, lr=0.1),
                              hook=lambda w: torch.nn.utils.clip_grad_value_([w], 0.05))
    ts["adam"] = run(w0, grads, lambda p: o.Adam(p, lr=0.01, weight_decay=0.1))
    ts["adamw"] = run(w0, grads, lambda p: o.AdamW(p, lr=0.01, weight_decay=0.1))
    ts["rmsprop"] = run(w0, grads, lambda p: o.RMSprop(p, lr=0.01, weight_decay=0.01))
    ts["rmsprop_mc"] = run(w0, grads, lambda p: o.RMSprop(p, lr=0.01, momentum=0.9, centered=True))
    ts["adagrad"] = run(w0, grads, lambda p: o.Adagrad(p, lr=0.1, lr_decay=0.5, weight_decay=0.01,
                                                       initial_accumulator_value=0.2))
    return "optim_steps", ts, {"what": "torch.optim steps", "torch": torch.__version__}


def schedules():
    ls = torch.optim.lr_scheduler
    makers = {
        "step": lambda o: ls.StepLR(o, step_size=3, gamma=0.5),
        "multistep": lambda o: ls.MultiStepLR(o, milestones=[7, 11], gamma=0.1),
        "exp": lambda o: ls.ExponentialLR(o, gamma=0.9),
        "poly": lambda o: ls.PolynomialLR(o, total_iters=12, power=2.0),
        "cosine": lambda o: ls.CosineAnnealingLR(o, T_max=12, eta_min=0.01),
    }
    ts = {}
    for name, mk in makers.items():
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=1.0)
        sch = mk(opt)
        lrs = []
        for _ in range(12):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sch.step()
        ts[name] = torch.tensor(lrs, dtype=torch.float64)
    return "optim_schedules", ts, {"what": "lr_scheduler per epoch, base lr 1", "torch": torch.__version__}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for build in (optim_steps, schedules):
        name, tensors, meta = build()
        path = os.path.join(out, name + ".safetensors")
        write_safetensors(path, tensors, meta)
        print("%s: %d bytes" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
