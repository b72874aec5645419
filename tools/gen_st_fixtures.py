#!/usr/bin/python3
"""gen_st_fixtures.py -- writes tests/st/hf_reference.safetensors with the
reference implementation (Hugging Face's `safetensors` package), so that
tests/test_safetensors.c checks nnc reads files it did not write itself. The
reference orders data by dtype alignment, then name, and puts __metadata__
first; nnc's writer orders by name. Needs `pip install safetensors numpy`;
the committed fixture means tests never do.

    python3 tools/gen_st_fixtures.py [OUT_DIR]    (default tests/st)
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "st")
    tensors = {
        "a_u8": np.array([0, 1, 127, 128, 255], np.uint8),
        "b_f64": np.array([[3.141592653589793, -1e300], [0.5, 2.0]], np.float64),
        "empty": np.zeros((0, 3), np.float32),
        "layer.f32": np.array([[1.5, -2, 3.25], [0, 1e-30, -7]], np.float32),
        "layer.i32": np.array([-1, 2, 2**31 - 1, -2**31], np.int32),
        "num_batches_tracked": np.array(-2**63 + 5, np.int64),
    }
    save_file(tensors, os.path.join(out, "hf_reference.safetensors"), metadata={"format": "pt", "k": "v"})


if __name__ == "__main__":
    main()
