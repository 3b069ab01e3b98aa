#!/usr/bin/env python3
"""Train an aenet model with PyTorch: CPU, one GPU, or many with torchrun.

    python3 tools/torch/train.py --from MODEL --data SHARDS --val VAL --out OUT --steps N
    torchrun --nproc_per_node=N tools/torch/train.py ...   (DDP: nccl on CUDA, gloo on CPU)

The device is chosen automatically (CUDA when present, with mixed precision).
SHARDS is a folder written by `aenet degrade` (input/target pairs made by
aenet's own degradations); VAL a file written by `aenet eval --save-inputs`
(the exact inputs `aenet eval` gives a model), so the validation PSNR printed
here is the number `aenet eval` reports for the exported model.

The training follows `aenet train` (trainer/train.c): L1, L2, Charbonnier
(eps 1e-3) or PSNR (10 log10 of the patch's MSE + 1/255^2) loss per patch, optionally weighed by 30 / (sigma + 5); Adam(W)
with betas 0.9, 0.999, eps 1e-8; gradient norm clipping; linear warm-up then
cosine (to 1% of the peak), step or constant learning rate; validation every
--val-every steps, the best model written to --out; checkpoints (weights,
optimizer, step) every few minutes and on Ctrl-C, --resume continues.
--batch is the global batch, split evenly over the processes.
"""
import argparse
import glob
import math
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import torch
import torch.distributed as dist

import aenet_torch
from aenet_torch import safetensors_io

LOSSES = ("l1", "l2", "charbonnier", "psnr")
SCHEDULES = ("cosine", "step", "constant")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    start = p.add_mutually_exclusive_group()
    start.add_argument("--from", dest="source", metavar="MODEL", help="fine-tune this model file")
    start.add_argument("--arch", metavar="NAME",
                       help="a new model of this preset (needs the aenet program)")
    start.add_argument("--resume", metavar="CHECKPOINT", help="continue a run")
    p.add_argument("--data", metavar="DIR", help="shards written by `aenet degrade`")
    p.add_argument("--val", metavar="FILE", help="written by `aenet eval --save-inputs`")
    p.add_argument("--out", metavar="MODEL", required=True, help="model file to write")
    p.add_argument("--checkpoint", metavar="FILE", help="default: OUT.ckpt.pt")
    p.add_argument("--name", help="model name in its metadata (default: from --out)")
    p.add_argument("--steps", type=int, default=0, help="total steps (0 with --arch: only "
                   "write the fresh model)")
    p.add_argument("--stop-at", type=int, default=0,
                   help="stop at this step with a checkpoint, as if interrupted")
    p.add_argument("--batch", type=int, default=16, help="patches per step, all processes")
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clip, 0 = off")
    p.add_argument("--warmup", type=int, default=500, help="warm-up steps")
    p.add_argument("--schedule", choices=SCHEDULES, default="cosine")
    p.add_argument("--loss", choices=LOSSES, default="charbonnier")
    p.add_argument("--balance-sigma", action="store_true",
                   help="denoising: weigh each patch's loss by 30 / (sigma + 5)")
    p.add_argument("--val-every", type=int, default=1000, help="validate every N steps")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: torch's)")
    p.add_argument("--workers", type=int, default=2, help="data loading processes per process")
    p.add_argument("--no-amp", action="store_true", help="full precision on CUDA too")
    p.add_argument("--aenet", metavar="PROGRAM", help="the aenet program (for --arch)")
    return p.parse_args(argv)


# ---- processes and devices ----

class Context:
    """Rank, world size and device of this process."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.main = self.rank == 0

    def log(self, *args):
        if self.main:
            print(*args, flush=True)

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def step_end(self, loss, stop):
        """The loss averaged over the processes, and whether one of them was
        asked to stop (then all stop at the same step)."""
        if self.world == 1:
            return loss.item(), stop
        t = torch.stack([loss.detach().float(), torch.tensor(float(stop), device=self.device)])
        dist.all_reduce(t)
        return t[0].item() / self.world, t[1].item() > 0


# ---- data ----

class Shards(torch.utils.data.Dataset):
    """The pairs of a folder of `aenet degrade` shards, memory-mapped."""

    def __init__(self, folder):
        self.paths = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
        if not self.paths:
            raise SystemExit(f"train.py: {folder} has no shards (*.safetensors); "
                             "write them with `aenet degrade`")
        self.counts, self.meta = [], None
        for path in self.paths:
            arrays, meta = safetensors_io.open_arrays(path)
            if meta.get("aenet.shard") != "1":
                raise SystemExit(f"train.py: {path} is not a shard written by `aenet degrade`")
            self.counts.append(arrays["input"].shape[0])
            self.meta = self.meta or meta
        self.starts = np.cumsum([0] + self.counts)
        self.open = {}

    def __len__(self):
        return int(self.starts[-1])

    def __getitem__(self, i):
        s = int(np.searchsorted(self.starts, i, side="right")) - 1
        if s not in self.open:  # opened in each loading process
            self.open[s] = safetensors_io.open_arrays(self.paths[s])[0]
        a, k = self.open[s], i - int(self.starts[s])
        return (torch.from_numpy(np.array(a["input"][k])),
                torch.from_numpy(np.array(a["target"][k])),
                torch.tensor(float(a["sigma"][k])))


class StepSampler(torch.utils.data.Sampler):
    """The indices of this process's part of each step's batch, from `first`
    on: epochs are permutations seeded by (seed, epoch), so a resumed run
    sees what an uninterrupted one would have."""

    def __init__(self, n, batch, rank, world, seed, first):
        self.n, self.batch, self.rank, self.world = n, batch, rank, world
        self.seed, self.first = seed, first

    def __iter__(self):
        step, perms = self.first, {}
        while True:
            idx = []
            for j in range(step * self.batch + self.rank, (step + 1) * self.batch, self.world):
                epoch, k = divmod(j, self.n)
                if epoch not in perms:
                    g = torch.Generator().manual_seed(self.seed * 1000003 + epoch)
                    perms = {epoch: torch.randperm(self.n, generator=g)}
                idx.append(int(perms[epoch][k]))
            yield idx
            step += 1


def load_validation(path, device):
    """(name, input, target, condition) per pair, and the task, as saved by aenet eval."""
    tensors, meta = safetensors_io.read(path)
    key = "sigma" if meta.get("task") == "denoise" else "scale"
    pairs = []
    for k in range(len(tensors) // 2):
        pairs.append((meta[f"{k}.name"], torch.from_numpy(tensors[f"{k}.input"]).to(device),
                      torch.from_numpy(tensors[f"{k}.target"]).to(device),
                      int(meta[f"{k}.{key}"])))
    return meta.get("task"), pairs


# ---- the measures of trainer/metrics.c ----

def round_8bit(x):
    return torch.clamp(torch.round(x.float() * 255.0), 0, 255)


def psnr_255(a, b):
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def y_channel(q):
    """Y of YCbCr (BT.601, 16-235) from 8-bit values, as float32."""
    r, g, b = (q.double() / 255.0).expand(3, *q.shape[1:]).unbind(0)
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b).float()


def psnr(output, target, task, scale):
    """Denoising: over RGB; upscaling: Y with `scale` pixels of border cropped."""
    a, b = round_8bit(output), round_8bit(target)
    if task == "denoise":
        return psnr_255(a, b)
    s = scale
    return psnr_255(y_channel(a)[s:-s, s:-s], y_channel(b)[s:-s, s:-s])


@torch.no_grad()
def validate(net, task, pairs):
    """Mean PSNR of the model and of the baseline (noisy input or bicubic)."""
    net.eval()
    total = base = 0.0
    for _, x, target, cond in pairs:
        # sigma / 255 in double, then rounded to float, as core/job.c does
        level = torch.tensor((cond if task == "denoise" else 0) / 255.0, dtype=torch.float32)
        y = aenet_torch.run_image(net, x, level.to(x.device))
        total += psnr(y, target, task, cond)
        if task == "denoise":
            base += psnr(x, target, task, cond)
        else:
            base += psnr(net._bicubic(x[None], cond)[0], target, task, cond)
    net.train()
    return total / len(pairs), base / len(pairs)


# ---- the schedule and the loss of trainer/train.c ----

def learning_rate(a, step):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    progress = min(max((step - a.warmup) / max(1, a.steps - a.warmup), 0.0), 1.0)
    if a.schedule == "cosine":
        return a.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))
    if a.schedule == "step":
        return a.lr * (1 if progress < 0.5 else 0.5 if progress < 0.75 else
                       0.25 if progress < 0.9 else 0.1)
    return a.lr


def batch_loss(kind, out, target, sigma, balance):
    d = (out.float() - target).flatten(1)
    if kind == "l1":
        per = d.abs().mean(1)
    elif kind == "l2":
        per = (d * d).mean(1)
    elif kind == "psnr":  # each patch counts in dB; eps keeps a perfect patch finite
        per = 10 * torch.log10((d * d).mean(1) + 1 / 255**2)
    else:
        per = torch.sqrt(d * d + 1e-6).mean(1)
    if balance:
        per = per * 30.0 / (sigma * 255.0 + 5.0)
    return per.mean()


# ---- models and checkpoints ----

def export(model, path, a, step, val, base, n_train):
    name = a.name or os.path.splitext(os.path.basename(path))[0]
    quality = (f"validation PSNR {val:.2f} dB at sigma {a.val_condition} (noisy input "
               f"{base:.2f} dB)" if model.task == "denoise" else
               f"validation PSNR (Y) {val:.2f} dB (bicubic {base:.2f} dB)")
    aenet_torch.save(model, path, name=name, steps=step, validation=quality,
                     training_data=f"{a.data} ({n_train} pairs)",
                     trained_with=f"aenet_torch, PyTorch {torch.__version__}")


def make_model(a, ctx):
    if a.resume:
        ck = torch.load(a.resume, map_location="cpu")
        model = aenet_torch.AenetModel(aenet_torch.AenetNet(ck["graph"]), ck["metadata"])
        model.net.load_state_dict(ck["model"])
        return model, ck
    if a.source:
        model = aenet_torch.load(a.source)
        desc = model.metadata.get("description", "aenet model")
        name = model.metadata.get("name", os.path.basename(a.source))
        model.metadata["description"] = f"{desc}; fine-tuned from {name}"
        return model, None
    if a.arch:
        model = aenet_torch.new_from_arch(a.arch, seed=a.seed, aenet=a.aenet)
        return model, None
    raise SystemExit("train.py: give --from MODEL, --arch NAME or --resume CHECKPOINT")


def save_checkpoint(path, model, opt, scaler, step, best, a):
    tmp = path + ".tmp"
    torch.save({"graph": model.net.graph, "metadata": model.metadata,
                "model": model.net.state_dict(), "optimizer": opt.state_dict(),
                "scaler": scaler.state_dict(), "step": step, "best_val": best,
                "args": vars(a)}, tmp)
    os.replace(tmp, path)


# ---- the run ----

def main(argv=None):
    a = parse_args(argv)
    ctx = Context()
    torch.manual_seed(a.seed)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    model, ck = make_model(a, ctx)
    if ck is not None:  # what the run was, unless asked otherwise now
        for key in ("data", "val", "batch", "lr", "weight_decay", "clip", "warmup", "schedule",
                    "loss", "balance_sigma", "val_every", "seed", "name"):
            if getattr(a, key) == parse_args(["--out", "x"]).__dict__[key]:
                setattr(a, key, ck["args"][key])
        a.steps = max(a.steps, ck["step"]) if a.steps else ck["args"]["steps"]
    if a.arch and a.steps == 0:
        if ctx.main:
            aenet_torch.save(model, a.out, name=a.name or a.arch)
            print(f"wrote a new {a.arch} model to {a.out}")
        return
    if not (a.data and a.val and a.steps > 0):
        raise SystemExit("train.py: --data, --val and --steps are needed to train")
    if a.batch % ctx.world != 0:
        raise SystemExit(f"train.py: --batch {a.batch} is not a multiple of the "
                         f"{ctx.world} processes")
    checkpoint = a.checkpoint or a.out + ".ckpt.pt"

    data = Shards(a.data)
    if data.meta.get("task") != model.task or int(data.meta.get("scale", 0)) != model.scale:
        raise SystemExit(f"train.py: the shards are for {data.meta.get('task')} at scale "
                         f"{data.meta.get('scale')}, the model is {model.task} at scale "
                         f"{model.scale}")
    task, pairs = load_validation(a.val, ctx.device)
    if task != model.task:
        raise SystemExit(f"train.py: {a.val} is for {task}, the model is for {model.task}")
    a.val_condition = pairs[0][3]

    net = model.net.to(ctx.device)
    amp = ctx.device.type == "cuda" and not a.no_amp
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=a.weight_decay)
    scaler = torch.cuda.amp.GradScaler(enabled=amp)
    step, best = 0, -1.0
    if ck is not None:
        opt.load_state_dict(ck["optimizer"])
        scaler.load_state_dict(ck["scaler"])
        step, best = ck["step"], ck["best_val"]
    ddp = (torch.nn.parallel.DistributedDataParallel(
        net, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        if ctx.world > 1 else net)

    sampler = StepSampler(len(data), a.batch, ctx.rank, ctx.world, a.seed, step)
    loader = iter(torch.utils.data.DataLoader(
        data, batch_sampler=sampler, num_workers=a.workers, pin_memory=amp,
        persistent_workers=a.workers > 0))
    stop = {"asked": False}
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: stop.update(asked=True))

    ctx.log(f"{model.metadata.get('arch', 'custom')} on {ctx.device.type}: "
            f"{sum(p.numel() for p in net.parameters())} parameters, {ctx.world} "
            f"process{'es' if ctx.world > 1 else ''}, {len(data)} training pairs, "
            f"{len(pairs)} validation images, step {step} of {a.steps}"
            f"{', mixed precision' if amp else ''}")

    def validate_and_keep():
        nonlocal best
        if ctx.main:
            val, base = validate(net, model.task, pairs)
            kept = val > best or not os.path.exists(a.out)
            if kept:
                best = max(best, val)
                export(model, a.out, a, step, val, base, len(data))
            print(f"step {step}: validation PSNR {val:.4f} dB (baseline {base:.4f} dB)"
                  f"{', best so far, saved ' + a.out if kept else ''}", flush=True)
        ctx.barrier()

    start = last_report = last_ckpt = time.monotonic()
    first, loss_sum, n_loss, stopping = step, 0.0, 0, False
    while step < a.steps and not stopping:
        x, target, sigma = (t.to(ctx.device, non_blocking=True) for t in next(loader))
        for g in opt.param_groups:
            g["lr"] = learning_rate(a, step)
        with torch.autocast(ctx.device.type, enabled=amp):
            out = ddp(x, sigma)
        loss = batch_loss(a.loss, out, target, sigma, a.balance_sigma)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if a.clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), a.clip)
        scaler.step(opt)
        scaler.update()
        step += 1
        value, stopping = ctx.step_end(loss, stop["asked"] or step == a.stop_at)
        loss_sum, n_loss = loss_sum + value, n_loss + 1

        now = time.monotonic()
        if now - last_report > 10 or step == a.steps:
            rate = (step - first) * a.batch / (now - start)
            ctx.log(f"step {step}/{a.steps}  loss {loss_sum / n_loss:.5f}  "
                    f"lr {learning_rate(a, step):.2e}  {rate:.1f} patches/s")
            loss_sum, n_loss, last_report = 0.0, 0, now
        if a.val_every > 0 and step % a.val_every == 0:
            validate_and_keep()
        if now - last_ckpt > a.checkpoint_minutes * 60:
            if ctx.main:
                save_checkpoint(checkpoint, model, opt, scaler, step, best, a)
            last_ckpt = now
    if ctx.main:
        save_checkpoint(checkpoint, model, opt, scaler, step, best, a)
    ctx.log(f"step {step}: checkpoint written to {checkpoint}")
    seconds = time.monotonic() - start
    if step > first:
        ctx.log(f"{step - first} steps in {seconds:.1f} s: "
                f"{(step - first) * a.batch / seconds:.1f} patches/s")
    if not stopping and (a.val_every <= 0 or step % a.val_every != 0):
        validate_and_keep()
    if ctx.world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
