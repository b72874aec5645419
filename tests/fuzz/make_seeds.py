#!/usr/bin/env python3
"""make_seeds.py -- writes the small seed inputs of the fuzz corpora
(tests/fuzz/corpus/<harness>/seed_*) with the standard library only: valid
files of each variant the loaders accept, and a few interesting invalid ones.
Crash regressions found by fuzzing live beside them as crash_* files and are
never rewritten. Run from the repository root; the output is deterministic."""
import gzip, json, os, shutil, struct, zlib

ROOT = os.path.join("tests", "fuzz", "corpus")

def put(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)

# ---- idx: magic 00 00 08 ndim, big-endian dims, u8 data
def idx(dims, data=None):
    n = 1
    for d in dims: n *= d
    if data is None: data = bytes((i * 37) & 255 for i in range(n))
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data

put("idx", "labels.idx1", idx([10], bytes(range(10))))
put("idx", "images.idx3", idx([2, 4, 3]))
put("idx", "4d.idx", idx([1, 2, 2, 2]))
put("idx", "images.idx3.gz", gzip.compress(idx([3, 5, 5]), mtime=0))
put("idx", "truncated.idx3", idx([2, 4, 3])[:-5])
put("idx", "f32.idx", bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 2) + b"\0" * 8)
put("idx", "huge_dims.idx", bytes([0, 0, 8, 3]) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 2))

# ---- safetensors: 8-byte LE header length, JSON header, data
def st(tensors, meta=None, pad=True, raw_header=None):
    hdr, data, off = {}, b"", 0
    if meta is not None: hdr["__metadata__"] = meta
    for name, dtype, shape, blob in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        data += blob
        off += len(blob)
    h = raw_header if raw_header is not None else json.dumps(hdr, separators=(",", ":")).encode()
    if pad: h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data

f32 = lambda *v: struct.pack("<%df" % len(v), *v)
put("safetensors", "one.safetensors", st([("w", "F32", [2, 2], f32(1, 2, 3, 4))]))
put("safetensors", "meta.safetensors", st([("a.weight", "F32", [3], f32(1, 2, 3)), ("a.bias", "I64", [1], struct.pack("<q", 7)),
                                          ("lbl", "U8", [2], b"\1\2"), ("i", "I32", [], struct.pack("<i", -1)),
                                          ("d", "F64", [1], struct.pack("<d", 0.5))], meta={"model": "mlp", "classes": "10"}))
put("safetensors", "empty_tensor.safetensors", st([("z", "F32", [0, 3], b"")]))
put("safetensors", "no_tensors.safetensors", st([], meta={"k": "v"}))
put("safetensors", "misaligned.safetensors", st([("b", "U8", [1], b"\5"), ("w", "F32", [1], f32(2))], pad=False))
put("safetensors", "bf16.safetensors", st([("h", "BF16", [2], b"\0\0\0\0")]))
put("safetensors", "overlap.safetensors", struct.pack("<Q", 104) + (b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                                                                  b'"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}').ljust(104) + b"xyz")
shutil.copy(os.path.join("tests", "st", "hf_reference.safetensors"), os.path.join(ROOT, "safetensors", "seed_hf_reference.safetensors"))

# ---- images: PGM/PPM (ASCII and binary, 8 and 16 bit) and PNG variants
put("image", "p2.pgm", b"P2\n# comment\n3 2\n255\n0 128 255\n1 2 3\n")
put("image", "p3.ppm", b"P3 2 1 15 0 1 2 3 4 5\n")
put("image", "p5.pgm", b"P5\n4 2\n255\n" + bytes(range(0, 256, 32)))
put("image", "p6.ppm", b"P6 2 2 255\n" + bytes(range(12)))
put("image", "p5_16bit.pgm", b"P5 2 1 65535\n" + struct.pack(">HH", 0, 65535))
put("image", "p5_truncated.pgm", b"P5 4 4 255\n" + b"\0" * 7)

def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

def png(w, h, depth, ctype, rows, extra=b"", interlace=0):
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    raw = b"".join(b"\0" + r for r in rows)
    return sig + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

put("image", "gray8.png", png(3, 2, 8, 0, [bytes([0, 128, 255]), bytes([1, 2, 3])]))
put("image", "rgb8.png", png(2, 2, 8, 2, [bytes(range(6)), bytes(range(6, 12))]))
put("image", "rgba8.png", png(1, 2, 8, 6, [bytes([1, 2, 3, 4]), bytes([5, 6, 7, 8])]))
put("image", "gray_alpha.png", png(2, 1, 8, 4, [bytes([9, 255, 10, 0])]))
put("image", "gray16.png", png(2, 1, 16, 0, [struct.pack(">HH", 0, 65535)]))
put("image", "gray1.png", png(8, 1, 1, 0, [bytes([0b10110001])]))
put("image", "palette.png", png(2, 1, 8, 3, [bytes([0, 1])], extra=chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255]))))
put("image", "trns.png", png(2, 1, 8, 2, [bytes(6)], extra=chunk(b"tRNS", struct.pack(">HHH", 0, 0, 0))))
put("image", "interlaced.png", png(3, 3, 8, 0, [bytes([1, 2, 3])] * 3, interlace=1))
put("image", "png_truncated.png", png(3, 2, 8, 0, [bytes([0, 128, 255]), bytes([1, 2, 3])])[:40])

# ---- cfg: the model-file tests' good and bad files
for sub in ("good", "bad"):
    d = os.path.join("tests", "cfg", sub)
    for name in sorted(os.listdir(d)):
        shutil.copy(os.path.join(d, name), os.path.join(ROOT, "cfg", "seed_%s_%s" % (sub, name)))

def st_raw_header(hdr):
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h

# ---- weights: the saved weights of fuzz_weights.c's model (its .cfg text is
# read from the harness's FUZZ_WEIGHTS_CFG), written by the nnc CLI given in
# $NNC (skipped without it), plus a file of another model.
import re, subprocess, tempfile
nnc = os.environ.get("NNC")
if nnc:
    src = open(os.path.join("tests", "fuzz", "fuzz_weights.c")).read()
    body = re.search(r"#define FUZZ_WEIGHTS_CFG(.*?)\n\n", src, re.S).group(1)
    cfg = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', body)).encode().decode("unicode_escape")
    with tempfile.TemporaryDirectory() as t:
        with open(os.path.join(t, "w.cfg"), "w") as f:
            f.write(cfg)
        out = os.path.join(t, "w.safetensors")
        subprocess.run([nnc, "train", os.path.join(t, "w.cfg"), "--epochs", "0", "--save", out, "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
        raw = open(out, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        hdr = json.loads(raw[8:8 + n])
        hdr["__metadata__"]["nnc.model"] = "tiny.cfg"  # not the temporary path
        put("weights", "tiny.safetensors", st_raw_header(hdr) + raw[8 + n:])
    put("weights", "other_model.safetensors", st([("w", "F32", [2, 2], f32(1, 2, 3, 4))], meta={"nnc.model": "mlp"}))
