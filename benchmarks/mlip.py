"""Benchmark: MLIP force calls per second against the oracles, and batched replicas.

    python benchmarks/mlip.py [--device cpu|cuda] [--calls 20] [--batch 32]

Alanine dipeptide (22 atoms, resources/alanine_dipeptide/L.xyz). Each call evaluates
energy and forces of a freshly displaced geometry. Oracles: GFN2-xTB (tblite's ASE
calculator) and ASE's EMT (which has made-up H, C, N, O parameters: a cheap analytic
baseline, not chemistry). MLIP: today's committee of benchmarks/common.py and, in the
same run, the committee on the descriptor it replaced (baseline_descriptor.py); mean
forces, and every member's forces for the disagreement; one structure, and a batch of
replicas in one forward pass. Appends rows to benchmarks/results/mlip.md.
"""

import argparse
import platform
import time

import numpy as np
import torch
from ase.calculators.emt import EMT
from common import BASELINE_COMMITTEE, COMMITTEE, HERE, alanine_dipeptide, committee_for
from tblite.ase import TBLite

from mlpmf.calculator import BatchedCommittee
from mlpmf.models import resolve_device


def calls_per_second(evaluate, structure, calls, rng) -> float:
    """Energy+force calls per second of ``evaluate(atoms)`` on displaced geometries."""
    geometries = []
    for _ in range(calls + 1):
        atoms = structure.copy()
        atoms.positions += rng.normal(scale=0.02, size=atoms.positions.shape)
        geometries.append(atoms)
    evaluate(geometries[0])  # warm-up: first-call setup is not throughput
    started = time.perf_counter()
    for atoms in geometries[1:]:
        evaluate(atoms)
    return calls / (time.perf_counter() - started)


def ase_evaluator(calculator):
    def evaluate(atoms):
        atoms.calc = calculator
        atoms.get_forces()

    return evaluate


def mlip_rates(committee, structure, calls, batch, dtype, with_disagreement, rng):
    """Calls per second for one replica, and replica-calls per second in a batch."""
    single = BatchedCommittee(committee, dtype)
    batched = BatchedCommittee(committee, dtype)

    def one(atoms):
        single([atoms], with_disagreement)

    def many(atoms):
        batched([atoms.copy() for _ in range(batch)], with_disagreement)

    one_rate = calls_per_second(one, structure, 50 * calls, rng)
    batch_rate = calls_per_second(many, structure, 5 * calls, rng)
    return one_rate, batch_rate * batch, one_rate / batch_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    arguments = parser.parse_args()
    device = resolve_device(arguments.device)
    structure = alanine_dipeptide()
    rng = np.random.default_rng(0)
    committees = {
        "today": committee_for(structure, device),
        "baseline": committee_for(structure, device, baseline=True),
    }
    xtb_calculator = TBLite(method="GFN2-xTB", verbosity=0)
    xtb = calls_per_second(ase_evaluator(xtb_calculator), structure, arguments.calls, rng)
    emt = calls_per_second(ase_evaluator(EMT()), structure, 10 * arguments.calls, rng)
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads"
    if device.type == "cuda":
        machine += f", {torch.cuda.get_device_name(0)}"
    rows = []
    for name, committee in committees.items():
        for precision in ("float64", "float32"):
            for with_disagreement in (False, True):
                one, many, cost = mlip_rates(
                    committee, structure, arguments.calls, arguments.batch,
                    getattr(torch, precision), with_disagreement, rng,
                )  # fmt: skip
                forces = "all members" if with_disagreement else "mean"
                rows.append(
                    f"| {machine} | {device.type} | {name} | {precision} | {forces} "
                    f"| {xtb:.0f} | {emt:.0f} | {one:.0f} | {one / xtb:.1f}x "
                    f"| {arguments.batch} | {many:.0f} | {many / xtb:.1f}x | {cost:.2f}x |"
                )
                print(rows[-1])
    results = HERE / "results" / "mlip.md"
    if not results.exists():
        results.write_text(
            "# MLIP speed: force calls per second on alanine dipeptide (22 atoms)\n\n"
            f"Committee 'today': {COMMITTEE}. Committee 'baseline': {BASELINE_COMMITTEE}. "
            "Each call: energy and forces of a new geometry "
            "(higher is better), either the committee's mean force only (what MD "
            "integrates) or every member's forces (what the force disagreement needs; MD "
            "asks for them only on recorded steps). Batch cost: the time of one call on a "
            "batch of replicas over the time of one call on one replica (lower is "
            "better). Written by benchmarks/mlip.py.\n\n"
            "| machine | device | committee | precision | forces | GFN2-xTB (calls/s) "
            "| EMT (calls/s) | MLIP one replica (calls/s) | vs xTB | batch "
            "| MLIP batched (replica calls/s) | vs xTB | batch cost |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        )
    with results.open("a") as table:
        table.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
