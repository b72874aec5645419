#!/usr/bin/python3
"""gen_refs_rnn.py -- PyTorch reference values for tests/test_rnn.c: the
recurrent layers (torch.nn.RNN / LSTM / GRU, batch_first=True) against
nnc_rnn_layer, forward and backward.

Regenerate (needs PyTorch; the committed files mean the tests never do):

    /usr/bin/python3 tools/gen_refs_rnn.py [OUT_DIR]      (default tests/ref)

Conventions of tools/gen_refs.py (whose writer it reuses): fixed seeds,
float32 inputs and weights, PyTorch computing in float64, expected values
rounded once to float32. One tests/ref/rnn_<case>.safetensors per case:
    x [N,T,I], lengths (i64 [N], cases with lengths: run through
    pack_padded_sequence / pad_packed_sequence), h0, c0 [N, L*D, H]
    (PyTorch's [L*D, N, H] with the batch first), the module's parameters
    under "rnn.<torch name>", y [N,T,H*D], h_n, c_n [N, L*D, H], the upstream
    gradients dy, dh_n, dc_n, and the gradients dx, dh0, dc0 and
    "grad.rnn.<torch name>" of every parameter.
Metadata: cell (rnn_tanh, rnn_relu, lstm, gru), hidden, layers,
bidirectional, bias, lengths, h0 (0/1), state (0/1: h_n/c_n compared).
"""
import os
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_refs import write_cases  # noqa: E402

F32, F64 = torch.float32, torch.float64
CASES = []


def f32(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=F32) * scale).to(F32).to(F64)


def rnn_case(name, seed, cell, N, T, I, H, layers=1, bidir=False, bias=True, lengths=None, h0=False, state=False):
    def build():
        torch.manual_seed(seed)
        kw = dict(input_size=I, hidden_size=H, num_layers=layers, bias=bias, batch_first=True, bidirectional=bidir)
        if cell.startswith("rnn_"):
            m = nn.RNN(nonlinearity=cell[4:], **kw)
        elif cell == "lstm":
            m = nn.LSTM(**kw)
        else:
            m = nn.GRU(**kw)
        m = m.to(F64)
        with torch.no_grad():
            for p in m.parameters():  # float32-representable weights
                p.copy_(p.to(F32).to(F64))
        D = 2 if bidir else 1
        x = f32(N, T, I).requires_grad_(True)
        hx = None
        h0t = c0t = None
        if h0:
            h0t = f32(layers * D, N, H, scale=0.5).requires_grad_(True)
            if cell == "lstm":
                c0t = f32(layers * D, N, H, scale=0.5).requires_grad_(True)
                hx = (h0t, c0t)
            else:
                hx = h0t
        if lengths is not None:
            packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
            out, hn = m(packed, hx)
            y, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        else:
            y, hn = m(x, hx)
        hn, cn = (hn if cell == "lstm" else (hn, None))
        dy = f32(*y.shape)
        if lengths is not None:  # padded outputs are constants: their gradient is irrelevant, keep it 0
            for i, l in enumerate(lengths):
                dy[i, l:] = 0
        loss = (y * dy).sum()
        t = {"x": x, "y": y, "dy": dy}
        if state:
            dhn = f32(*hn.shape)
            loss = loss + (hn * dhn).sum()
            t.update(h_n=hn.transpose(0, 1), dh_n=dhn.transpose(0, 1))
            if cn is not None:
                dcn = f32(*cn.shape)
                loss = loss + (cn * dcn).sum()
                t.update(c_n=cn.transpose(0, 1), dc_n=dcn.transpose(0, 1))
        loss.backward()
        t["dx"] = x.grad
        if h0:
            t.update(h0=h0t.transpose(0, 1), dh0=h0t.grad.transpose(0, 1))
            if c0t is not None:
                t.update(c0=c0t.transpose(0, 1), dc0=c0t.grad.transpose(0, 1))
        if lengths is not None:
            t["lengths"] = torch.tensor(lengths, dtype=torch.int64)
        for pn, p in m.named_parameters():
            t["rnn." + pn] = p
            t["grad.rnn." + pn] = p.grad
        meta = {"cell": cell, "hidden": str(H), "layers": str(layers), "bidirectional": str(int(bidir)),
                "bias": str(int(bias)), "lengths": str(int(lengths is not None)), "h0": str(int(h0)),
                "state": str(int(state))}
        return "rnn_" + name, t, meta
    CASES.append(build)


rnn_case("tanh", 1, "rnn_tanh", 3, 5, 4, 6)
rnn_case("relu_state", 2, "rnn_relu", 2, 4, 3, 5, state=True, h0=True)
rnn_case("tanh_bidir2", 3, "rnn_tanh", 3, 6, 4, 5, layers=2, bidir=True, state=True)
rnn_case("lstm", 4, "lstm", 3, 5, 4, 6, state=True)
rnn_case("lstm_h0_nobias", 5, "lstm", 2, 4, 3, 5, bias=False, h0=True, state=True)
rnn_case("lstm_bidir2_len", 6, "lstm", 4, 6, 3, 5, layers=2, bidir=True, lengths=[6, 3, 5, 1], h0=True, state=True)
rnn_case("lstm_stack3", 7, "lstm", 2, 5, 4, 4, layers=3)
rnn_case("gru", 8, "gru", 3, 5, 4, 6, state=True)
rnn_case("gru_bidir_len", 9, "gru", 3, 5, 4, 5, bidir=True, lengths=[2, 5, 4], h0=True, state=True)
rnn_case("gru_stack2_len", 10, "gru", 3, 6, 3, 4, layers=2, lengths=[6, 1, 4], state=True)
rnn_case("relu_bidir_h0", 12, "rnn_relu", 2, 4, 3, 3, bidir=True, h0=True, state=True)
rnn_case("tanh_len", 11, "rnn_tanh", 4, 5, 3, 4, lengths=[5, 2, 3, 1], h0=True, state=True)


def main():
    write_cases(CASES)


if __name__ == "__main__":
    main()
