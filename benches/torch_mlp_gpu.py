#!/usr/bin/env python3
"""PyTorch CUDA reference for `sgd-sde net bench --device cuda` (same-run speed ratio).

The workload of ../shared/peers/torch_mlp.py moved to the GPU as a PyTorch user would write it:
784-512-512-512-10 ReLU MLP, full Fashion-MNIST (60,000 images, pixels / 255) held on the device,
plain SGD lr 0.01, per-epoch reshuffle (randperm on the device), last partial batch kept, f32.
For each --batches entry: one warm-up epoch, then --reps timed epochs (torch.cuda.synchronize
around each); prints one 'ROW {json}' per batch size with the median epoch and step times.
TF32 matrix products are off (PyTorch's default) unless --tf32.
Usage: python3 torch_mlp_gpu.py --data DIR [--batches 128,1024 --reps 5 --tf32]
"""
import argparse
import gzip
import json
import os
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mlp():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def epoch(model, opt, X, Y, bs, gen):
    perm = torch.randperm(X.shape[0], generator=gen, device=X.device)
    for i in range(0, X.shape[0], bs):
        idx = perm[i:i + bs]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(X[idx]), Y[idx]).backward()
        opt.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--batches", default="128,1024")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--tf32", action="store_true")
    o = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = o.tf32
    dev = torch.device("cuda")
    img = read_idx(os.path.join(o.data, "train-images-idx3-ubyte.gz"))
    lab = read_idx(os.path.join(o.data, "train-labels-idx1-ubyte.gz"))
    X = torch.from_numpy(img.reshape(img.shape[0], -1).astype(np.float32) / 255.0).to(dev)
    Y = torch.from_numpy(lab.astype(np.int64)).to(dev)
    for bs in [int(b) for b in o.batches.split(",")]:
        torch.manual_seed(0)
        model = mlp().to(dev)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        gen = torch.Generator(device=dev).manual_seed(0)
        epoch(model, opt, X, Y, bs, gen)
        torch.cuda.synchronize()
        times = []
        for _ in range(o.reps):
            t0 = time.perf_counter()
            epoch(model, opt, X, Y, bs, gen)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        steps = -(-X.shape[0] // bs)
        med = statistics.median(times)
        row = {"tool": f"torch {torch.__version__}", "device": torch.cuda.get_device_name(),
               "tf32": o.tf32, "batch": bs, "steps": steps, "epoch_s": med,
               "step_ms": 1000 * med / steps, "epoch_times": times}
        print("ROW " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
