"""Benchmark: umbrella windows batched in one system vs one window at a time with ASE.

    python benchmarks/windows.py [--device cpu|cuda] [--windows 32] [--steps 200]

32 windows of alanine dipeptide (22 atoms, resources/alanine_dipeptide/L.xyz) restrained
along the distance between the two carbonyl carbons, driven by the same committee
(benchmarks/common.py; weights from a fixed seed: speed does not depend on training).
Baseline: each window in turn with ASE's Langevin integrator and the committee as an
ASE calculator. Batched: all windows in one mlpmf integrator, one committee forward
pass per step. Both integrate the committee's mean force only. Reports aggregate MD
steps per second and appends a row to benchmarks/results/windows.md.
"""

import argparse
import platform
import time

import numpy as np
import torch
from ase import units
from ase.calculators.calculator import Calculator, all_changes
from ase.md.langevin import Langevin
from common import COMMITTEE, HERE, alanine_dipeptide, committee_for

from mlpmf.calculator import BatchedCommittee, CommitteeCalculator
from mlpmf.colvars import Distance
from mlpmf.dynamics import LangevinSettings, StepHooks, UmbrellaBias, integrate
from mlpmf.models import resolve_device

SETTINGS = LangevinSettings(temperature_k=300.0, timestep_fs=1.0, friction_per_fs=0.01)
CARBONYL_CARBONS = (1, 9)


class Biased(Calculator):
    """An ASE calculator plus an umbrella bias: the baseline's force field."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, inner, bias):
        super().__init__()
        self.inner, self.bias = inner, bias

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        energy = self.inner.get_potential_energy(self.atoms)
        forces = self.inner.get_forces(self.atoms)
        bias_energy, bias_forces = self.bias.energy_and_forces(self.atoms.positions)
        self.results = {"energy": energy + bias_energy, "forces": forces + bias_forces}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--windows", type=int, default=32)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--precision", default="float64", choices=["float64", "float32"])
    arguments = parser.parse_args()
    device = resolve_device(arguments.device)
    dtype = getattr(torch, arguments.precision)
    structure = alanine_dipeptide()
    committee = committee_for(structure, device)
    cv = Distance(CARBONYL_CARBONS)
    start = cv.value(structure.positions)
    biases = [
        UmbrellaBias(cv, c, 500.0) for c in np.linspace(start - 0.5, start + 0.5, arguments.windows)
    ]

    started = time.perf_counter()
    for k, bias in enumerate(biases):
        atoms = structure.copy()
        atoms.calc = Biased(CommitteeCalculator(committee, dtype), bias)
        Langevin(
            atoms,
            SETTINGS.timestep_fs * units.fs,
            temperature_K=SETTINGS.temperature_k,
            friction=SETTINGS.friction_per_fs / units.fs,
            rng=np.random.default_rng(k),
        ).run(arguments.steps)
    ase_rate = arguments.windows * arguments.steps / (time.perf_counter() - started)

    replicas = [structure.copy() for _ in biases]
    rngs = [np.random.default_rng(k) for k in range(len(biases))]
    started = time.perf_counter()
    integrate(
        replicas, SETTINGS, arguments.steps, rngs, biases, BatchedCommittee(committee, dtype),
        StepHooks(disagreement_at=lambda step: False),
    )  # fmt: skip
    batched_rate = arguments.windows * arguments.steps / (time.perf_counter() - started)

    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads"
    if device.type == "cuda":
        machine += f", {torch.cuda.get_device_name(0)}"
    row = (
        f"| {machine} | {device.type} | {arguments.precision} | {arguments.windows} | "
        f"{arguments.steps} | "
        f"{ase_rate:.0f} | {batched_rate:.0f} | {batched_rate / ase_rate:.1f}x |"
    )
    print(row)
    results = HERE / "results" / "windows.md"
    if not results.exists():
        results.write_text(
            "# Umbrella windows: batched vs one at a time with ASE\n\n"
            f"Alanine dipeptide (22 atoms), committee: {COMMITTEE}. Aggregate MD steps per "
            "second over all windows (higher is better). Written by benchmarks/windows.py.\n\n"
            "| machine | device | precision | windows | steps each "
            "| ASE one-at-a-time (steps/s) | batched (steps/s) | speed-up |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
        )
    with results.open("a") as table:
        table.write(row + "\n")


if __name__ == "__main__":
    main()
