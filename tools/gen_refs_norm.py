#!/usr/bin/python3
"""gen_refs_norm.py -- PyTorch reference values for tests/test_norm_ref.c
(local response norm, group norm, layer norm).

Regenerate (needs PyTorch; the committed files mean the tests never do):

    /usr/bin/python3 tools/gen_refs_norm.py [OUT_DIR]      (default tests/ref)

Same conventions as tools/gen_refs.py (whose safetensors writer this reuses):
float32 inputs and parameters drawn with a fixed seed, PyTorch computing in
float64 from those values, backward with a random float32 upstream gradient
"dy", expected values rounded once to float32. Tensors: x, w, b (affine
weight and bias), dy, y, dx, dw, db. Metadata: "op" and its attributes.

LRN is PyTorch's form (alpha divided by size); the AlexNet form is covered
by hand-computed values in tests/test_norm.c.

Files written (tests/ref/norm_<case>.safetensors):
    norm_lrn_size5 norm_lrn_size3_k2 norm_lrn_size4_3d
    norm_group_norm_g3 norm_group_norm_g1_noaffine norm_group_norm_gc_3d
    norm_layer_norm_last1 norm_layer_norm_last2 norm_layer_norm_noaffine
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in tools/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_refs import randn, uniform, write_cases  # noqa: E402

CASES = []


def lrn_case(name, seed, xshape, size, alpha, beta, k):
    def build():
        torch.manual_seed(seed)
        x = randn(*xshape)
        y = F.local_response_norm(x, size, alpha=alpha, beta=beta, k=k)
        dy = randn(*y.shape).detach()
        y.backward(dy)
        meta = {"op": "lrn", "size": str(size), "alpha": repr(alpha), "beta": repr(beta), "k": repr(k)}
        return name, {"x": x, "dy": dy, "y": y, "dx": x.grad}, meta
    CASES.append(build)


def affine_case(name, seed, op, xshape, pshape, affine, fn, meta):
    def build():
        torch.manual_seed(seed)
        x = randn(*xshape)
        w = uniform(0.5, 1.5, *pshape) if affine else None
        b = randn(*pshape) if affine else None
        y = fn(x, w, b)
        dy = randn(*y.shape).detach()
        y.backward(dy)
        t = {"x": x, "dy": dy, "y": y, "dx": x.grad}
        if affine:
            t.update(w=w, b=b, dw=w.grad, db=b.grad)
        m = {"op": op, "affine": str(int(affine)), "eps": "1e-05"}
        m.update(meta)
        return name, t, m
    CASES.append(build)


def gn_case(name, seed, xshape, groups, affine):
    affine_case(name, seed, "group_norm", xshape, (xshape[1],), affine,
                lambda x, w, b: F.group_norm(x, groups, w, b, eps=1e-5), {"groups": str(groups)})


def ln_case(name, seed, xshape, ndims, affine):
    ns = xshape[len(xshape) - ndims:]
    affine_case(name, seed, "layer_norm", xshape, ns, affine,
                lambda x, w, b: F.layer_norm(x, ns, w, b, eps=1e-5), {"ndims": str(ndims)})


# alpha large enough that the normalization term matters; borders in every case
lrn_case("norm_lrn_size5", 70, (2, 7, 3, 2), 5, 0.5, 0.75, 1.0)
lrn_case("norm_lrn_size3_k2", 71, (2, 4, 2, 3), 3, 1.0, 0.75, 2.0)
lrn_case("norm_lrn_size4_3d", 72, (2, 6, 3), 4, 2.0, 0.5, 1.0)  # even size: window c-2 .. c+1
gn_case("norm_group_norm_g3", 73, (2, 6, 3, 2), 3, True)
gn_case("norm_group_norm_g1_noaffine", 74, (3, 5, 2, 2), 1, False)
gn_case("norm_group_norm_gc_3d", 75, (2, 5, 4), 5, True)
ln_case("norm_layer_norm_last1", 76, (3, 5), 1, True)
ln_case("norm_layer_norm_last2", 77, (2, 3, 4, 2), 2, True)
ln_case("norm_layer_norm_noaffine", 78, (2, 4, 3), 1, False)


def main():
    write_cases(CASES)


if __name__ == "__main__":
    main()
