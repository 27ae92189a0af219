"""GPU check: the committee on CUDA against the CPU, at library level (no Snakemake).

    PYTHONPATH=src:benchmarks python benchmarks/gpu.py --out benchmarks/results/gpu.md

Run by benchmarks/gpu.sh on a CUDA machine (which brings in the packages a bare PyTorch
install lacks). Three checks, each GPU against CPU in the same run:

1. **Same physics.** A small committee trained on the double-well dimer (analytic
   oracle) drives 9 umbrella windows, float64, from the same seeds on ``cuda`` and on
   ``cpu``. Rounding differs, so the trajectories part after a few hundred steps; the
   two MBAR PMFs must then agree within their error bars (chi2 per bin near 1) and with
   the exact PMF.
2. **Batched MD speed.** A 4-member committee on alanine dipeptide (22 atoms, weights
   from a fixed seed: speed does not depend on training) integrates 1, 8, 32 and 128
   umbrella replicas at once, float32 and float64: replica-steps per second.
3. **Training speed.** The same committee trained for a few epochs on 200 alanine
   frames labelled by ASE's EMT (random displacements; a labeller, not physics):
   seconds per epoch, and the final validation loss on both devices.

Without CUDA it runs CPU against CPU and says so (a check that the script works).
"""

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read
from common import COMMITTEE, alanine_dipeptide, committee_for

from mlpmf.analytic import DoubleWellBond
from mlpmf.calculator import BatchedCommittee
from mlpmf.colvars import Dihedral, Distance
from mlpmf.dynamics import LangevinSettings, StepHooks, UmbrellaBias, integrate
from mlpmf.estimators import mbar
from mlpmf.samples import UmbrellaSamples
from mlpmf.sampling import sample_reference
from mlpmf.settings import CommitteeSettings, DatasetSettings, WindowSettings
from mlpmf.timeseries import kept_indices
from mlpmf.training import train_committee
from mlpmf.umbrella import run_umbrella_windows
from mlpmf.units import ev_to_kj_mol, kt_kj_mol

REPO = Path(__file__).resolve().parents[1]
TEMPERATURE_K = 300.0
PHI = (1, 3, 4, 6)  # alanine dipeptide's C N CA C


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def double_well_pmfs(devices: list[str], steps: int, epochs: int) -> list[str]:
    """Check 1: windows of one trained committee on each device, same seeds."""
    oracle = DoubleWellBond(barrier_ev=0.15, r_mid=3.2, half_width=0.45)
    structure = read(REPO / "resources/double_well_bond/dimer.xyz")
    cv = Distance((0, 1))
    settings = DatasetSettings(md_steps=400, scan_points=6, scan_steps_per_point=60)
    data = sample_reference(structure, oracle, cv, np.linspace(2.6, 3.8, 6), settings,
                            np.random.default_rng(1), TEMPERATURE_K)  # fmt: skip
    committee_settings = CommitteeSettings(
        members=2, hidden_layers=(16,), epochs=epochs, batch_size=16
    )
    model, _ = train_committee(data.frames, {"num_angular_sections": 0}, committee_settings, 2)
    centers = np.linspace(2.6, 3.8, 9)
    kappa = 800.0
    edges = np.linspace(2.65, 3.75, 23)
    langevin = LangevinSettings(TEMPERATURE_K, 1.0, 0.01)
    results, pmfs = {}, {}
    for device in devices:
        replicas = [structure.copy() for _ in centers]
        started = time.perf_counter()
        series = run_umbrella_windows(
            replicas, [UmbrellaBias(cv, c, kappa) for c in centers],
            WindowSettings(steps, 200, langevin.timestep_fs, langevin.friction_per_fs, 2),
            langevin.temperature_k, [np.random.default_rng(10 + k) for k in range(len(centers))],
            BatchedCommittee(model.to(device), torch.float64),
        )  # fmt: skip
        seconds = time.perf_counter() - started
        results[device] = series
        x = [s["cv"] for s in series]
        kept = kept_indices(x, True, True, centers)
        pmfs[device] = mbar(
            UmbrellaSamples(
                [s[k] for s, k in zip(x, kept, strict=True)],
                centers,
                np.full(len(centers), kappa),
                TEMPERATURE_K,
            ),
            edges,
        )
        pmfs[device + "_seconds"] = seconds
    a, b = (pmfs[d] for d in devices)
    first, second = (results[d] for d in devices)
    apart = [np.abs(s["cv"] - t["cv"]) > 1e-6 for s, t in zip(first, second, strict=True)]
    parted = [int(np.argmax(a)) * 2 if a.any() else steps for a in apart]  # recorded every 2
    same = np.isfinite(a.free_energy) & np.isfinite(b.free_energy)
    diff = a.free_energy[same] - b.free_energy[same]
    diff -= diff.mean()
    variance = a.uncertainty[same] ** 2 + b.uncertainty[same] ** 2
    chi2 = float(np.mean(diff**2 / np.maximum(variance, 1e-12)))
    r = a.cv[same]
    dimer = structure.copy()
    dimer.calc = oracle
    potential = []
    for distance in r:  # the oracle's own double well, plus the r^2 Jacobian
        dimer.positions = [[0.0, 0.0, 0.0], [distance, 0.0, 0.0]]
        potential.append(dimer.get_potential_energy())
    exact = ev_to_kj_mol(np.array(potential)) - 2 * kt_kj_mol(TEMPERATURE_K) * np.log(r)
    rows = []
    for device, pmf in zip(devices, (a, b), strict=True):
        off = pmf.free_energy[same] - exact
        off -= off.mean()
        rms, bar = np.sqrt(np.mean(off**2)), np.sqrt(np.mean(pmf.uncertainty[same] ** 2))
        rows.append(f"| {device} | {pmfs[device + '_seconds']:.1f} | {rms:.3f} | {bar:.3f} |")
    return [
        "## 1. Same physics: umbrella windows on each device, same seeds",
        "",
        f"Double-well dimer, committee of 2 (trained once on {len(data.frames)} frames), "
        f"9 windows x {steps} steps, float64, MBAR over {int(same.sum())} bins.",
        "",
        "| device | windows (s) | RMS vs exact PMF (kJ/mol) | RMS error bar (kJ/mol) |",
        "|---|---|---|---|",
        *rows,
        "",
        f"{devices[0]} vs {devices[1]}: RMS {np.sqrt(np.mean(diff**2)):.3f} kJ/mol, "
        f"chi2 per bin {chi2:.2f} (about 1 when they agree within their errors); "
        f"trajectories part (|dCV| > 1e-6 A) after a median of "
        f"{int(np.median(parted))} of {steps} steps.",
        "",
    ]


def recorded(step: int) -> bool:
    return step % 5 == 0  # the committee's disagreement where a window would record


def md_rates(devices: list[str], replicas: list[int], steps: int) -> list[str]:
    """Check 2: replica-steps per second of batched committee MD."""
    structure = alanine_dipeptide()
    cv = Dihedral(PHI)
    rows = []
    for dtype in (torch.float32, torch.float64):
        for count in replicas:
            rates = []
            for device in devices:
                field = BatchedCommittee(committee_for(structure, device), dtype)
                centers = np.linspace(-180.0, 165.0, count)
                atoms = [structure.copy() for _ in range(count)]
                biases = [UmbrellaBias(cv, c, 0.04) for c in centers]
                rngs = [np.random.default_rng(k) for k in range(count)]
                settings = LangevinSettings(TEMPERATURE_K, 0.5, 0.01)
                hooks = {"hooks": StepHooks(disagreement_at=recorded)}
                integrate(atoms, settings, 5, rngs, biases, field, **hooks)
                synchronize(device)
                started = time.perf_counter()
                integrate(atoms, settings, steps, rngs, biases, field, **hooks)
                synchronize(device)
                rates.append(count * steps / (time.perf_counter() - started))
            ratio = rates[0] / rates[1]
            rows.append(f"| {str(dtype).removeprefix('torch.')} | {count} | "
                        f"{rates[0]:.0f} | {rates[1]:.0f} | {ratio:.2f} |")  # fmt: skip
    return [
        "## 2. Batched committee MD",
        "",
        f"Alanine dipeptide, {COMMITTEE}; umbrella bias on phi, {steps} steps after 5 of "
        "warm-up; mean force every step, all members' disagreement every 5th (as windows "
        "record).",
        "",
        f"| precision | replicas | {devices[0]} replica-steps/s | {devices[1]} replica-steps/s "
        f"| {devices[0]}/{devices[1]} |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


def training_times(devices: list[str], epochs: int, count: int) -> list[str]:
    """Check 3: seconds per training epoch on EMT-labelled alanine frames."""
    structure = alanine_dipeptide()
    rng = np.random.default_rng(3)
    frames = []
    for _ in range(count):
        atoms = structure.copy()
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        atoms.calc = EMT()
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        frames.append(atoms)
    settings = CommitteeSettings(epochs=epochs, patience_epochs=epochs)
    rows = []
    for device in devices:
        synchronize(device)
        started = time.perf_counter()
        _, curves = train_committee(frames, {"num_chiral": 2}, settings, 4, device)
        synchronize(device)
        per_epoch = (time.perf_counter() - started) / epochs
        loss = curves.get("validation_loss", [float("nan")])[-1]
        rows.append(f"| {device} | {per_epoch:.2f} | {loss:.4g} |")
    return [
        "## 3. Training",
        "",
        f"{COMMITTEE}; {count} alanine frames (EMT labels), {epochs} epochs, batch 4.",
        "",
        "| device | s per epoch | final validation loss |",
        "|---|---|---|",
        *rows,
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/gpu.md")
    parser.add_argument("--window-steps", type=int, default=6000)
    parser.add_argument("--md-steps", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--dimer-epochs", type=int, default=80)
    parser.add_argument("--replicas", default="1,8,32,128")
    arguments = parser.parse_args()
    cuda = torch.cuda.is_available()
    devices = ["cuda", "cpu"] if cuda else ["cpu", "cpu"]
    name = torch.cuda.get_device_name(0) if cuda else "no CUDA device: CPU against CPU"
    lines = [
        "# GPU check (benchmarks/gpu.sh)",
        "",
        f"{time.strftime('%Y-%m-%d')}; GPU: {name}; torch {torch.__version__}; "
        f"{torch.get_num_threads()} CPU threads ({platform.processor() or platform.machine()}); "
        f"Python {platform.python_version()}.",
        "",
    ]
    replicas = [int(n) for n in arguments.replicas.split(",")]
    for part in (
        lambda: double_well_pmfs(devices, arguments.window_steps, arguments.dimer_epochs),
        lambda: md_rates(devices, replicas, arguments.md_steps),
        lambda: training_times(devices, arguments.epochs, arguments.frames),
    ):
        lines += part()
        print("\n".join(lines), flush=True)
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
