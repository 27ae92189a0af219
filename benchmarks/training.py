"""Benchmark: committee training time, the trainer with force maps against the one before.

    python benchmarks/training.py [--molecule trans-butane] [--frames 240] [--epochs 200]

Frames: GFN2-xTB (tblite) Langevin MD of an ASE g2 molecule at 600 K, one frame every
10 steps; a second run from another seed gives held-out test frames. Both trainers get
the same frames, settings (the schema's committee defaults: 4 members, 32 x 32,
batch 4, ``--epochs``) and seed, in the same process: the previous trainer (pair by pair
every step, ``FORCE_MAP_BUDGET_BYTES = 0``) and today's (force maps written once).
Reports wall seconds (descriptors and maps included), seconds per epoch, the best
validation loss and the committee's force and energy RMSE on the test frames; appends a
row to benchmarks/results/training.md.
"""

import argparse
import platform
import time

import numpy as np
import torch
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator
from common import HERE, append_rows
from tblite.ase import TBLite

from mlpmf import trainingdata
from mlpmf.dynamics import LangevinSettings, run_langevin
from mlpmf.evaluation import evaluate_model
from mlpmf.settings import CommitteeSettings
from mlpmf.training import train_committee


def xtb_frames(name: str, count: int, seed: int) -> list:
    """``count`` GFN2-xTB-labelled frames of Langevin MD at 600 K, every 10 steps."""
    atoms = molecule(name)
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    frames = []

    def keep(_step, current):
        frame = current.copy()
        results = current.calc.results
        frame.calc = SinglePointCalculator(
            frame, energy=results["energy"], forces=results["forces"].copy()
        )
        frames.append(frame)

    settings = LangevinSettings(600.0, 0.5, 0.01)
    run_langevin(atoms, settings, 10 * count, np.random.default_rng(seed), None, keep, 10)
    return frames


def train(frames, test, epochs: int, budget: int) -> dict:
    trainingdata.FORCE_MAP_BUDGET_BYTES = budget
    started = time.perf_counter()
    model, curves = train_committee(frames, {}, CommitteeSettings(epochs=epochs), seed=7)
    seconds = time.perf_counter() - started
    metrics = evaluate_model(model, test)
    return {
        "seconds": seconds,
        "epochs": len(curves["training_loss"]),
        "validation": min(curves["validation_loss"]),
        "force": metrics["committee_force_rmse_ev_a"],
        "energy": 1000 * metrics["committee_energy_rmse_ev_per_atom"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecule", default="trans-butane")
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", default=str(HERE / "results/training.md"))
    args = parser.parse_args()
    frames = xtb_frames(args.molecule, args.frames, 5)
    test = xtb_frames(args.molecule, 60, 6)
    budget = trainingdata.FORCE_MAP_BUDGET_BYTES
    previous = train(frames, test, args.epochs, 0)
    today = train(frames, test, args.epochs, budget)
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads"
    rows = []
    for name, r in (("previous (pair by pair)", previous), ("force maps", today)):
        rows.append(
            f"| {machine} | {args.molecule} ({len(frames[0])} atoms) | {len(frames)} | {name} "
            f"| {r['epochs']} | {r['seconds']:.1f} | {r['seconds'] / r['epochs']:.3f} "
            f"| {r['validation']:.4g} | {r['force']:.4f} | {r['energy']:.2f} "
            f"| {previous['seconds'] / r['seconds']:.2f}x |"
        )
    append_rows(args.out, rows)


if __name__ == "__main__":
    main()
