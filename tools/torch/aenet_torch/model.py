"""A PyTorch module computing an aenet graph (docs/model-format.md, section 3).

Tensors are NCHW, values in [0, 1] as stored in the file (gamma-encoded).
The module's parameters are named as in the model file ("nodes.<i>.weight",
"nodes.<i>.bias", "nodes.<i>.alpha", "nodes.<i>.scale"), so its state_dict
is the file's tensors. Semantics follow core/network.c, core/ops.c and
core/resize.c: convolutions (dwconv: groups = channels) are zero-padded by
k // 2, (un)shuffle is PyTorch's channel order, bicubic is MATLAB's kernel
with edge pixels replicated, noise_level is a constant channel sigma / 255,
layernorm normalises the channels of each pixel (eps AENET_LAYER_NORM_EPS),
gate multiplies the first half of the channels by the second.

`run_image` processes a whole image as aenet's tiler does: mirrored
(half-sample symmetric) context of the network's reach around it, sides
rounded up to the alignment, the margin cropped away afterwards.
"""
import json
import math
import os
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import safetensors_io

OPS = ("input", "noise_level", "conv", "relu", "leaky_relu", "prelu", "add", "concat",
       "shuffle", "unshuffle", "bicubic", "dwconv", "gate", "layernorm", "sigmoid", "mul",
       "scale")
# core/ops.h's AENET_LAYER_NORM_EPS
LAYER_NORM_EPS = 1e-6


class GraphError(ValueError):
    """A graph the module cannot build (unknown op, bad field, bad shape)."""


class _PReLU(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.alpha = nn.Parameter(torch.full((channels,), 0.25))


class _Scale(nn.Module):
    """A learned multiplier per channel (NAFNet's beta and gamma), starting at 0."""

    def __init__(self, channels):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(channels))


# ---- bicubic, MATLAB's imresize kernel (core/resize.c) ----

def _cubic(x):
    ax = abs(x)
    if ax <= 1.0:
        return 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1.0
    if ax <= 2.0:
        return -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4.0 * ax + 2.0
    return 0.0


def bicubic_matrix(in_len, out_len):
    """(out_len, in_len) float32 weights of one axis for enlarging; taps that
    fall outside take the edge pixel, as core/resize.c does."""
    scale = out_len / in_len
    if scale < 1:
        raise GraphError("bicubic only enlarges")
    taps = 6
    m = np.zeros((out_len, in_len), dtype=np.float64)
    for u in range(out_len):
        x = (u + 1) / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based centre
        left = math.floor(x - 2.0)
        w = [_cubic(x - (left + k)) for k in range(taps)]
        total = sum(w)
        for k in range(taps):
            m[u, min(max(left + k - 1, 0), in_len - 1)] += np.float32(w[k] / total)
    return torch.from_numpy(m.astype(np.float32))


class AenetNet(nn.Module):
    """The network of one graph (a list of node dicts)."""

    def __init__(self, graph):
        super().__init__()
        if isinstance(graph, str):
            graph = json.loads(graph)
        if not isinstance(graph, list) or not graph:
            raise GraphError("the graph must be a non-empty list of nodes")
        self.graph = graph
        self.nodes = nn.ModuleDict()
        self._parse()
        self._bicubic_cache = {}

    # ---- description ----

    def _parse(self):
        # per node: channels and size relative to the input image (Fraction)
        self.channels, self.size, self.inputs = [], [], []
        self.in_channels = 0
        self.takes_noise_level = False
        reach = []
        self.alignment = 1
        self.macs_per_pixel = 0.0
        for i, node in enumerate(self.graph):
            op = node.get("op") if isinstance(node, dict) else None
            if op not in OPS:
                raise GraphError(f"network node {i}: unknown operation {op!r} "
                                 f"(this module knows {', '.join(OPS)})")
            allowed = {"input": {"channels"}, "conv": {"out", "k", "stride", "bias"},
                       "dwconv": {"k", "bias"}, "leaky_relu": {"slope"}, "shuffle": {"factor"},
                       "unshuffle": {"factor"}, "bicubic": {"factor"}}.get(op, set())
            extra = set(node) - allowed - {"op", "in"}
            if extra:
                raise GraphError(f"network node {i} ({op}): unknown field {sorted(extra)[0]!r}")
            if op in ("input", "noise_level"):
                ins = []
            else:
                ins = node.get("in", [i - 1])
                if not ins or any(not isinstance(j, int) or not 0 <= j < i for j in ins):
                    raise GraphError(f"network node {i} ({op}): bad inputs {ins}")
            if op in ("add", "mul") and (len(ins) != 2 or any(
                    self.channels[j] != self.channels[ins[0]]
                    or self.size[j] != self.size[ins[0]] for j in ins)):
                raise GraphError(f"network node {i} ({op}): needs two inputs of the same "
                                 f"channels and size, not {ins}")
            self.inputs.append(ins)
            c = self.channels[ins[0]] if ins else 1
            size = self.size[ins[0]] if ins else Fraction(1)
            r = max((reach[j] for j in ins), default=Fraction(0))
            in_pixel = 1 / size  # one pixel of the input node, in image pixels
            if op == "input":
                c = node.get("channels", 3)
                self.in_channels = c
            elif op == "noise_level":
                self.takes_noise_level = True
            elif op == "conv":
                k, stride = node.get("k", 3), node.get("stride", 1)
                cout = node["out"]
                conv = nn.Conv2d(c, cout, k, stride=stride, padding=k // 2,
                                 bias=node.get("bias", True))
                self.nodes[str(i)] = conv
                r += (k // 2 + stride - 1) * in_pixel
                size = size / stride
                self.macs_per_pixel += float(size * size) * cout * c * k * k
                c = cout
            elif op == "dwconv":
                k = node.get("k", 3)
                self.nodes[str(i)] = nn.Conv2d(c, c, k, padding=k // 2, groups=c,
                                               bias=node.get("bias", True))
                r += k // 2 * in_pixel
                self.macs_per_pixel += float(size * size) * c * k * k
            elif op == "gate":
                if c % 2:
                    raise GraphError(f"network node {i} (gate): {c} channels, not an even "
                                     f"number")
                c //= 2
            elif op == "layernorm":
                self.nodes[str(i)] = nn.LayerNorm(c, eps=LAYER_NORM_EPS)
            elif op == "scale":
                self.nodes[str(i)] = _Scale(c)
            elif op == "prelu":
                self.nodes[str(i)] = _PReLU(c)
            elif op == "concat":
                c = sum(self.channels[j] for j in ins)
            elif op in ("shuffle", "unshuffle", "bicubic"):
                f = node.get("factor", 2)
                if op == "shuffle":
                    c, size = c // (f * f), size * f
                elif op == "unshuffle":
                    r += (f - 1) * in_pixel
                    c, size = c * f * f, size / f
                else:
                    r += 3 * in_pixel
                    size = size * f
            self.alignment = math.lcm(self.alignment, size.denominator)
            self.channels.append(c)
            self.size.append(size)
            reach.append(r)
        out = self.size[-1]
        if out.denominator != 1 or not 1 <= out.numerator <= 4:
            raise GraphError(f"the network's output must be 1 to 4 times the input's size, "
                             f"not {out}")
        self.scale = out.numerator
        self.reach = math.ceil(reach[-1] - Fraction(1, 10 ** 9))
        self.task = "denoise" if self.scale == 1 else "upscale"

    # ---- computing ----

    def _bicubic(self, x, factor):
        h, w = x.shape[-2:]
        key = (h, w, factor, x.device, x.dtype)
        if key not in self._bicubic_cache:
            self._bicubic_cache[key] = (
                bicubic_matrix(h, h * factor).to(x.device, x.dtype),
                bicubic_matrix(w, w * factor).to(x.device, x.dtype))
        mv, mh = self._bicubic_cache[key]
        # vertical first, as core/resize.c does when both factors are equal
        return torch.matmul(torch.matmul(mv, x), mh.t())

    def forward(self, x, noise_level=None):
        """x: (N, C, H, W), H and W multiples of `alignment`; noise_level:
        sigma / 255, a number or a tensor of N values (ignored by blind models)."""
        outs = []
        for i, node in enumerate(self.graph):
            op, ins = node["op"], self.inputs[i]
            a = outs[ins[0]] if ins else None
            if op == "input":
                y = x
            elif op == "noise_level":
                level = torch.as_tensor(0.0 if noise_level is None else noise_level,
                                        dtype=x.dtype, device=x.device)
                y = level.reshape(-1, 1, 1, 1).expand(x.shape[0], 1, *x.shape[2:])
            elif op == "conv":
                y = self.nodes[str(i)](a)
            elif op == "relu":
                y = F.relu(a)
            elif op == "leaky_relu":
                y = F.leaky_relu(a, node.get("slope", 0.2))
            elif op == "prelu":
                y = F.prelu(a, self.nodes[str(i)].alpha)
            elif op == "dwconv":
                y = self.nodes[str(i)](a)
            elif op == "gate":
                first, second = a.chunk(2, dim=1)
                y = first * second
            elif op == "layernorm":  # over the channels of each pixel
                y = self.nodes[str(i)](a.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            elif op == "sigmoid":
                y = torch.sigmoid(a)
            elif op == "scale":
                y = a * self.nodes[str(i)].scale.view(1, -1, 1, 1)
            elif op == "mul":
                y = a * outs[ins[1]]
            elif op == "add":
                y = a + outs[ins[1]]
            elif op == "concat":
                y = torch.cat([outs[j] for j in ins], dim=1)
            elif op == "shuffle":
                y = F.pixel_shuffle(a, node.get("factor", 2))
            elif op == "unshuffle":
                y = F.pixel_unshuffle(a, node.get("factor", 2))
            else:  # bicubic
                y = self._bicubic(a, node.get("factor", 2))
            outs.append(y)
        return outs[-1]

    def init_params(self, seed=1):
        """Fresh weights like aenet_network_init_params: normal with variance
        2 / fan-in where only ReLUs read them (He), 1 / fan-in elsewhere, the
        last conv 10x smaller (a residual net starts near identity or
        bicubic), biases 0, PReLU 0.25, layernorm 1 and 0, scales 0 (blocks
        x + scale * f(x) start as the identity). (aenet's own random stream
        is not reproduced.)"""
        g = torch.Generator().manual_seed(seed)
        last_conv = max((i for i, n in enumerate(self.graph) if n["op"] == "conv"), default=-1)
        rectifiers = ("relu", "leaky_relu", "prelu")
        with torch.no_grad():
            for key, m in self.nodes.items():
                i = int(key)
                if isinstance(m, _PReLU):
                    m.alpha.fill_(0.25)
                elif isinstance(m, nn.LayerNorm):
                    m.weight.fill_(1.0)
                    m.bias.zero_()
                elif isinstance(m, _Scale):
                    m.scale.zero_()
                else:
                    readers = [n["op"] for j, n in enumerate(self.graph) if i in self.inputs[j]]
                    gain = 2.0 if readers and all(op in rectifiers for op in readers) else 1.0
                    fan_in = m.in_channels // m.groups * m.kernel_size[0] ** 2
                    std = math.sqrt(gain / fan_in) * (0.1 if i == last_conv else 1.0)
                    m.weight.copy_(torch.randn(m.weight.shape, generator=g) * std)
                    if m.bias is not None:
                        m.bias.zero_()
        return self


def _mirror_index(start, length, n):
    """Half-sample symmetric mirror of start .. start + length - 1 into [0, n)."""
    i = np.arange(start, start + length) % (2 * n)
    return torch.from_numpy(np.where(i < n, i, 2 * n - 1 - i))


def run_image(net, image, noise_level=None):
    """The whole image through the network as aenet's tiler computes it.
    image: (N, C, H, W) or (C, H, W), C = 1 or 3 whatever the network's.
    Returns the output, not clamped."""
    single = image.dim() == 3
    x = image[None] if single else image
    n, c, h, w = x.shape
    scale, align = net.scale, net.alignment
    reach = max(net.reach, 3) if scale > 1 else net.reach
    pad = -(-reach // align) * align
    rows = _mirror_index(-pad, -(-h // align) * align + 2 * pad, h).to(x.device)
    cols = _mirror_index(-pad, -(-w // align) * align + 2 * pad, w).to(x.device)
    region = x.index_select(2, rows).index_select(3, cols)
    # Gray through a colour network: three equal channels in, their mean
    # out; colour through a gray network: the mean in, three equal out.
    if c != net.in_channels:
        region = (region.expand(n, 3, *region.shape[2:]) if c == 1
                  else region.mean(dim=1, keepdim=True))
    y = net(region, noise_level)
    y = y[:, :, pad * scale:(pad + h) * scale, pad * scale:(pad + w) * scale]
    if c != net.in_channels:
        y = y.mean(dim=1, keepdim=True) if c == 1 else y.expand(n, 3, *y.shape[2:])
    return y[0] if single else y


# ---- model files ----

class AenetModel:
    """A model file in memory: the network (an nn.Module) and its metadata."""

    def __init__(self, net, metadata=None):
        self.net = net
        self.metadata = dict(metadata or {})

    @property
    def task(self):
        return self.net.task

    @property
    def scale(self):
        return self.net.scale


def load(path):
    """Reads an aenet model file; its tensors must be exactly the graph's parameters."""
    tensors, meta = safetensors_io.read(path)
    for key in ("aenet.format", "aenet.task", "aenet.scale", "aenet.graph"):
        if key not in meta:
            raise GraphError(f"{path}: not an aenet model (no {key} in its metadata)")
    if meta["aenet.format"] != "1":
        raise GraphError(f"{path}: model format {meta['aenet.format']}, this module reads 1")
    net = AenetNet(meta["aenet.graph"])
    if meta["aenet.task"] != net.task or meta["aenet.scale"] != str(net.scale):
        raise GraphError(f"{path}: task {meta['aenet.task']} at scale {meta['aenet.scale']} "
                         f"does not fit the graph, which scales by {net.scale}")
    state = net.state_dict()
    if set(state) != set(tensors):
        missing, extra = set(state) - set(tensors), set(tensors) - set(state)
        raise GraphError(f"{path}: tensors do not match the graph "
                         f"(missing {sorted(missing)}, extra {sorted(extra)})")
    for name, value in tensors.items():
        if tuple(state[name].shape) != value.shape:
            raise GraphError(f"{path}: {name} has shape {list(value.shape)}, the graph needs "
                             f"{list(state[name].shape)}")
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()})
    return AenetModel(net, meta)


def save(model, path, **extra):
    """Writes a model file aenet loads: the graph's parameters in node order,
    the metadata (extra keys added or replaced, values as strings)."""
    meta = dict(model.metadata)
    meta.update({k: str(v) for k, v in extra.items()})
    meta["aenet.format"] = "1"
    meta["aenet.task"] = model.task
    meta["aenet.scale"] = str(model.scale)
    meta.setdefault("aenet.graph", json.dumps(model.net.graph))
    tensors = [(k, v.detach().float().cpu().numpy()) for k, v in model.net.state_dict().items()]
    safetensors_io.write(path, tensors, meta)


def find_aenet(hint=None):
    """The aenet program: hint, $AENET, aenet on PATH, or the build tree's."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [hint, os.environ.get("AENET"), shutil.which("aenet"),
                  os.path.join(here, "..", "..", "..", "build", "cli", "aenet")]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    raise FileNotFoundError("the aenet program was not found: give --aenet or set $AENET")


def preset_graph(arch, aenet=None):
    """The graph of an architecture preset, as the C side builds it
    (`aenet info --arch NAME --graph`)."""
    env = dict(os.environ, LC_ALL="C", LANGUAGE="")
    text = subprocess.run([find_aenet(aenet), "info", "--arch", arch, "--graph"], env=env,
                          check=True, capture_output=True, text=True).stdout
    start = text.index("\n[")
    return json.loads(text[start:])


def new_from_arch(arch, seed=1, aenet=None):
    """A fresh model of a preset, randomly initialised."""
    graph = preset_graph(arch, aenet)
    net = AenetNet(graph).init_params(seed)
    return AenetModel(net, {"aenet.graph": json.dumps(graph), "arch": arch})
