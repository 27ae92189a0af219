#!/usr/bin/env bash
# Prepare, on a machine with the package index, what benchmarks/gpu.sh needs on a GPU
# machine that has PyTorch (Python 3.12) but no ASE, SciPy, pandas or package index:
# the pinned wheels for CPython 3.12 on x86-64 Linux, unpacked and packed again as one
# xz archive (43 MB, under the 64 MiB a device run may carry; the wheels are 67 MB).
#   bash benchmarks/gpu_wheels.sh      # writes wheels/site-packages-cp312.tar.xz
# then carry `wheels` with the tree and run `bash benchmarks/gpu.sh` there.
set -euo pipefail
cd "$(dirname "$0")/.."
pin() { grep -E "^$1==" requirements.txt | cut -d= -f3; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --implementation cp \
  --python-version 3.12 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_28_x86_64 -d "$work/wheels" \
  "ase==$(pin ase)" "numpy==$(pin numpy)" "scipy==$(pin scipy)" "pandas==$(pin pandas)" \
  "tqdm==$(pin tqdm)" python-dateutil tzdata typing_extensions
mkdir -p "$work/site" wheels
for wheel in "$work"/wheels/*.whl; do
  python3 -m zipfile -e "$wheel" "$work/site"
done
tar -cJf wheels/site-packages-cp312.tar.xz -C "$work/site" .
ls -l wheels/site-packages-cp312.tar.xz
