#!/usr/bin/env python3
"""The PyTorch bridge (tools/torch) against aenet's command.

For every shipped model, every preset (random weights written by PyTorch,
random biases and scales),
a graph with every op and field, and a gray network: PyTorch's output
equals `aenet denoise` / `aenet upscale` within 1/255 on crops of real
photos (16-bit TIFF in and out, so the reference is not rounded to 8 bits).
Weights round-trip bit-exactly aenet -> PyTorch -> aenet (the tensors'
bytes, and the whole file for files aenet wrote). A short training run on
two processes (aenet degrade, train.py, aenet eval) reports the PSNR aenet
eval measures, and a run stopped and resumed ends where an uninterrupted
one does. Exit 77 (skipped) only when torch cannot be imported.

usage: test-torch.py AENET  (environment: AENET_SHARED_DATA)
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "torch"))

try:
    import torch
except ImportError:
    print("1..0 # SKIP torch cannot be imported")
    sys.exit(77)

import numpy as np
from PIL import Image

import aenet_torch
from aenet_torch import safetensors_io

CROP = 256
TOLERANCE = 1 / 255
AENET = sys.argv[1]
DATA = os.environ["AENET_SHARED_DATA"]
MODELS = os.path.join(HERE, "..", "models")
PHOTOS = [os.path.join(DATA, "real", "rni15", "Dog.png"),
          os.path.join(DATA, "test", "cbsd68", "101085.png")]
SIGMA = 25
# A hung child fails its check with a message; the test itself goes on.
SUBPROCESS_TIMEOUT = 240

# Every op and field of docs/model-format.md, section 3.
ALL_OPS = [
    {"op": "input", "channels": 3},
    {"op": "noise_level"},
    {"op": "concat", "in": [0, 1, 0]},
    {"op": "unshuffle", "factor": 3},
    {"op": "conv", "out": 16, "k": 1, "bias": False},
    {"op": "leaky_relu", "slope": 0.1},
    {"op": "conv", "out": 24, "k": 3, "stride": 2},
    {"op": "prelu"},
    {"op": "conv", "out": 24, "k": 1, "stride": 2},
    {"op": "conv", "out": 96, "k": 1},
    {"op": "shuffle", "factor": 2},
    {"op": "add", "in": [10, 7]},
    {"op": "conv", "out": 64, "k": 1},
    {"op": "shuffle", "factor": 2},
    {"op": "add", "in": [13, 5]},
    {"op": "relu"},
    {"op": "dwconv", "k": 5},
    {"op": "layernorm"},
    {"op": "conv", "out": 32, "k": 1},
    {"op": "dwconv", "k": 3, "bias": False},
    {"op": "gate"},
    {"op": "sigmoid"},
    {"op": "mul", "in": [20, 21]},
    {"op": "scale"},
    {"op": "add", "in": [23, 15]},
    {"op": "conv", "out": 27},
    {"op": "shuffle", "factor": 3},
    {"op": "add", "in": [26, 0]},
]

results = []


def check(ok, name, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}{' # ' + detail if detail else ''}",
          flush=True)


# ---- 16-bit RGB TIFF: written uncompressed, read as aenet writes them ----

def write_tiff16(path, rgb):
    """rgb: (h, w, 3) uint16."""
    h, w, _ = rgb.shape
    data = rgb.astype("<u2").tobytes()
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, None), (259, 3, 1, 1),
               (262, 3, 1, 2), (273, 4, 1, None), (277, 3, 1, 3), (278, 4, 1, h),
               (279, 4, 1, len(data)), (284, 3, 1, 1)]
    ifd_size = 2 + 12 * len(entries) + 4
    bits_at = 8 + ifd_size
    data_at = bits_at + 6
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 258:
            value = bits_at
        elif tag == 273:
            value = data_at
        fmt = "<HHII" if typ == 4 or tag == 258 else "<HHIHxx"
        ifd += struct.pack(fmt, tag, typ, count, value)
    with open(path, "wb") as f:
        f.write(b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)
                + struct.pack("<3H", 16, 16, 16) + data)


def read_tiff16(path):
    """An RGB 16-bit TIFF with deflate or no compression, horizontal
    predictor or none. Returns (h, w, 3) uint16."""
    raw = open(path, "rb").read()
    if raw[:4] != b"II*\0":
        raise ValueError(f"{path}: not a little-endian TIFF")
    (at,) = struct.unpack_from("<I", raw, 4)
    (n,) = struct.unpack_from("<H", raw, at)
    tags = {}
    for k in range(n):
        tag, typ, count = struct.unpack_from("<HHI", raw, at + 2 + 12 * k)
        size = {3: 2, 4: 4}.get(typ, 1) * count
        where = at + 10 + 12 * k
        if size > 4:
            (where,) = struct.unpack_from("<I", raw, where)
        fmt = {3: "H", 4: "I"}.get(typ, "B")
        tags[tag] = struct.unpack_from(f"<{count}{fmt}", raw, where)
    w, h = tags[256][0], tags[257][0]
    if tags[258][0] != 16 or tags[277][0] != 3:
        raise ValueError(f"{path}: not 16-bit RGB")
    compression, predictor = tags.get(259, (1,))[0], tags.get(317, (1,))[0]
    strips = b""
    for offset, count in zip(tags[273], tags[279]):
        chunk = raw[offset:offset + count]
        strips += zlib.decompress(chunk) if compression in (8, 32946) else chunk
    image = np.frombuffer(strips, dtype="<u2").reshape(h, w, 3)
    if predictor == 2:
        image = np.cumsum(image, axis=1, dtype=np.uint16)
    return image


# ---- helpers ----

def crop(path, size):
    """A central size x size crop as (h, w, 3) uint8."""
    im = np.asarray(Image.open(path).convert("RGB"))
    y, x = (im.shape[0] - size) // 2, (im.shape[1] - size) // 2
    return im[y:y + size, x:x + size]


def run_aenet(model_path, task, rgb8, folder):
    """aenet's output for an 8-bit crop, as floats in [0, 1] (h, w, 3)."""
    src, dst = os.path.join(folder, "in.tif"), os.path.join(folder, "out.tif")
    write_tiff16(src, rgb8.astype(np.uint16) * 257)
    extra = ["--sigma", str(SIGMA)] if task == "denoise" else []
    subprocess.run([AENET, task, "-m", model_path, *extra, src, dst], check=True,
                   capture_output=True)
    return read_tiff16(dst).astype(np.float64) / 65535


def run_torch(model, rgb8):
    x = torch.from_numpy(rgb8.astype(np.float32) / 255).permute(2, 0, 1)
    with torch.no_grad():
        y = aenet_torch.run_image(model.net, x, SIGMA / 255 if model.task == "denoise" else None)
    return y.clamp(0, 1).permute(1, 2, 0).double().numpy()


def compare_outputs(label, model, model_path, folder):
    for photo in PHOTOS:
        # An odd crop size: the tiler's padding to the alignment is tested too.
        size = CROP // model.scale + 1
        rgb8 = crop(photo, size)
        ref = run_aenet(model_path, model.task, rgb8, folder)
        out = run_torch(model, rgb8)
        diff = float(np.abs(out - ref).max()) if out.shape == ref.shape else float("inf")
        check(diff <= TOLERANCE, f"{label} on {os.path.basename(photo)} ({size}x{size})",
              f"max difference {diff * 255:.4f}/255")


def randomise_vectors(model, bound):
    """Biases, slopes and scales uniform in [-bound, bound] (layer norms'
    weights stay 1), so that every parameter counts: fresh scales are 0,
    which leaves NAFNet's blocks out."""
    with torch.no_grad():
        for name, p in model.net.named_parameters():
            if not name.endswith("weight"):
                p.uniform_(-bound, bound)


def tensor_bytes(path):
    tensors, _ = safetensors_io.read(path)
    return {k: v.astype("<f4").tobytes() for k, v in tensors.items()}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_training(folder):
    """aenet degrade -> train.py on two processes (DDP, gloo) -> aenet eval:
    the exported model's PSNR is the one PyTorch's validation reported."""
    shards, val = os.path.join(folder, "shards"), os.path.join(folder, "val.safetensors")
    model = os.path.join(MODELS, "upscale-x2.safetensors")
    out = os.path.join(folder, "ft.safetensors")
    set5 = os.path.join(DATA, "test", "set5", "x2")
    subprocess.run([AENET, "degrade", "--task", "upscale", "--scale", "2", "--data",
                    os.path.join(DATA, "train", "t91"), "--out", shards, "--samples", "8",
                    "--patch", "24"], check=True, capture_output=True)
    subprocess.run([AENET, "eval", "-m", model, "--data", set5, "--threads", "1",
                    "--save-inputs", val], check=True, capture_output=True)
    # Rendezvous and gloo on the loopback address: with --standalone both
    # look up the machine's host name, and where that name does not resolve
    # (as on some CI machines) the processes wait for each other forever.
    # --redirects/--tee: torchrun 1.13 fails without them on Python 3.11.
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--node_rank=0",
              "--master_addr=127.0.0.1", f"--master_port={free_port()}", "--nproc_per_node=2",
              "--redirects", "1", "--tee", "1"]
    args = [os.path.join(HERE, "..", "tools", "torch", "train.py"), "--from", model,
            "--data", shards, "--val", val, "--out", out, "--steps", "2", "--batch", "4",
            "--warmup", "1", "--lr", "1e-4", "--threads", "1", "--workers", "0"]
    try:
        run = subprocess.run(launch + args, capture_output=True, text=True,
                             timeout=SUBPROCESS_TIMEOUT,
                             env=dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo"))
    except subprocess.TimeoutExpired as e:
        check(False, "train.py on two processes", f"no end after {e.timeout} s")
        return
    reported = [float(line.split("validation PSNR ")[1].split()[0])
                for line in run.stdout.splitlines() if "validation PSNR" in line]
    ok = run.returncode == 0 and len(reported) == 1
    check(ok, "train.py on two processes", "" if ok else run.stdout[-500:] + run.stderr[-1500:])
    if not ok:
        return
    ev = subprocess.run([AENET, "eval", "-m", out, "--data", set5, "--threads", "1", "--json"],
                        check=True, capture_output=True, text=True)
    measured = json.loads(ev.stdout)["conditions"][0]["psnr"]
    check(abs(measured - reported[0]) < 0.01, "aenet eval of the trained model gives the PSNR "
          "train.py reported", f"{measured} and {reported[0]} dB")

    # Stopped at step 2 and resumed, a run ends with the weights of an
    # uninterrupted one.
    train = [sys.executable, os.path.join(HERE, "..", "tools", "torch", "train.py")]
    common = ["--data", shards, "--val", val, "--steps", "4", "--batch", "2", "--warmup", "1",
              "--val-every", "0", "--threads", "1", "--workers", "0"]
    whole = os.path.join(folder, "whole.safetensors")
    parts = os.path.join(folder, "parts.safetensors")
    for args in (["--from", model, "--out", whole],
                 ["--from", model, "--out", parts, "--stop-at", "2"],
                 ["--resume", parts + ".ckpt.pt", "--out", parts]):
        subprocess.run(train + common + args, check=True, capture_output=True)
    a, b = (torch.load(p + ".ckpt.pt")["model"] for p in (whole, parts))
    check(all(torch.equal(a[k], b[k]) for k in a), "train.py --resume continues bit-exactly")


def main():
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    shipped = sorted(f for f in os.listdir(MODELS) if f.endswith(".safetensors"))
    out = subprocess.run([AENET, "train", "--help"], capture_output=True, text=True,
                         env=dict(os.environ, LC_ALL="C", LANGUAGE="")).stdout
    presets = [line.split()[0] for line in out.split("Architectures (--arch):")[1].splitlines()
               if line.startswith("  ")]
    count = (len(shipped) * (len(PHOTOS) + 2) + len(presets) * (len(PHOTOS) + 1)
             + 2 * len(PHOTOS) + 4)
    print(f"1..{count}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for name in shipped:
            path = os.path.join(MODELS, name)
            model = aenet_torch.load(path)
            compare_outputs(name, model, path, folder)
            # aenet -> PyTorch -> aenet: the file PyTorch writes is the file aenet wrote.
            copy = os.path.join(folder, "copy.safetensors")
            aenet_torch.save(model, copy)
            check(tensor_bytes(copy) == tensor_bytes(path), f"{name}: tensors round-trip")
            with open(copy, "rb") as a, open(path, "rb") as b:
                check(a.read() == b.read(), f"{name}: the whole file round-trips byte for byte")

        for arch in presets:
            model = aenet_torch.new_from_arch(arch, seed=7, aenet=AENET)
            randomise_vectors(model, 0.1)
            path = os.path.join(folder, arch + ".safetensors")
            aenet_torch.save(model, path, name=arch)
            compare_outputs(f"{arch} (random)", model, path, folder)
            again = aenet_torch.load(path)
            same = all(torch.equal(a, b) for a, b in
                       zip(model.net.state_dict().values(), again.net.state_dict().values()))
            check(same, f"{arch}: weights round-trip PyTorch -> file -> PyTorch")

        # Ops and fields no shipped model uses, with random biases and slopes.
        model = aenet_torch.AenetModel(aenet_torch.AenetNet(ALL_OPS).init_params(3))
        randomise_vectors(model, 0.3)
        path = os.path.join(folder, "all-ops.safetensors")
        aenet_torch.save(model, path)
        compare_outputs("every op", model, path, folder)

        # A gray network: the command gives it the mean of R, G and B.
        gray = [{"op": "input", "channels": 1}, {"op": "conv", "out": 8}, {"op": "relu"},
                {"op": "conv", "out": 1}, {"op": "add", "in": [0, 3]}]
        model = aenet_torch.AenetModel(aenet_torch.AenetNet(gray).init_params(5))
        path = os.path.join(folder, "gray.safetensors")
        aenet_torch.save(model, path)
        compare_outputs("a gray network", model, path, folder)

        check_training(folder)

        # An op the module does not know is a clear error naming it.
        try:
            aenet_torch.AenetNet([{"op": "input"}, {"op": "gelu"}])
            check(False, "unknown op refused")
        except aenet_torch.GraphError as e:
            check("gelu" in str(e), "unknown op refused with its name", str(e))

    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
