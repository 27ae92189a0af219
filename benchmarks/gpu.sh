#!/usr/bin/env bash
# The GPU check (issue 12): committee windows on cuda and cpu from the same seeds, their
# PMFs compared; batched committee MD (1, 8, 32, 128 replicas) and training timed, GPU
# against CPU. Library level, no Snakemake. On a machine with PyTorch but without ASE,
# SciPy or pandas, it unpacks wheels/site-packages-cp312.tar.xz (benchmarks/gpu_wheels.sh
# makes it) for the modules that are missing.
#   bash benchmarks/gpu.sh [OUTPUT_DIR]    # default benchmarks/results; writes gpu.md
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-benchmarks/results}
python=${PYTHON:-python3}
missing=$("$python" - <<'PY'
import importlib.util
print(" ".join(m for m in ("numpy", "scipy", "pandas", "ase", "tqdm", "dateutil")
               if importlib.util.find_spec(m) is None))
PY
)
extra=""
if [ -n "$missing" ]; then
  archive=wheels/site-packages-cp312.tar.xz
  if [ ! -f "$archive" ]; then
    echo "missing Python modules ($missing) and no $archive: run benchmarks/gpu_wheels.sh where the package index is reachable, then carry wheels/" >&2
    exit 1
  fi
  extra=$(mktemp -d)
  echo "unpacking $archive for: $missing"
  "$python" -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$archive" "$extra"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
PYTHONPATH="src:benchmarks${extra:+:$extra}" "$python" benchmarks/gpu.py --out "$out/gpu.md" "${@:2}"
