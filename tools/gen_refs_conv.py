#!/usr/bin/python3
"""gen_refs_conv.py -- PyTorch reference values for tests/test_conv_family_ref.c
(conv1d and conv3d of the convolution-relatives slice).

Regenerate (needs PyTorch 1.13; the committed files mean the tests never do):

    /usr/bin/python3 tools/gen_refs_conv.py [OUT_DIR]      (default tests/ref)

Same conventions as tools/gen_refs.py: a fixed seed per case, float32 inputs
and parameters drawn with torch, the op computed in float64 from those values,
backward with a random float32 upstream gradient "dy", expected values rounded
once to float32. Tensor names: x, w, b, dy, y, dx, dw, db. Metadata: "op",
"stride", "pad", "dilation" (one number for conv1d, "d,h,w" for conv3d),
"groups", "bias". Files: tests/ref/conv_<case>.safetensors.
"""
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

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
conv_case("conv3d_s212_p101_d121_nobias", 112, 3, (2, 3, 5, 6, 7), 4, (2, 3, 2), stride=(2, 1, 2), pad=(1, 0, 1),
          dilation=(1, 2, 1), bias=False)
conv_case("conv3d_groups2", 113, 3, (2, 4, 3, 4, 4), 6, (1, 3, 3), stride=(1, 2, 1), pad=(0, 1, 1), groups=2)


DT = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}


def write_safetensors(path, tensors, meta):
    """8-byte LE header length, JSON header (sorted keys, __metadata__ first),
    padded with spaces to a multiple of 8, then the data sorted by name."""
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


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    total = 0
    for build in CASES:
        name, tensors, meta = build()
        path = os.path.join(out, name + ".safetensors")
        write_safetensors(path, tensors, meta)
        total += os.path.getsize(path)
    print("%d files, %d bytes in %s" % (len(CASES), total, os.path.normpath(out)))


if __name__ == "__main__":
    main()
