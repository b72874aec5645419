#!/usr/bin/python3
"""gen_refs_seq.py -- PyTorch reference values for the sequence ops of issue 5
(compared in tests/test_seq_ops.c).

Regenerate (needs PyTorch; the committed files mean the tests never do):

    /usr/bin/python3 tools/gen_refs_seq.py [OUT_DIR]      (default tests/ref)

Same conventions as tools/gen_refs.py (whose writer it reuses): fixed seeds,
float32 inputs, PyTorch computing in float64, expected values rounded once to
float32, one tests/ref/seq_<case>.safetensors per case. Tensors:
    ids (I64), w (dw)        embedding: token ids [N, T], weight [V, E]
    x (dx), labels (I64)     cross-entropy: logits [N, T, C] or [N, C], labels
    x (dx), w (dw), b (db)   linear_seq: x [N, T, I], weight [O, I], bias [O]
    dy                       upstream gradient (1 element for losses: the loss weight)
    y                        forward output ([1] for losses)
Metadata: "builder" (embedding, cross_entropy_seq, linear_seq), "padding_idx",
"ignore_index", "reduction".
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_refs import write_cases, randn, uniform  # noqa: E402

CASES = []


def embedding_case(name, seed, n, t, vocab, dim, padding_idx):
    def build():
        torch.manual_seed(seed)
        ids = torch.randint(0, vocab, (n, t), dtype=torch.int64)
        if padding_idx >= 0:
            ids[:, -1] = padding_idx  # every sequence ends with padding
        w = randn(vocab, dim)
        y = F.embedding(ids, w, padding_idx=padding_idx if padding_idx >= 0 else None)
        dy = randn(*y.shape).detach()
        y.backward(dy)
        return name, {"ids": ids, "w": w, "y": y, "dy": dy, "dw": w.grad}, \
            {"builder": "embedding", "padding_idx": str(padding_idx)}
    CASES.append(build)


def ce_case(name, seed, shape, ignore_index, reduction, n_ignored):
    def build():
        torch.manual_seed(seed)
        c = shape[-1]
        x = randn(*shape)
        labels = torch.randint(0, c, shape[:-1], dtype=torch.int64)
        flat = labels.view(-1)
        flat[torch.randperm(flat.numel())[:n_ignored]] = ignore_index
        y = F.cross_entropy(x.reshape(-1, c), flat, ignore_index=ignore_index, reduction=reduction)
        dy = uniform(0.5, 1.5, 1).detach()
        y.backward(dy[0])
        return name, {"x": x, "labels": labels, "y": y.reshape(1), "dy": dy, "dx": x.grad}, \
            {"builder": "cross_entropy_seq", "ignore_index": str(ignore_index), "reduction": reduction}
    CASES.append(build)


def linear_seq_case(name, seed, n, t, i, o):
    def build():
        torch.manual_seed(seed)
        x, w, b = randn(n, t, i), randn(o, i), randn(o)
        y = F.linear(x, w, b)  # nn.Linear on [N, T, I]
        dy = randn(*y.shape).detach()
        y.backward(dy)
        return name, {"x": x, "w": w, "b": b, "y": y, "dy": dy, "dx": x.grad, "dw": w.grad, "db": b.grad}, \
            {"builder": "linear_seq"}
    CASES.append(build)


embedding_case("embedding", 500, 3, 4, 7, 5, -1)
embedding_case("embedding_padding2", 501, 4, 5, 6, 3, 2)
ce_case("cross_entropy_seq_mean", 510, (3, 5, 4), -100, "mean", 4)
ce_case("cross_entropy_seq_sum", 511, (2, 6, 5), -100, "sum", 3)
ce_case("cross_entropy_seq_ignore_class1_mean", 512, (3, 4, 3), 1, "mean", 2)
ce_case("cross_entropy_2d_ignore_mean", 513, (6, 5), -100, "mean", 2)
linear_seq_case("linear_seq", 520, 2, 3, 4, 5)


def main():
    write_cases(CASES, "seq_")


if __name__ == "__main__":
    main()
