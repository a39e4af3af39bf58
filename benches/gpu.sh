#!/usr/bin/env bash
# GPU same-run ratios: `sgd-sde net bench --device cuda` against PyTorch CUDA
# (benches/torch_mlp_gpu.py) on the same epoch, alternating ours and theirs; then the same bench on
# the machine's CPU (the GPU's speed-up) and `net ou-law` on both devices. See BENCHMARKS.md.
#
#   bash benches/gpu.sh BIN DATA OUT [ROUNDS]
#
# BIN: a release build with `--features cuda`; DATA: a folder holding fashion-mnist/; OUT: where
# logs and JSON go. Needs python3 with a CUDA PyTorch. Not part of CI (CI has no GPU).
set -uo pipefail
bin=$1 data=$2 out=$3 rounds=${4:-2} batches=${BATCHES:-128 1024 8192}
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
# cudarc loads libcuda and libnvrtc at run time: make the toolkit's and PyTorch's copies findable.
nvrtc=$(python3 -c 'import glob, nvidia, os; print(":".join(sorted({os.path.dirname(p) for d in nvidia.__path__ for p in glob.glob(d + "/**/libnvrtc.so*", recursive=True)})))' 2>/dev/null)
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${nvrtc}:${LD_LIBRARY_PATH:-}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader); $(date -u +%F)"
echo "nvrtc: $(ls /usr/local/cuda/lib64/libnvrtc.so* 2>/dev/null | head -2) ${nvrtc}"
t() { local s; s=$(date +%s.%N); timeout "$@"; local rc=$?; echo "  [rc $rc, $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $s}") s] ${*:2:4}"; return $rc; }
for r in $(seq "$rounds"); do
  echo "round $r"
  for b in $batches; do
    ep=$(( b > 2000 ? b * 400 / 60000 + 1 : 3 ))   # at least ~400 timed steps
    t 200 "$bin" --quiet net bench --dataset fashion-mnist --data "$data" --device cuda --batch $b \
      --epochs $ep --probes 1 --hvp-n 100 --out "$out/ours_${b}_$r" 2>&1 | tail -3
  done
  t 300 python3 "$here/torch_mlp_gpu.py" --data "$data/fashion-mnist" --batches "${batches// /,}" \
    --reps 5 2>&1 | tee "$out/torch_$r.txt" | tail -3
  t 300 python3 "$here/torch_mlp_gpu.py" --data "$data/fashion-mnist" --batches "${batches// /,}" \
    --reps 5 --tf32 2>&1 | tee "$out/torch_tf32_$r.txt" | tail -3
done
echo "CPU of the same machine ($(nproc) cores), one epoch"
t 300 "$bin" --quiet net bench --dataset fashion-mnist --data "$data" --device cpu --epochs 1 \
  --probes 1 --hvp-n 100 --out "$out/ours_cpu" 2>&1 | tail -3
for dev in $([ "${OU_LAW:-1}" = 1 ] && echo cuda cpu); do   # OU_LAW=0 skips these
  echo "net ou-law --device $dev"
  t 500 "$bin" --quiet net ou-law --device $dev --out "$out/ou_law_$dev" 2>&1 | tail -12
done
echo "summary: time per step, median over rounds (ours: steps of full batches; PyTorch: an epoch's steps)"
python3 - "$out" "$rounds" $batches <<'PY'
import glob, json, statistics as st, sys
out, rounds, batches = sys.argv[1], int(sys.argv[2]), [int(b) for b in sys.argv[3:]]
def rows(pattern):
    return [json.loads(l[4:]) for f in sorted(glob.glob(f"{out}/{pattern}")) for l in open(f) if l.startswith("ROW ")]
torch, tf32 = rows("torch_[0-9]*.txt"), rows("torch_tf32_*.txt")
print("| batch | ours ms/step [rounds] | PyTorch ms/step [rounds] | ours / PyTorch | PyTorch TF32 ms/step | ours / TF32 |")
print("|---|---|---|---|---|---|")
for b in batches:
    o = [1e3 / json.load(open(f))["steps_per_second"] for f in sorted(glob.glob(f"{out}/ours_{b}_*/bench.json"))]
    t = [r["step_ms"] for r in torch if r["batch"] == b]
    f = [r["step_ms"] for r in tf32 if r["batch"] == b]
    if o and t and f:
        fmt = lambda v: f"{st.median(v):.3f} {[round(x, 3) for x in v]}"
        print(f"| {b} | {fmt(o)} | {fmt(t)} | {st.median(o) / st.median(t):.2f} | {fmt(f)} | {st.median(o) / st.median(f):.2f} |")
PY
