"""Where a batched committee MD step spends its time, on each device (cProfile).

    PYTHONPATH=src:benchmarks python benchmarks/gpu_profile.py --replicas 128

Prints the top functions by cumulative and by own time for `integrate` of alanine
dipeptide replicas under an umbrella bias (as benchmarks/gpu.py check 2).
"""

import argparse
import cProfile
import io
import pstats
import time

import numpy as np
import torch
from common import alanine_dipeptide, committee_for
from gpu import PHI, TEMPERATURE_K, recorded, synchronize

from mlpmf.calculator import BatchedCommittee
from mlpmf.colvars import Dihedral
from mlpmf.dynamics import LangevinSettings, StepHooks, UmbrellaBias, integrate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    devices = ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]
    structure = alanine_dipeptide()
    for device in devices:
        field = BatchedCommittee(committee_for(structure, device), getattr(torch, args.dtype))
        atoms = [structure.copy() for _ in range(args.replicas)]
        centers = np.linspace(-180.0, 165.0, args.replicas)
        biases = [UmbrellaBias(Dihedral(PHI), c, 0.04) for c in centers]
        rngs = [np.random.default_rng(k) for k in range(args.replicas)]
        settings = LangevinSettings(TEMPERATURE_K, 0.5, 0.01)
        hooks = {"hooks": StepHooks(disagreement_at=recorded)}
        integrate(atoms, settings, 5, rngs, biases, field, **hooks)
        synchronize(device)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        integrate(atoms, settings, args.steps, rngs, biases, field, **hooks)
        synchronize(device)
        profile.disable()
        elapsed = time.perf_counter() - started
        rate = args.replicas * args.steps / elapsed
        print(f"\n=== {device} {args.dtype} {args.replicas} replicas x {args.steps} steps: "
              f"{elapsed:.2f} s, {rate:.0f} replica-steps/s")  # fmt: skip
        for order in ("cumulative", "tottime"):
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats(order).print_stats(22)
            print("\n".join(line[:150] for line in text.getvalue().splitlines()[6:]))


if __name__ == "__main__":
    main()
