#!/usr/bin/env python3
"""PyTorch's epoch of ../shared/peers/torch_mlp.py with heavy-ball momentum: the same
784-512-512-512-10 ReLU MLP on Fashion-MNIST in f32, the same batches (per-epoch reshuffle, last
partial batch kept), torch.optim.SGD(lr=0.01, momentum=--momentum), the reference for
`sgd-sde net bench --momentum`. Reuses that script's loader, model and epoch.

Prints one 'ROW {json}' line: epoch_s, the median of --reps timed epochs after one warm-up epoch.
Usage: python torch_momentum_epoch.py --data DIR [--momentum 0.9 --batch 128 --reps 1 --threads 2]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "peers"))
from torch_mlp import epoch, mlp, read_idx  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="folder with train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    o = ap.parse_args()
    torch.set_num_threads(o.threads)
    img = read_idx(os.path.join(o.data, "train-images-idx3-ubyte.gz"))
    lab = read_idx(os.path.join(o.data, "train-labels-idx1-ubyte.gz"))
    X = torch.from_numpy(img.reshape(img.shape[0], -1).astype(np.float32) / 255.0)
    Y = torch.from_numpy(lab.astype(np.int64))
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=o.momentum)
    gen = torch.Generator().manual_seed(0)
    epoch(model, opt, X, Y, o.batch, gen)
    times = []
    for _ in range(o.reps):
        t0 = time.perf_counter()
        epoch(model, opt, X, Y, o.batch, gen)
        times.append(time.perf_counter() - t0)
    row = {"tool": f"torch {torch.__version__}", "threads": o.threads, "batch": o.batch,
           "momentum": o.momentum, "epoch_s": statistics.median(times), "epoch_times": times}
    print("ROW " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
