"""Benchmark: kappa x k_TST by reactive flux against the rate counted from long
unbiased MD of the same Langevin dynamics, at a low and a high friction.

    python benchmarks/transmission.py [--barrier-ev 0.1] [--shots 256] [--replicas 64]

The double-well dimer (two Ar atoms, quartic double well on their distance; its PMF is
exact, F(r) = V(r) - 2 kT ln r, so k_TST has no sampling error). Per friction:
mlpmf.transmission at the exact barrier top (shots of 1 ps), and `replicas`
unbiased trajectories of 40 ps started in the reactant well, whose reactant -> product
transitions are counted between basin cores half a well width past the top. Writes
benchmarks/results/transmission.md.
"""

import argparse
import time

import numpy as np
from ase import Atoms
from common import HERE

from mlpmf.analytic import double_well_exact_pmf, double_well_force_field
from mlpmf.colvars import effective_mass_amu
from mlpmf.cvsettings import make_colvar
from mlpmf.dynamics import LangevinSettings, StepHooks, integrate
from mlpmf.rates import Profile, barrier_and_rate
from mlpmf.settings import TransmissionSettings
from mlpmf.transmission import DividingSurface, counted_rate, transmission_coefficient
from mlpmf.tst import barrier_curvature, kramers_transmission
from mlpmf.units import kt_kj_mol

R_MID, HALF_WIDTH, T, DT = 3.2, 0.45, 300.0, 1.0


def dimer(r):
    return Atoms("Ar2", positions=[[0.0, 0.0, 0.0], [r, 0.0, 0.0]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--barrier-ev", type=float, default=0.1)
    parser.add_argument("--shots", type=int, default=256)
    parser.add_argument("--replicas", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40000)
    args = parser.parse_args()
    field = double_well_force_field(args.barrier_ev, R_MID, HALF_WIDTH)
    cv = make_colvar({"kind": "distance", "atoms": [0, 1]})
    r = np.linspace(2.3, 4.1, 4001)
    pmf = double_well_exact_pmf(r, T, args.barrier_ev, R_MID, HALF_WIDTH)
    mass = effective_mass_amu(cv, dimer(3.0).positions, dimer(3.0).get_masses())
    tst = barrier_and_rate(Profile(r, pmf, np.zeros_like(r)), T, [2.4, 3.0], [3.4, 4.0], mass)
    top = int(np.argmin(np.abs(r - tst["transition_state_cv"])))
    curvature = barrier_curvature(r, pmf, top, kt_kj_mol(T))
    rows = []
    for friction in (0.01, 0.1):
        start = time.perf_counter()
        settings = TransmissionSettings(enabled=True, shots=args.shots, shot_length_fs=1000.0)
        replicas = [dimer(tst["transition_state_cv"]) for _ in range(args.shots)]
        flux = transmission_coefficient(
            replicas, DividingSurface(cv, tst["transition_state_cv"], 1.0, 8000.0),
            LangevinSettings(T, DT, 0.01), LangevinSettings(T, DT, friction), settings,
            np.random.default_rng(1), field,
        )  # fmt: skip
        shots_s = time.perf_counter() - start
        distance = np.empty((args.replicas, args.steps))

        def observe(step, k, atoms, _results, distance=distance):
            distance[k, step - 1] = atoms.get_distance(0, 1)

        start = time.perf_counter()
        integrate(
            [dimer(R_MID - HALF_WIDTH) for _ in range(args.replicas)],
            LangevinSettings(T, DT, friction), args.steps,
            [np.random.default_rng(100 + k) for k in range(args.replicas)],
            [None] * args.replicas, field, StepHooks(observe),
        )  # fmt: skip
        md_s = time.perf_counter() - start
        cores = [0.0, R_MID - 0.5 * HALF_WIDTH], [R_MID + 0.5 * HALF_WIDTH, 10.0]
        rate, transitions = counted_rate(distance[:, 1000:], *cores, DT)
        kappa, error = flux["kappa"], flux["kappa_uncertainty"]
        predicted = kappa * tst["rate_constant_per_s"]
        combined = np.hypot(rate / np.sqrt(transitions), predicted * error / kappa)
        rows.append(
            f"| {friction:g} | {kappa:.3f} ± {error:.3f} | "
            f"{kramers_transmission(friction, curvature, mass):.3f} | "
            f"{tst['rate_constant_per_s']:.3g} | {predicted:.3g} | "
            f"{rate:.3g} ± {rate / np.sqrt(transitions):.2g} ({transitions}) | "
            f"{(predicted - rate) / combined:+.1f} | {shots_s:.0f} s / {md_s:.0f} s |"
        )
        print(rows[-1], flush=True)
    table = [
        f"# Reactive flux against counted transitions (double-well dimer, barrier "
        f"{args.barrier_ev} eV, PMF barrier {tst['barrier_kj_mol']:.2f} kJ/mol, {T:g} K)",
        "",
        f"{args.shots} dividing-surface configurations, each shot forward and backward for "
        f"1 ps; {args.replicas} unbiased trajectories x {args.steps * DT / 1000:g} ps "
        f"(first ps dropped), timestep {DT:g} fs. k_TST from the exact PMF. Produced by "
        "`python benchmarks/transmission.py`.",
        "",
        "| friction (1/fs) | kappa (reactive flux) | kappa (Kramers) | k_TST (1/s) | "
        "kappa x k_TST (1/s) | counted rate (1/s, transitions) | difference (sigma) | "
        "time shots / MD |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    (HERE / "results" / "transmission.md").write_text("\n".join(table))


if __name__ == "__main__":
    main()
