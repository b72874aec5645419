#!/usr/bin/python3
"""gen_refs.py -- reference values from PyTorch for tests/test_torch_ref.c.

Regenerate (needs PyTorch; the committed files mean the tests never do):

    /usr/bin/python3 tools/gen_refs.py [OUT_DIR]      (default tests/ref)

For every case: a fixed seed (torch.manual_seed), float32 inputs and
parameters drawn with torch (so the stored values are exactly what nnc reads),
the op computed by PyTorch in float64 from those values, backward with a random
float32 upstream gradient "dy", and every expected value (y, dx, dw, ...)
rounded once to float32. One safetensors file per case, written by hand below
(no safetensors package): tensors F32 (labels I64), metadata naming the op and
its attributes. Tensor names:
    x / x0, x1, ... inputs (and their gradients dx / dx0, dx1, ...)
    w, b            weight and bias (dw, db)
    gamma, beta     batch-norm affine parameters (dgamma, dbeta)
    running_mean, running_var, num_batches_tracked          state before
    running_mean_out, running_var_out, num_batches_tracked_out  state after
    labels (I64), target (dtarget)                          loss operands
    dy              upstream gradient (1 element for losses: the loss weight)
    y               forward output
Metadata keys: "op" and the op's attributes ("stride": "2,1", ...), pairs
given as "h,w".

Dropout has no case: its mask comes from PyTorch's generator, which nnc's
counter-based streams do not reproduce, so there is no PyTorch reference to
match (nnc's dropout is covered by its own gradient check and statistics).

Files written (tests/ref/<case>.safetensors):
    linear linear_nobias linear_4d
    conv2d_3x3 conv2d_3x3_nobias conv2d_stride2_pad10 conv2d_dilation2
    conv2d_groups2 conv2d_depthwise conv2d_lenet5x5 conv2d_lenet5x5_nobias
    maxpool2d_2x2s2 maxpool2d_3x3s2 maxpool2d_3x3s1p1 maxpool2d_2x2s2_ceil
    maxpool2d_3x3s2p1_ceil
    avgpool2d_2x2s2 avgpool2d_3x3s2p1_cip avgpool2d_3x3s2p1_nocip
    avgpool2d_3x3s2p1_ceil_cip avgpool2d_3x3s2p1_ceil_nocip
    global_avgpool flatten reshape add concat3
    relu sigmoid tanh softmax_2d softmax_4d log_softmax_2d log_softmax_4d
    batchnorm1d_train batchnorm2d_train batchnorm2d_eval
    cross_entropy_mean cross_entropy_sum mse_mean mse_sum
"""
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

F32, F64 = torch.float32, torch.float64
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def pair(v):
    return "%d,%d" % (v if isinstance(v, tuple) else (v, v))


def randn(*shape):
    """float32 values (what the file stores), as float64 leaves for the math."""
    return torch.randn(*shape, dtype=F32).to(F64).requires_grad_(True)


def uniform(lo, hi, *shape):
    return (lo + (hi - lo) * torch.rand(*shape, dtype=F32)).to(F32).to(F64).requires_grad_(True)


def backward(y, dy):
    y.backward(dy)


# ------------------------------------------------------------------ linear
def linear_case(name, seed, xshape, out, bias):
    @case
    def build():
        torch.manual_seed(seed)
        x = randn(*xshape)
        fan_in = 1
        for d in xshape[1:]:
            fan_in *= d
        w = randn(out, fan_in)
        b = randn(out) if bias else None
        y = F.linear(x.flatten(1), w, b)
        dy = randn(*y.shape).detach()
        backward(y, dy)
        t = {"x": x, "w": w, "dy": dy, "y": y, "dx": x.grad, "dw": w.grad}
        if bias:
            t.update(b=b, db=b.grad)
        return name, t, {"op": "linear", "bias": str(int(bias))}


linear_case("linear", 1, (3, 7), 5, True)
linear_case("linear_nobias", 2, (3, 7), 5, False)
linear_case("linear_4d", 3, (2, 3, 2, 2), 4, True)  # x flattened after dim 0


# ------------------------------------------------------------------ conv2d
def conv_case(name, seed, xshape, k, ks, stride=1, pad=0, dilation=1, groups=1, bias=True):
    @case
    def build():
        torch.manual_seed(seed)
        n, c, h, wd = xshape
        x = randn(*xshape)
        w = randn(k, c // groups, ks[0], ks[1])
        b = randn(k) if bias else None
        y = F.conv2d(x, w, b, stride=stride, padding=pad, dilation=dilation, groups=groups)
        dy = randn(*y.shape).detach()
        backward(y, dy)
        t = {"x": x, "w": w, "dy": dy, "y": y, "dx": x.grad, "dw": w.grad}
        if bias:
            t.update(b=b, db=b.grad)
        meta = {"op": "conv2d", "stride": pair(stride), "pad": pair(pad), "dilation": pair(dilation),
                "groups": str(groups), "bias": str(int(bias))}
        return name, t, meta


conv_case("conv2d_3x3", 10, (2, 3, 6, 5), 5, (3, 3), pad=1)
conv_case("conv2d_3x3_nobias", 11, (2, 3, 6, 5), 5, (3, 3), pad=1, bias=False)
# stride 2 in both dims, padding 1 in H and 0 in W, odd/non-square input
conv_case("conv2d_stride2_pad10", 12, (2, 3, 7, 8), 5, (3, 3), stride=2, pad=(1, 0))
conv_case("conv2d_dilation2", 13, (2, 3, 7, 7), 4, (3, 3), pad=1, dilation=(2, 2), bias=False)
conv_case("conv2d_groups2", 14, (2, 6, 5, 5), 4, (3, 3), pad=1, groups=2)
conv_case("conv2d_depthwise", 15, (2, 5, 5, 6), 5, (3, 3), pad=1, groups=5)
conv_case("conv2d_lenet5x5", 16, (2, 1, 8, 8), 6, (5, 5), pad=2)
conv_case("conv2d_lenet5x5_nobias", 17, (2, 1, 8, 8), 6, (5, 5), pad=2, bias=False)


# ----------------------------------------------------------------- pooling
def pool_case(name, seed, kind, xshape, kernel, stride, pad=0, ceil_mode=False, count_include_pad=True):
    @case
    def build():
        torch.manual_seed(seed)
        x = randn(*xshape)
        if kind == "maxpool2d":
            y = F.max_pool2d(x, kernel, stride, pad, ceil_mode=ceil_mode)
        else:
            y = F.avg_pool2d(x, kernel, stride, pad, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
        dy = randn(*y.shape).detach()
        backward(y, dy)
        meta = {"op": kind, "kernel": pair(kernel), "stride": pair(stride), "pad": pair(pad),
                "ceil_mode": str(int(ceil_mode))}
        if kind == "avgpool2d":
            meta["count_include_pad"] = str(int(count_include_pad))
        return name, {"x": x, "dy": dy, "y": y, "dx": x.grad}, meta


pool_case("maxpool2d_2x2s2", 20, "maxpool2d", (2, 3, 6, 6), 2, 2)
pool_case("maxpool2d_3x3s2", 21, "maxpool2d", (2, 3, 7, 7), 3, 2)  # overlapping windows
pool_case("maxpool2d_3x3s1p1", 22, "maxpool2d", (2, 3, 5, 5), 3, 1, 1)
pool_case("maxpool2d_2x2s2_ceil", 23, "maxpool2d", (2, 3, 5, 7), 2, 2, ceil_mode=True)
pool_case("maxpool2d_3x3s2p1_ceil", 24, "maxpool2d", (2, 3, 6, 7), 3, 2, 1, ceil_mode=True)
pool_case("avgpool2d_2x2s2", 25, "avgpool2d", (2, 3, 6, 6), 2, 2)
pool_case("avgpool2d_3x3s2p1_cip", 26, "avgpool2d", (2, 3, 7, 6), 3, 2, 1, count_include_pad=True)
pool_case("avgpool2d_3x3s2p1_nocip", 27, "avgpool2d", (2, 3, 7, 6), 3, 2, 1, count_include_pad=False)
# H=6: the last window (ceil) starts inside the input and runs past the
# padding, so with count_include_pad the divisor is clipped to the padded
# extent (2, not 3); W=7: the last window ends exactly on the padding.
pool_case("avgpool2d_3x3s2p1_ceil_cip", 28, "avgpool2d", (2, 3, 6, 7), 3, 2, 1, ceil_mode=True, count_include_pad=True)
pool_case("avgpool2d_3x3s2p1_ceil_nocip", 29, "avgpool2d", (2, 3, 6, 7), 3, 2, 1, ceil_mode=True, count_include_pad=False)


@case
def global_avgpool():
    torch.manual_seed(30)
    x = randn(2, 5, 3, 4)
    y = F.adaptive_avg_pool2d(x, 1)
    dy = randn(*y.shape).detach()
    backward(y, dy)
    return "global_avgpool", {"x": x, "dy": dy, "y": y, "dx": x.grad}, {"op": "global_avgpool"}


# ------------------------------------------------------------------- shape
@case
def flatten():
    torch.manual_seed(31)
    x = randn(2, 3, 2, 2)
    y = torch.flatten(x, 1)
    dy = randn(*y.shape).detach()
    backward(y, dy)
    return "flatten", {"x": x, "dy": dy, "y": y, "dx": x.grad}, {"op": "flatten"}


@case
def reshape():
    torch.manual_seed(32)
    x = randn(2, 3, 2, 2)
    y = x.reshape(2, 4, -1)
    dy = randn(*y.shape).detach()
    backward(y, dy)
    return "reshape", {"x": x, "dy": dy, "y": y, "dx": x.grad}, {"op": "reshape", "shape": "4,-1"}


@case
def add():
    torch.manual_seed(33)
    a, b = randn(2, 3, 4), randn(2, 3, 4)
    y = a + b
    dy = randn(*y.shape).detach()
    backward(y, dy)
    return "add", {"x0": a, "x1": b, "dy": dy, "y": y, "dx0": a.grad, "dx1": b.grad}, {"op": "add"}


@case
def concat3():
    torch.manual_seed(34)
    xs = [randn(2, 2, 3, 3), randn(2, 3, 3, 3), randn(2, 1, 3, 3)]
    y = torch.cat(xs, 1)
    dy = randn(*y.shape).detach()
    backward(y, dy)
    t = {"dy": dy, "y": y}
    for i, x in enumerate(xs):
        t["x%d" % i] = x
        t["dx%d" % i] = x.grad
    return "concat3", t, {"op": "concat", "n": "3", "axis": "1"}


# ------------------------------------------------------------- activations
def unary_case(name, seed, op, fn, xshape):
    @case
    def build():
        torch.manual_seed(seed)
        x = randn(*xshape)
        y = fn(x)
        dy = randn(*y.shape).detach()
        backward(y, dy)
        meta = {"op": op}
        if op in ("softmax", "log_softmax"):
            meta["dim"] = "1"
        return name, {"x": x, "dy": dy, "y": y, "dx": x.grad}, meta


unary_case("relu", 40, "relu", F.relu, (3, 7))
unary_case("sigmoid", 41, "sigmoid", torch.sigmoid, (3, 7))
unary_case("tanh", 42, "tanh", torch.tanh, (3, 7))
unary_case("softmax_2d", 43, "softmax", lambda x: F.softmax(x, 1), (3, 7))
unary_case("softmax_4d", 44, "softmax", lambda x: F.softmax(x, 1), (2, 5, 3, 2))
unary_case("log_softmax_2d", 45, "log_softmax", lambda x: F.log_softmax(x, 1), (3, 7))
unary_case("log_softmax_4d", 46, "log_softmax", lambda x: F.log_softmax(x, 1), (2, 5, 3, 2))


# -------------------------------------------------------------- batch norm
def bn_case(name, seed, xshape, training):
    @case
    def build():
        torch.manual_seed(seed)
        c = xshape[1]
        x = randn(*xshape)
        gamma = uniform(0.5, 1.5, c)
        beta = randn(c)
        rm0 = torch.randn(c, dtype=F32).to(F64) * 0.5
        rv0 = (0.5 + torch.rand(c, dtype=F32)).to(F64)
        rm, rv = rm0.clone(), rv0.clone()
        eps, momentum = 1e-5, 0.1
        # F.batch_norm updates rm/rv in place in training mode (unbiased variance)
        y = F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=momentum, eps=eps)
        t = {"x": x, "gamma": gamma, "beta": beta, "running_mean": rm0, "running_var": rv0, "y": y,
             "num_batches_tracked": torch.tensor(3, dtype=torch.int64)}
        if training:
            dy = randn(*y.shape).detach()
            backward(y, dy)
            t.update(dy=dy, dx=x.grad, dgamma=gamma.grad, dbeta=beta.grad, running_mean_out=rm,
                     running_var_out=rv, num_batches_tracked_out=torch.tensor(4, dtype=torch.int64))
        meta = {"op": "batchnorm", "training": str(int(training)), "eps": "1e-05", "momentum": "0.1"}
        return name, t, meta


bn_case("batchnorm1d_train", 50, (4, 5), True)
bn_case("batchnorm2d_train", 51, (3, 5, 3, 2), True)
# eval: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta, forward only
bn_case("batchnorm2d_eval", 52, (3, 5, 3, 2), False)


# ------------------------------------------------------------------ losses
def ce_case(name, seed, reduction):
    @case
    def build():
        torch.manual_seed(seed)
        x = randn(4, 7)
        labels = torch.randint(0, 7, (4,), dtype=torch.int64)
        y = F.cross_entropy(x, labels, reduction=reduction)
        dy = uniform(0.5, 1.5, 1).detach()
        backward(y, dy[0])
        return name, {"x": x, "labels": labels, "dy": dy, "y": y.reshape(1), "dx": x.grad}, \
            {"op": "cross_entropy", "reduction": reduction}


ce_case("cross_entropy_mean", 60, "mean")
ce_case("cross_entropy_sum", 61, "sum")


def mse_case(name, seed, reduction):
    @case
    def build():
        torch.manual_seed(seed)
        x, target = randn(3, 5), randn(3, 5)
        y = F.mse_loss(x, target, reduction=reduction)
        dy = uniform(0.5, 1.5, 1).detach()
        backward(y, dy[0])
        return name, {"x": x, "target": target, "dy": dy, "y": y.reshape(1), "dx": x.grad,
                      "dtarget": target.grad}, {"op": "mse", "reduction": reduction}


mse_case("mse_mean", 62, "mean")
mse_case("mse_sum", 63, "sum")


# ------------------------------------------------------------- safetensors
DT = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}


def write_safetensors(path, tensors, meta):
    """8-byte LE header length, JSON header (sorted keys, __metadata__ first),
    padded with spaces to a multiple of 8, then the data: 8-byte dtypes first
    so every tensor is aligned for its dtype, then by name."""
    ts = {}
    for k, v in tensors.items():
        v = v.detach()
        if v.is_floating_point():
            v = v.to(F32)
        ts[k] = v.contiguous()
    order = sorted(ts, key=lambda k: (-ts[k].element_size(), k))
    header, blobs, off = {}, [], 0
    for k in order:
        t = ts[k]
        raw = t.numpy().astype(DT[t.dtype][1]).tobytes()
        header[k] = {"dtype": DT[t.dtype][0], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = {"__metadata__": dict(sorted(meta.items()))}
    h.update(sorted(header.items()))
    js = json.dumps(h, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def write_cases(cases, prefix=""):
    """Builds every case and writes OUT_DIR/<prefix><name>.safetensors (OUT_DIR:
    argv[1], default tests/ref); the shared main of the gen_refs*.py scripts."""
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    total, names = 0, []
    for build in cases:
        name, tensors, meta = build()
        path = os.path.join(out, prefix + name + ".safetensors")
        write_safetensors(path, tensors, meta)
        total += os.path.getsize(path)
        names.append(name)
    assert len(set(names)) == len(names)
    print("%d files, %d bytes in %s" % (len(names), total, os.path.normpath(out)))
    print(" ".join(names))


def main():
    write_cases(CASES)


if __name__ == "__main__":
    main()
