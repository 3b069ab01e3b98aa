#!/usr/bin/env python3
"""PyTorch's time for aenet's shipped models, the reference of issue #14.

    python3 tools/torch/bench.py [--threads 1] [--runs 5] [--aenet build/cli/aenet]

Runs the shipped denoiser on a 1920x1080 image and the x2 upscaler on a
960x540 one, whole images as aenet's tiler computes them (mirrored context
of the network's reach, sides rounded up to the alignment), and prints the
median time of --runs runs after one warm-up, with the effective speed:
2 x the network's nominal multiply-adds for the image / time. With --aenet,
`aenet bench` measures the same model and size on as many threads, and the
ratio of the two medians is printed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch

import aenet_torch

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models")
CASES = [("denoise.safetensors", 1920, 1080, 25 / 255), ("upscale-x2.safetensors", 960, 540, None)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--aenet", metavar="PROGRAM", help="also time `aenet bench` for comparison")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}")
    for name, w, h, level in CASES:
        path = os.path.join(MODELS, name)
        model = aenet_torch.load(path)
        net = model.net.eval()
        image = torch.rand(3, h, w, generator=torch.Generator().manual_seed(1))
        times = []
        with torch.no_grad():
            for run in range(a.runs + 1):
                start = time.perf_counter()
                aenet_torch.run_image(net, image, level)
                if run > 0:  # the first run is a warm-up
                    times.append(time.perf_counter() - start)
        median = statistics.median(times)
        gflops = 2 * net.macs_per_pixel * w * h / median / 1e9
        print(f"{name:24s} {w}x{h} input: median {median:.3f} s of {a.runs} "
              f"(min {min(times):.3f}, max {max(times):.3f}), {gflops:.1f} effective GFLOPS")
        if a.aenet:
            out = subprocess.run([a.aenet, "bench", "-m", path, "--size", f"{w}x{h}", "--threads",
                                  str(a.threads), "--repeat", str(a.runs), "--json"],
                                 check=True, capture_output=True, text=True).stdout
            t = json.loads(out)["runs"][0]["median_seconds"]
            print(f"{'  aenet bench':24s} {w}x{h} input: median {t:.3f} s of {a.runs}, "
                  f"{2 * net.macs_per_pixel * w * h / t / 1e9:.1f} effective GFLOPS; "
                  f"PyTorch / aenet = {median / t:.2f}")


if __name__ == "__main__":
    main()
