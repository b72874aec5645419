#!/usr/bin/python3
"""gen_refs_act_loss.py -- PyTorch reference values for tests/test_act_loss_ref.c
(the activations and losses of issue 3).

Regenerate (needs PyTorch; the committed files mean the tests never do):

    /usr/bin/python3 tools/gen_refs_act_loss.py [OUT_DIR]      (default tests/ref)

Same conventions as tools/gen_refs.py (whose writer it reuses): fixed seeds,
float32 inputs, PyTorch computing in float64, expected values rounded once to
float32, one tests/ref/act_loss_<case>.safetensors per case. Tensors:
    x (dx)          input / logits / predictions and their gradient
    w (dw)          PReLU weight
    target (dtarget), labels (I64)                        loss operands
    dy              upstream gradient (1 element for losses: the loss weight)
    y               forward output ([1] for losses)
Metadata: "op" (nnc's op name), "builder" (which nnc builder), "a", "b"
(float attributes), "reduction", "training" ("0": forward only, eval mode),
"grads" (comma list of the gradients the test compares).

RReLU: eval mode (slope (lower + upper) / 2), forward only, and training
with lower == upper (forward and backward): random training slopes come from
PyTorch's generator, which nnc's counter streams do not reproduce. The binary hinge loss has no PyTorch equivalent (hand-computed
tests only). BCEWithLogits: only dx is compared (PyTorch 1.13's target
gradient is not the point of the loss).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_refs import write_cases, randn, uniform  # noqa: E402

F64 = torch.float64
CASES = []


def act(name, seed, builder, fn, shape, a=0.0, b=0.0, scale=1.0, training=True):
    def build():
        torch.manual_seed(seed)
        x = (randn(*shape).detach() * scale).to(torch.float32).to(F64).requires_grad_(True)
        y = fn(x)
        t = {"x": x, "y": y}
        if training:
            dy = randn(*y.shape).detach()
            y.backward(dy)
            t.update(dy=dy, dx=x.grad)
        return name, t, {"op": builder, "builder": builder, "a": repr(a), "b": repr(b),
                         "training": str(int(training)), "grads": "dx" if training else ""}
    CASES.append(build)


act("leaky_relu", 100, "leaky_relu", lambda x: F.leaky_relu(x, 0.01), (4, 9), a=0.01)
act("leaky_relu_0.2", 101, "leaky_relu", lambda x: F.leaky_relu(x, 0.2), (3, 2, 5), a=0.2)
act("elu", 102, "elu", lambda x: F.elu(x, 1.0), (4, 9), a=1.0, scale=2.0)
act("elu_0.5", 103, "elu", lambda x: F.elu(x, 0.5), (3, 7), a=0.5, scale=2.0)
act("selu", 104, "selu", F.selu, (4, 9), scale=2.0)
act("hardtanh", 105, "hardtanh", lambda x: F.hardtanh(x, -1.0, 1.0), (4, 9), a=-1.0, b=1.0, scale=2.0)
act("hardtanh_-0.5_2", 106, "hardtanh", lambda x: F.hardtanh(x, -0.5, 2.0), (4, 9), a=-0.5, b=2.0, scale=2.0)
act("softsign", 107, "softsign", F.softsign, (4, 9), scale=3.0)
act("softplus", 108, "softplus", lambda x: F.softplus(x, 1.0, 20.0), (4, 9), a=1.0, b=20.0, scale=15.0)
act("softplus_beta2_th1", 109, "softplus", lambda x: F.softplus(x, 2.0, 1.0), (4, 9), a=2.0, b=1.0, scale=2.0)
act("rrelu_eval", 110, "rrelu", lambda x: F.rrelu(x, 1.0 / 8, 1.0 / 3, training=False), (4, 9),
    a=1.0 / 8, b=1.0 / 3, training=False)
# training with lower == upper: the slope is fixed, so PyTorch's generator does not matter
act("rrelu_train_fixed", 111, "rrelu", lambda x: F.rrelu(x, 0.25, 0.25, training=True), (4, 9), a=0.25, b=0.25)


def prelu_case(name, seed, shape, nw):
    def build():
        torch.manual_seed(seed)
        x = randn(*shape)
        w = uniform(-0.5, 0.8, nw)
        y = F.prelu(x, w)
        dy = randn(*y.shape).detach()
        y.backward(dy)
        return name, {"x": x, "w": w, "y": y, "dy": dy, "dx": x.grad, "dw": w.grad}, \
            {"op": "prelu", "builder": "prelu", "a": "0", "b": "0", "training": "1", "grads": "dx,dw"}
    CASES.append(build)


prelu_case("prelu_channel_4d", 120, (3, 4, 2, 3), 4)
prelu_case("prelu_channel_2d", 121, (5, 6), 6)
prelu_case("prelu_shared", 122, (3, 4, 5), 1)


def loss_case(name, seed, builder, op, fn, reduction, a=0.0, b=0.0, kind="target", grads="dx,dtarget", scale=1.0):
    def build():
        torch.manual_seed(seed)
        x = (randn(4, 6).detach() * scale).to(torch.float32).to(F64).requires_grad_(True)
        t = {"x": x}
        if kind == "target":
            target = randn(4, 6)
            t["target"] = target
        elif kind == "prob":
            target = uniform(0.0, 1.0, 4, 6).detach()
            t["target"] = target
        else:
            target = torch.randint(0, 6, (4,), dtype=torch.int64)
            t["labels"] = target
        y = fn(x, target, reduction)
        dy = uniform(0.5, 1.5, 1).detach()
        y.backward(dy[0])
        t.update(y=y.reshape(1), dy=dy, dx=x.grad)
        if "dtarget" in grads:
            t["dtarget"] = target.grad
        return name, t, {"op": op, "builder": builder, "a": repr(a), "b": repr(b), "reduction": reduction,
                         "training": "1", "grads": grads}
    CASES.append(build)


loss_case("l1_mean", 130, "l1", "l1", lambda x, t, r: F.l1_loss(x, t, reduction=r), "mean")
loss_case("l1_sum", 131, "l1", "l1", lambda x, t, r: F.l1_loss(x, t, reduction=r), "sum")
loss_case("huber_mean", 132, "huber", "huber", lambda x, t, r: F.huber_loss(x, t, reduction=r, delta=1.0), "mean", a=1.0)
loss_case("huber_delta0.5_sum", 133, "huber", "huber", lambda x, t, r: F.huber_loss(x, t, reduction=r, delta=0.5), "sum",
          a=0.5)
loss_case("smooth_l1_beta0.5_mean", 134, "smooth_l1", "huber",
          lambda x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.5), "mean", a=0.5)
loss_case("smooth_l1_sum", 135, "smooth_l1", "huber", lambda x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=1.0),
          "sum", a=1.0)
loss_case("multi_margin_mean", 136, "multi_margin", "multi_margin",
          lambda x, t, r: F.multi_margin_loss(x, t, p=1, margin=1.0, reduction=r), "mean", a=1.0, kind="labels",
          grads="dx")
loss_case("multi_margin_m0.7_sum", 137, "multi_margin", "multi_margin",
          lambda x, t, r: F.multi_margin_loss(x, t, p=1, margin=0.7, reduction=r), "sum", a=0.7, kind="labels",
          grads="dx")
loss_case("bce_with_logits_mean", 138, "bce_with_logits", "bce_with_logits",
          lambda x, t, r: F.binary_cross_entropy_with_logits(x, t, reduction=r), "mean", kind="prob", grads="dx",
          scale=8.0)
loss_case("bce_with_logits_sum", 139, "bce_with_logits", "bce_with_logits",
          lambda x, t, r: F.binary_cross_entropy_with_logits(x, t, reduction=r), "sum", kind="prob", grads="dx",
          scale=30.0)
loss_case("cross_entropy_ls0.1_mean", 140, "cross_entropy_ls", "cross_entropy",
          lambda x, t, r: F.cross_entropy(x, t, reduction=r, label_smoothing=0.1), "mean", a=0.1, kind="labels",
          grads="dx")
loss_case("cross_entropy_ls0.3_sum", 141, "cross_entropy_ls", "cross_entropy",
          lambda x, t, r: F.cross_entropy(x, t, reduction=r, label_smoothing=0.3), "sum", a=0.3, kind="labels",
          grads="dx")


def main():
    write_cases(CASES, "act_loss_")


if __name__ == "__main__":
    main()
