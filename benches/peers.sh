#!/usr/bin/env bash
# Same-run speed ratios against the reference tools of ../shared/peers (see BENCHMARKS.md).
#
#   bash benches/peers.sh [ROUNDS]        (default 3; about 3.5 minutes a round)
#
# Also times the same epoch with heavy-ball momentum 0.9 (ours: `net bench --momentum 0.9`;
# PyTorch's: benches/torch_momentum_epoch.py, torch.optim.SGD with momentum).
# Also times each tool's matrix products alone (ours: `net bench`'s "products" fields; PyTorch's:
# benches/torch_products.py), to show how much of each time is the products and how much the rest.
# Needs a release build (cargo build --release), the peers' venv (bash ../shared/peers/setup.sh
# /tmp/peers-venv, or set PEERS_PY to its python) and full Fashion-MNIST in ../shared/data (or
# DATA). Alternates ours and theirs in every round, since these machines are shared and noisy;
# prints every figure and, at the end, the medians and their ratios. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
py=${PEERS_PY:-/tmp/peers-venv/bin/python}
data=${DATA:-../shared/data}
bin=target/release/sgd-sde
log=$(mktemp -d)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  echo "round $r"
  "$bin" --quiet net bench --dataset fashion-mnist --data "$data" --probes 100 --out "$log/ours" > /dev/null
  cp "$log/ours/bench.json" "$log/ours_$r.json"
  "$py" ../shared/peers/torch_mlp.py --data "$data/fashion-mnist" | grep '^ROW' | sed 's/^ROW //' > "$log/torch_$r.json"
  "$py" benches/torch_products.py | grep '^ROW' | sed 's/^ROW //' > "$log/torch_products_$r.json"
  "$bin" --quiet net bench --dataset fashion-mnist --data "$data" --momentum 0.9 --probes 1 --hvp-n 100 --out "$log/ours_m" > /dev/null
  cp "$log/ours_m/bench.json" "$log/ours_m_$r.json"
  "$py" benches/torch_momentum_epoch.py --data "$data/fashion-mnist" --momentum 0.9 | grep '^ROW' | sed 's/^ROW //' > "$log/torch_m_$r.json"
  /usr/bin/time -f "%e" -o "$log/w_$r.txt" "$bin" --quiet sim --problem benches/w.toml > /dev/null
  "$py" ../shared/peers/numba_ou.py --reps 1 | grep '^ROW' | sed 's/^ROW //' > "$log/numba_$r.jsonl"
done
"$py" - "$log" "$rounds" <<'PY'
import json, statistics as st, sys
d, n = sys.argv[1], int(sys.argv[2])
ours = [json.load(open(f"{d}/ours_{r}.json")) for r in range(1, n + 1)]
torch = [json.load(open(f"{d}/torch_{r}.json")) for r in range(1, n + 1)]
ours_m = [json.load(open(f"{d}/ours_m_{r}.json")) for r in range(1, n + 1)]
torch_m = [json.load(open(f"{d}/torch_m_{r}.json")) for r in range(1, n + 1)]
w = [float(open(f"{d}/w_{r}.txt").read()) for r in range(1, n + 1)]
torch_products = [json.load(open(f"{d}/torch_products_{r}.json")) for r in range(1, n + 1)]
numba = [[json.loads(l) for l in open(f"{d}/numba_{r}.jsonl")] for r in range(1, n + 1)]
med = st.median
def row(name, o, t, unit):
    print(f"| {name} | {med(o):.3g} {unit} {sorted(round(x, 3) for x in o)} | {med(t):.3g} {unit} {sorted(round(x, 3) for x in t)} | {med(o) / med(t):.2f} |")
print("| workload | ours (median, all rounds) | reference, same run | ours / reference |")
print("|---|---|---|---|")
row("epoch, batch 128, f32", [o["seconds_per_epoch"] for o in ours], [t["epoch_s"] for t in torch], "s")
row("epoch, batch 128, f32, momentum 0.9", [o["seconds_per_epoch"] for o in ours_m], [t["epoch_s"] for t in torch_m], "s")
row("one HVP, f64, 1,000 examples", [o["hvp_seconds"] for o in ours], [t["hvp_f64_ms"] / 1e3 for t in torch], "s")
row("Tr(H), 100 probes, 1,000 examples, f32 (both)", [o["trace_train_precision_seconds"] for o in ours], [t["hutchinson100_s"] for t in torch], "s")
row("Tr(H), 100 probes, 1,000 examples, ours f64, PyTorch f32", [o["trace_seconds"] for o in ours], [t["hutchinson100_s"] for t in torch], "s")
for variant in sorted({v["tool"] for r in numba for v in r if "floor" not in v["tool"]}):
    t = [v["run_s"] for r in numba for v in r if v["tool"] == variant]
    row(f"W (sim) vs {variant}", w, t, "s")
print()
print("| workload | ours: products alone / whole (share) | PyTorch: products alone / whole (share) |")
print("|---|---|---|")
def share(name, o_alone, o_whole, t_alone, t_whole):
    f = lambda a, w: f"{med(a):.3g} / {med(w):.3g} s ({100 * med(a) / med(w):.0f}%)"
    print(f"| {name} | {f(o_alone, o_whole)} | {f(t_alone, t_whole)} |")
share("epoch, batch 128, f32", [o["epoch_products"]["seconds"] for o in ours], [o["seconds_per_epoch"] for o in ours],
      [t["epoch_products_s"] for t in torch_products], [t["epoch_s"] for t in torch])
share("one HVP, f64, 1,000 examples", [o["hvp_products"]["seconds"] for o in ours], [o["hvp_seconds"] for o in ours],
      [t["hvp_products_s"] for t in torch_products], [t["hvp_f64_ms"] / 1e3 for t in torch])
share("Tr(H), 100 probes, f32", [o["trace_train_precision_products"]["seconds"] for o in ours], [o["trace_train_precision_seconds"] for o in ours],
      [t["hutchinson100_products_s"] for t in torch_products], [t["hutchinson100_s"] for t in torch])
PY
