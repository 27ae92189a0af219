"""Benchmark: the cost of a step of MD on an oracle or on a user's ASE calculators,
through ASE's property cache on each replica's calculator (``own_calculators``, what
the workflow used until 748febc and c982142) and through the force fields it uses now
(``oracle_calculators``, ``external_calculators_force_field``), in the same run; and
that the trajectories are the same bit for bit. (The oracle's own calls inside were
also cut to one ``calculate`` in 748febc: the baseline here has that part already.)

    python benchmarks/oracle_md.py [--steps 2000]

Systems: 9 double-well dimers (the double_well_bond study's windows; the analytic
oracle costs microseconds, so ASE's bookkeeping was most of a step), 4 Au/Al(100)
slabs on EMT (the default study's oracle) and 9 argon dimers on a committee of two
Lennard-Jones calculators (potential: ase). Writes benchmarks/results/oracle_md.md.
"""

import argparse
import hashlib
import time

import numpy as np
from ase import Atoms
from ase.calculators.lj import LennardJones
from ase.io import read
from common import HERE

from mlpmf.calculator import ExternalCommittee, external_calculators_force_field
from mlpmf.dynamics import LangevinSettings, StepHooks, integrate, own_calculators
from mlpmf.oracles import make_robust_oracle
from mlpmf.robust import oracle_calculators

REPO = HERE.parent
WELL = {"kind": "double_well_bond", "barrier_ev": 0.15, "r_mid": 3.2, "half_width": 0.45}


def dimers(count: int, symbol: str, start: float) -> list[Atoms]:
    return [
        Atoms(f"{symbol}2", positions=[[0, 0, 0], [0, 0, start + 0.1 * k]]) for k in range(count)
    ]


def systems():
    """(name, replicas factory, the calculator each replica carries, force field now)."""
    slab = read(REPO / "resources/au_al100/initial.extxyz")
    lj = [{"sigma": 3.4, "epsilon": e, "rc": 12.0} for e in (0.03, 0.0312)]
    return [
        ("double-well dimers (9)", lambda: dimers(9, "H", 2.6),
         lambda: make_robust_oracle(WELL).as_calculator(), oracle_calculators),
        ("Au/Al(100) on EMT (4)", lambda: [slab.copy() for _ in range(4)],
         lambda: make_robust_oracle({"kind": "emt"}).as_calculator(), oracle_calculators),
        ("Ar dimers, 2 LJ members (9)", lambda: dimers(9, "Ar", 3.6),
         lambda: ExternalCommittee([LennardJones(**p) for p in lj]),
         external_calculators_force_field),
    ]  # fmt: skip


def run(make_replicas, make_calculator, force_field, steps: int) -> tuple[float, str]:
    """Seconds per step of the batch and a digest of every position along the way."""
    replicas = make_replicas()
    for atoms in replicas:
        atoms.calc = make_calculator()
    frames = []
    start = time.perf_counter()
    integrate(
        replicas, LangevinSettings(300.0, 1.0, 0.01), steps,
        [np.random.default_rng(k) for k in range(len(replicas))], [None] * len(replicas),
        force_field, StepHooks(lambda step, k, atoms, _: frames.append(atoms.positions.copy())),
    )  # fmt: skip
    seconds = (time.perf_counter() - start) / steps
    return seconds, hashlib.sha256(np.concatenate(frames).tobytes()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    steps = parser.parse_args().steps
    rows = []
    for name, make_replicas, make_calculator, force_field in systems():
        before, old = run(make_replicas, make_calculator, own_calculators, steps)
        now, new = run(make_replicas, make_calculator, force_field, steps)
        rows.append(
            f"| {name} | {before * 1e3:.2f} | {now * 1e3:.2f} | {before / now:.2f} "
            f"| {'yes' if old == new else 'NO'} |"
        )
        print(rows[-1], flush=True)
    text = (
        "# MD on an oracle or the user's ASE calculators: ASE's cache against one call a step\n\n"
        f"Written by `benchmarks/oracle_md.py --steps {steps}` on this machine (one process); "
        "ms per MD step of the whole batch of replicas.\n\n"
        "| system | through ASE's cache (ms) | now (ms) | speedup | same trajectory |\n"
        "| --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )
    (HERE / "results/oracle_md.md").write_text(text)


if __name__ == "__main__":
    main()
