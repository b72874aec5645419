#!/usr/bin/python3
"""gen_refs_conv.py -- PyTorch reference values for tests/test_conv_family_ref.c
(conv1d, conv3d, locally_connected2d, conv2d_table, rbf, channel_affine).

Regenerate (needs PyTorch 1.13; the committed files mean the tests never do):

    /usr/bin/python3 tools/gen_refs_conv.py [OUT_DIR]      (default tests/ref)

Same conventions as tools/gen_refs.py: a fixed seed per case, float32 inputs
and parameters drawn with torch, the op computed in float64 from those values,
backward with a random float32 upstream gradient "dy", expected values rounded
once to float32. Tensor names: x, w, b, dy, y, dx, dw, db (channel_affine:
w is the scale; conv2d_table: w the packed weights, "table" I64 [K, C]).
Metadata: "op", "stride", "pad", "dilation" (one number for conv1d, "d,h,w"
for conv3d, "h,w" for the 2-D ops), "kernel", "groups", "bias". PyTorch has no
locally-connected or connection-table module, nor an RBF layer: their
references are computed from PyTorch primitives (unfold + einsum; conv2d with
the packed weights scattered into a zero-filled full weight; broadcasting).
Files: tests/ref/conv_<case>.safetensors.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_refs import write_cases  # noqa: E402  (one writer for every reference script)

F32, F64 = torch.float32, torch.float64
CASES = []


def randn(*shape):
    return torch.randn(*shape, dtype=F32).to(F64).requires_grad_(True)


def triple(v):
    return "%d,%d,%d" % (v if isinstance(v, tuple) else (v, v, v))


def conv_case(name, seed, dims, xshape, k, ks, stride=1, pad=0, dilation=1, groups=1, bias=True):
    def build():
        torch.manual_seed(seed)
        c = xshape[1]
        x = randn(*xshape)
        w = randn(k, c // groups, *ks)
        b = randn(k) if bias else None
        fn = F.conv1d if dims == 1 else F.conv3d
        y = fn(x, w, b, stride=stride, padding=pad, dilation=dilation, groups=groups)
        dy = randn(*y.shape).detach()
        y.backward(dy)
        t = {"x": x, "w": w, "dy": dy, "y": y, "dx": x.grad, "dw": w.grad}
        if bias:
            t.update(b=b, db=b.grad)
        fmt = str if dims == 1 else triple
        meta = {"op": "conv1d" if dims == 1 else "conv3d", "stride": fmt(stride), "pad": fmt(pad),
                "dilation": fmt(dilation), "groups": str(groups), "bias": str(int(bias))}
        return "conv_" + name, t, meta
    CASES.append(build)


conv_case("conv1d_k3_p1", 101, 1, (2, 3, 9), 4, (3,), pad=1)
conv_case("conv1d_k3_s2_d2_nobias", 102, 1, (2, 3, 11), 5, (3,), stride=2, pad=2, dilation=2, bias=False)
conv_case("conv1d_k5_groups2", 103, 1, (3, 4, 8), 6, (5,), pad=2, groups=2)
conv_case("conv3d_k3_p1", 111, 3, (2, 2, 4, 5, 4), 3, (3, 3, 3), pad=1)
conv_case("conv3d_s212_p101_d121_nobias", 112, 3, (2, 3, 4, 5, 5), 4, (2, 3, 2), stride=(2, 1, 2), pad=(1, 0, 1),
          dilation=(1, 2, 1), bias=False)
conv_case("conv3d_groups2", 113, 3, (2, 4, 3, 4, 4), 6, (1, 3, 3), stride=(1, 2, 1), pad=(0, 1, 1), groups=2)


def pair(v):
    return "%d,%d" % (v if isinstance(v, tuple) else (v, v))


def simple_case(name, seed, op, fn):
    def build():
        torch.manual_seed(seed)
        t, meta = fn()
        y = t["y"]
        dy = randn(*y.shape).detach()
        y.backward(dy)
        t["dy"] = dy
        for k in ("x", "w", "b"):
            if k in t:
                t["d" + k] = t[k].grad
        meta["op"] = op
        return "conv_" + name, t, meta
    CASES.append(build)


# locally connected: PyTorch has no module; the reference is unfold + a
# per-position contraction, w [OH*OW, K, C*kh*kw], b [K, OH, OW]
def lc_case(name, seed, xshape, k, ks, stride, pad, bias=True):
    def fn():
        n, c, h, wd = xshape
        oh = (h + 2 * pad[0] - ks[0]) // stride[0] + 1
        ow = (wd + 2 * pad[1] - ks[1]) // stride[1] + 1
        x = randn(*xshape)
        w = randn(oh * ow, k, c * ks[0] * ks[1])
        cols = F.unfold(x, ks, padding=pad, stride=stride)  # [N, C*kh*kw, P], rows (c, r, s)
        y = torch.einsum("pkq,nqp->nkp", w, cols).reshape(n, k, oh, ow)
        t = {"x": x, "w": w}
        if bias:
            b = randn(k, oh, ow)
            y = y + b
            t["b"] = b
        t["y"] = y
        return t, {"kernel": pair(ks), "stride": pair(stride), "pad": pair(pad), "bias": str(int(bias))}
    simple_case(name, seed, "locally_connected2d", fn)


# connection-table convolution: the reference is conv2d with the packed
# weights scattered into a full [K, C, R, S] weight (zeros elsewhere)
def table_case(name, seed, xshape, table, ks, stride, pad):
    def fn():
        tab = torch.tensor(table, dtype=torch.int64)
        k, c = tab.shape
        conns = [(i, j) for i in range(k) for j in range(c) if table[i][j]]
        x = randn(*xshape)
        w = randn(len(conns), *ks)
        b = randn(k)
        full = torch.zeros(k, c, *ks, dtype=F64)
        for idx, (i, j) in enumerate(conns):
            full = full.index_put((torch.tensor([i]), torch.tensor([j])), w[idx].unsqueeze(0))
        y = F.conv2d(x, full, b, stride=stride, padding=pad)
        return {"x": x, "w": w, "b": b, "y": y, "table": tab}, {"stride": pair(stride), "pad": pair(pad)}
    simple_case(name, seed, "conv2d_table", fn)


LENET_C3 = [[1, 1, 1, 0, 0, 0], [0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1],
            [1, 0, 0, 0, 1, 1], [1, 1, 0, 0, 0, 1], [1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 0],
            [0, 0, 1, 1, 1, 1], [1, 0, 0, 1, 1, 1], [1, 1, 0, 0, 1, 1], [1, 1, 1, 0, 0, 1],
            [1, 1, 0, 1, 1, 0], [0, 1, 1, 0, 1, 1], [1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1]]


def rbf_fn():
    x, w = randn(3, 6), randn(4, 6)
    return {"x": x, "w": w, "y": ((x[:, None, :] - w[None, :, :]) ** 2).sum(-1)}, {}


def affine_fn():
    x, a, b = randn(2, 3, 4, 5), randn(3), randn(3)
    return {"x": x, "w": a, "b": b, "y": x * a.view(1, 3, 1, 1) + b.view(1, 3, 1, 1)}, {}


lc_case("lc_k3_bias", 121, (2, 2, 5, 5), 3, (3, 3), (1, 1), (0, 0))
lc_case("lc_k32_s21_p10_nobias", 122, (2, 3, 6, 5), 2, (3, 2), (2, 1), (1, 0), bias=False)
table_case("table_lenet_c3_k3", 131, (2, 6, 5, 5), LENET_C3, (3, 3), (1, 1), (0, 0))
table_case("table_3x4_s2_p1", 132, (2, 4, 5, 6), [[1, 0, 1, 0], [0, 1, 1, 1], [1, 0, 0, 0]], (3, 2), (2, 1), (1, 1))
simple_case("rbf", 141, "rbf", rbf_fn)
simple_case("channel_affine", 151, "channel_affine", affine_fn)


DT = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}


def main():
    write_cases(CASES)


if __name__ == "__main__":
    main()
