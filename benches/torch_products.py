#!/usr/bin/env python3
"""PyTorch's matrix products alone for the workloads of ../shared/peers/torch_mlp.py: the floor
under PyTorch's times, as `sgd-sde net bench` reports ours (src/net/product_floor.rs has the
counts and their derivation).

Layer l maps in_l -> out_l on r rows; three products of 2 r in_l out_l flop each:
  F = (r x in)(in x out), G = (in x r)(r x out) (left operand transposed),
  E = (r x out)(out x in) (right operand transposed).
A training step needs F + G per layer and E for every layer but the first; the forward pass of
the Hessian products F per layer and E for all but the first; one R-pass F + G for the first layer
and 2F + 2G + 2E for the others. Each distinct product is timed alone (median of 3 batches of 4
after a warm-up) and weighted by those counts.

Prints one 'ROW {json}' line: epoch_products_s (f32, batch 128, 469 steps), hvp_products_s (f64,
1,000 rows: forward pass + one R-pass), hutchinson100_products_s (f32, 1,000 rows: forward pass +
100 R-passes), and the flop of each. Usage: python torch_products.py [--threads 2]
"""
import argparse
import json
import statistics
import time

import torch

SIZES = [784, 512, 512, 512, 10]


def counts(workload, layer):
    first = layer == 0
    if workload == "step":
        return [1, 1, 0 if first else 1]
    if workload == "forward":
        return [1, 0, 0 if first else 1]
    return [1, 1, 0] if first else [2, 2, 2]


def time_one(product):
    product()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(4):
            product()
        times.append((time.perf_counter() - t0) / 4)
    return statistics.median(times)


def seconds(rows, workloads, dtype):
    gen = torch.Generator().manual_seed(0)
    totals = [0.0] * len(workloads)
    for l, (i, o) in enumerate(zip(SIZES, SIZES[1:])):
        a = torch.rand(rows, i, generator=gen, dtype=dtype) * 2 - 1
        w = torch.rand(i, o, generator=gen, dtype=dtype) * 2 - 1
        d = torch.rand(rows, o, generator=gen, dtype=dtype) * 2 - 1
        products = [lambda: a @ w, lambda: a.t() @ d, lambda: d @ w.t()]
        for kind, product in enumerate(products):
            if all(counts(wl, l)[kind] == 0 for wl in workloads):
                continue
            t = time_one(product)
            for k, wl in enumerate(workloads):
                totals[k] += counts(wl, l)[kind] * t
    return totals


def flops(rows, workload):
    return sum(2.0 * rows * i * o * sum(counts(workload, l))
               for l, (i, o) in enumerate(zip(SIZES, SIZES[1:])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    o = ap.parse_args()
    torch.set_num_threads(o.threads)
    steps, rows, probes = 60000 // 128 + (60000 % 128 > 0), 1000, 100
    (step,) = seconds(128, ["step"], torch.float32)
    fwd64, r64 = seconds(rows, ["forward", "r"], torch.float64)
    fwd32, r32 = seconds(rows, ["forward", "r"], torch.float32)
    row = {
        "tool": f"torch {torch.__version__}",
        "threads": o.threads,
        "epoch_products_s": steps * step,
        "epoch_gflop": steps * flops(128, "step") / 1e9,
        "hvp_products_s": fwd64 + r64,
        "hvp_gflop": (flops(rows, "forward") + flops(rows, "r")) / 1e9,
        "hutchinson100_products_s": fwd32 + probes * r32,
        "hutchinson100_gflop": (flops(rows, "forward") + probes * flops(rows, "r")) / 1e9,
    }
    print("ROW " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
