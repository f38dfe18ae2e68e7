#!/usr/bin/env bash
# Every plugin's GPU recipe variant trained for a fixed number of steps in bf16, then bf16 inference
# throughput of SpliceAI-10k and the keywords WaveNet (benchmarks/gpu/bench.py says what is measured).
#   bash benchmarks/gpu/run.sh OUT_DIR          on the GPU machine (about 8 minutes on an H200)
#   bash benchmarks/gpu/run.sh OUT_DIR --dry    on a CPU first: tiny sizes, the same code paths
set -euo pipefail
out=${1:?usage: bash benchmarks/gpu/run.sh OUT_DIR [--dry]}
shift
cd "$(dirname "$0")/../.."
exec python benchmarks/gpu/bench.py --out "$out" "$@"
