#!/usr/bin/python3
"""check_torch_load.py -- does a weights file written by nnc load into PyTorch?

Builds PyTorch's LeNet-5 (the W1 workload of bench/pytorch/bench.py, with
named layers instead of nn.Sequential's numeric names), reads the given
.safetensors file by hand (json + numpy, no safetensors package), checks the
format as it goes, and calls load_state_dict(strict=True). Prints OK and exits
0 when the file loads; prints the reason and exits 1 otherwise. It also prints
the logits for the input x[i] = sin(0.1 i), i = 0..783 (shape 1x1x28x28), to
compare with nnc's forward pass on the same input and weights.

    /usr/bin/python3 tools/check_torch_load.py lenet5.safetensors

Tests never need this script (nor PyTorch); it is a cross-check for humans/CI.
"""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


class LeNet5(nn.Module):
    """bench.py's lenet5(): conv5x5(1->6, pad 2) ReLU pool -> conv5x5(6->16) ReLU pool -> 400-120-84-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2, 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2, 2)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def read_safetensors(path):
    """Returns ({name: tensor}, metadata); raises ValueError on a malformed file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: {len(data)} bytes, shorter than the header length")
    (hlen,) = struct.unpack("<Q", data[:8])
    if hlen > len(data) - 8:
        raise ValueError(f"{path}: header length {hlen} exceeds the file")

    def no_dups(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{path}: duplicate key in the header")
        return dict(pairs)

    header = json.loads(data[8:8 + hlen].decode("utf-8"), object_pairs_hook=no_dups)
    meta = header.pop("__metadata__", {})
    body = data[8 + hlen:]
    tensors, ranges = {}, []
    for name, e in header.items():
        if set(e) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{path}: tensor '{name}' has fields {sorted(e)}")
        if e["dtype"] not in DTYPES:
            raise ValueError(f"{path}: tensor '{name}' has dtype {e['dtype']}")
        dt = np.dtype(DTYPES[e["dtype"]]).newbyteorder("<")
        begin, end = e["data_offsets"]
        count = int(np.prod(e["shape"], dtype=np.int64))
        if end - begin != count * dt.itemsize or not 0 <= begin <= end <= len(body):
            raise ValueError(f"{path}: tensor '{name}' has data_offsets {e['data_offsets']} for shape {e['shape']}")
        arr = np.frombuffer(body, dtype=dt, count=count, offset=begin).reshape(e["shape"])
        tensors[name] = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True))
        ranges.append((begin, end))
    pos = 0
    for begin, end in sorted(ranges):
        if begin != pos:
            raise ValueError(f"{path}: data ranges do not tile the data region (at byte {begin}, expected {pos})")
        pos = end
    if pos != len(body):
        raise ValueError(f"{path}: {len(body) - pos} bytes after the last tensor")
    return tensors, meta


def main():
    if len(sys.argv) != 2:
        print("usage: check_torch_load.py FILE.safetensors")
        return 2
    path = sys.argv[1]
    try:
        state, meta = read_safetensors(path)
        model = LeNet5()
        model.load_state_dict(state, strict=True)
    except (OSError, ValueError, KeyError, RuntimeError, UnicodeDecodeError) as e:
        print(f"FAIL: {e}")
        return 1
    with torch.no_grad():
        x = torch.sin(0.1 * torch.arange(784, dtype=torch.float32)).reshape(1, 1, 28, 28)
        logits = model(x)[0].tolist()
    print(f"OK: {len(state)} tensors loaded with strict=True, metadata {meta}")
    print("logits(sin input): " + " ".join(f"{v:.6f}" for v in logits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
