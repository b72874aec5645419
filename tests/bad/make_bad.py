#!/usr/bin/env python3
"""make_bad.py -- writes the malformed inputs of tests/bad/<format>/ (checked
by tests/test_bad_inputs.c and listed in docs/BAD_INPUTS.md). Standard library
only; run from the repository root; the output is deterministic."""
import gzip, json, os, struct, zlib

def put(fmt, name, data):
    d = os.path.join("tests", "bad", fmt)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ------------------------------------------------------------- safetensors
def st_raw(header, data=b""):
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data

def st(hdr, data):
    return st_raw(json.dumps(hdr, separators=(",", ":")).encode(), data)

ok = lambda off=0, n=4, dt="F32", shape=[1]: {"dtype": dt, "shape": shape, "data_offsets": [off, off + n]}
put("safetensors", "short.safetensors", b"\x10\0\0\0\0")
put("safetensors", "hlen_past_end.safetensors", struct.pack("<Q", 1 << 40) + b"{}      ")
put("safetensors", "not_json.safetensors", st_raw(b"hello, world"))
put("safetensors", "json_array.safetensors", st_raw(b"[1,2,3]"))
put("safetensors", "bad_utf8.safetensors", st_raw(b'{"w\xff":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4))
put("safetensors", "duplicate_name.safetensors",
    st_raw(b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8))
put("safetensors", "unknown_dtype.safetensors", st({"w": ok(dt="Q7")}, b"\0" * 4))
put("safetensors", "bf16.safetensors", st({"w": ok(n=2, dt="BF16")}, b"\0" * 2))
put("safetensors", "negative_dim.safetensors", st({"w": ok(shape=[-1])}, b"\0" * 4))
put("safetensors", "shape_overflow.safetensors", st({"w": ok(shape=[1 << 32, 1 << 32, 4])}, b"\0" * 4))
put("safetensors", "span_mismatch.safetensors", st({"w": ok(n=8, shape=[1])}, b"\0" * 8))
put("safetensors", "offsets_reversed.safetensors", st({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4))
put("safetensors", "past_data.safetensors", st({"w": ok(n=16, shape=[4])}, b"\0" * 8))
put("safetensors", "overlap.safetensors", st({"a": ok(0, 8, shape=[2]), "b": ok(4, 4)}, b"\0" * 8))
put("safetensors", "gap.safetensors", st({"a": ok(0), "b": ok(8)}, b"\0" * 12))
put("safetensors", "trailing.safetensors", st({"w": ok()}, b"\0" * 12))
put("safetensors", "missing_offsets.safetensors", st({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4))
put("safetensors", "extra_field.safetensors", st({"w": dict(ok(), offset=3)}, b"\0" * 4))
put("safetensors", "meta_not_string.safetensors", st({"__metadata__": {"epoch": 3}, "w": ok()}, b"\0" * 4))
put("safetensors", "too_many_dims.safetensors", st({"w": ok(shape=[1] * 7)}, b"\0" * 4))
put("safetensors", "entry_not_object.safetensors", st({"w": 5}, b""))
put("safetensors", "float_offsets.safetensors", st({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0.0, 4.0]}}, b"\0" * 4))

# --------------------------------------------------------------------- IDX
def idx(dims, data=None, magic=None):
    n = 1
    for d in dims: n *= d
    if data is None: data = bytes(i & 255 for i in range(n))
    head = magic if magic is not None else bytes([0, 0, 8, len(dims)])
    return head + b"".join(struct.pack(">I", d) for d in dims) + data

put("idx", "bad_magic.idx", b"\x01\x02\x08\x01" + struct.pack(">I", 2) + b"ab")
put("idx", "type_f32.idx", idx([2], b"\0" * 8, magic=bytes([0, 0, 0x0D, 1])))
put("idx", "ndim0.idx", bytes([0, 0, 8, 0]) + b"abc")
put("idx", "ndim5.idx", idx([1] * 5, magic=bytes([0, 0, 8, 5])))
put("idx", "zero_dim.idx", idx([3, 0, 2], b""))
put("idx", "short_magic.idx", b"\0\0")
put("idx", "short_dims.idx", bytes([0, 0, 8, 3]) + struct.pack(">I", 5))
put("idx", "truncated_data.idx", idx([4, 4])[:-3])
put("idx", "trailing.idx", idx([4]) + b"extra")
put("idx", "too_many_elems.idx", bytes([0, 0, 8, 2]) + struct.pack(">II", 1 << 16, 1 << 16) + b"\0" * 16)
good_gz = gzip.compress(idx([8, 8]), mtime=0)
put("idx", "gz_truncated.idx.gz", good_gz[: len(good_gz) // 2])
corrupt = bytearray(good_gz); corrupt[12] ^= 0xFF; corrupt[13] ^= 0x55
put("idx", "gz_corrupt.idx.gz", bytes(corrupt))
put("idx", "gz_trailing.idx.gz", gzip.compress(idx([8, 8]) + b"more", mtime=0))
# a dataset pair: labels beyond the class count, and counts that disagree
put("idx", "images3.idx3", idx([3, 2, 2]))
put("idx", "labels3_big.idx1", idx([3], bytes([0, 1, 12])))
put("idx", "labels2.idx1", idx([2], bytes([0, 1])))
put("idx", "labels_2d.idx", idx([3, 1], bytes([0, 1, 2])))

# ------------------------------------------------------------------ images
put("image", "empty.pgm", b"")
put("image", "p1.pbm", b"P1\n2 2\n0 1\n1 0\n")
put("image", "jpeg.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF\0")
put("image", "not_image.txt", b"hello, world\n")
put("image", "zero_width.pgm", b"P5\n0 4\n255\n")
put("image", "huge_width.pgm", b"P5\n70000 1\n255\n" + b"\0" * 16)
put("image", "maxval0.pgm", b"P5 1 1 0\n\0")
put("image", "maxval_big.pgm", b"P2 1 1 70000\n5\n")
put("image", "truncated.pgm", b"P5\n4 4\n255\n" + b"\0" * 10)
put("image", "truncated16.pgm", b"P5 2 2 65535\n" + b"\0" * 6)
put("image", "sample_over_maxval.pgm", b"P2\n2 1\n100\n50 300\n")
put("image", "ascii_garbage.pgm", b"P2\n2 1\n255\n12 ab\n")
put("image", "no_space_after_magic.pgm", b"P5x 2 2 255\n\0\0\0\0")
put("image", "no_height.ppm", b"P6\n# only a width\n12")

def chunk(t, d, crc=None):
    c = zlib.crc32(t + d) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", c)

SIG = b"\x89PNG\r\n\x1a\n"
def png(w, h, depth=8, ctype=0, raw=None, crc=None):
    if raw is None: raw = b"".join(b"\0" + bytes(w) for _ in range(h))
    return (SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0), crc) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

put("image", "png_bad_crc.png", png(2, 2, crc=0x12345678))
put("image", "png_truncated.png", png(4, 4)[:45])
put("image", "png_huge_dims.png", png(100000, 1, raw=b"\0" * 10))
put("image", "png_bomb.png", png(60000, 60000, raw=b"\0" * 100))
put("image", "png_bad_depth.png", png(2, 2, depth=3))
put("image", "png_short_idat.png", png(8, 8, raw=b"\0" * 9))
put("image", "png_sig_only.png", SIG)

# ----------------------------------------------------------------- weights
# Normalization metadata that does not parse (found by fuzz_weights: the
# message once read the strings after the file was closed).
put("weights", "bad_norm_std.safetensors", st({"__metadata__": {"nnc.norm_mean": "0.5", "nnc.norm_std": "0-35"}, "w": ok()}, b"\0" * 4))
put("weights", "zero_norm_std.safetensors", st({"__metadata__": {"nnc.norm_mean": "0.5", "nnc.norm_std": "0"}, "w": ok()}, b"\0" * 4))

# --------------------------------------------------------------------- cfg
# [net] training-schedule lists (found by fuzz_cfg: a huge step was converted
# to int, which is undefined behaviour). The malformed layer files are in
# tests/cfg/bad/ (tests/test_modelfile.c).
NET = b"[net]\nwidth=8\nheight=8\nchannels=1\npolicy=steps\n"
LAYER = b"[connected]\noutput=2\n"
put("cfg", "steps_huge.cfg", NET + b"steps=5,0,801e90\nscales=.1,.1,.1\n" + LAYER)
put("cfg", "steps_fraction.cfg", NET + b"steps=100,150.5\nscales=.1,.1\n" + LAYER)
put("cfg", "scales_negative.cfg", NET + b"steps=100\nscales=-2\n" + LAYER)
