"""How far a study's committee is from its oracle in the windows, from a few oracle frames.

    python resources/oracle_spot_check.py config/studies/alanine_dipeptide.yaml \\
        [--model results/<study>/active_learning/committee.pt] [--frames 20] \\
        [--output results/<study>/oracle_spot_check.json] [--seed 12345]

For every umbrella window, restrained oracle MD (the window's centre and spring
constant, the study's temperature, a seed of its own so no frame repeats the training
data) records ``--frames`` frames 50 fs apart, after a relaxation and 200 fs of
equilibration. On them the committee's energies and forces are compared with the
oracle's, and free-energy perturbation from the oracle's window ensemble to the
committee's,

    dF_w = -kT ln < exp(-(E_committee - E_oracle) / kT) >_oracle, w ,

estimates, window by window, how far the committee's PMF lies from the oracle's
(up to a constant: the table shifts dF to mean 0). It is a first-order check, cheap
next to oracle-driven windows (frames x 20 MD steps per window instead of all of
them), and independent of the PMF's own sampling noise. The table also gives the
held-out force error on these frames (the test split of the reference data lies next
to training frames; these do not) and the committee's largest member disagreement.
"""

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import yaml
from snakemake.utils import validate

from mlpmf.calculator import BatchedCommittee
from mlpmf.config import load_system
from mlpmf.cvsettings import make_colvar
from mlpmf.grids import window_centers, window_spring_constants
from mlpmf.models import load_model
from mlpmf.oracles import make_robust_oracle
from mlpmf.sampling import sample_reference
from mlpmf.settings import DatasetSettings
from mlpmf.units import ev_to_kj_mol, kt_ev

REPO = Path(__file__).resolve().parents[1]
RECORD_EVERY_FS = 50.0


def window_frames(config, structure, oracle, cv, center, kappa, frames, rng):
    """``frames`` oracle frames restrained at one window."""
    timestep = float(config["umbrella"]["timestep_fs"])
    record_every = max(1, round(RECORD_EVERY_FS / timestep))
    settings = DatasetSettings(
        md_steps=0,
        scan_points=1,
        scan_temperature_k=config["temperature_k"],
        scan_spring_constant_kj_mol=float(kappa),
        scan_equilibration_steps=max(1, round(200.0 / timestep)),
        scan_steps_per_point=frames * record_every,
        record_every=record_every,
        timestep_fs=timestep,
        max_energy_above_minimum_kt=float("inf"),
    )
    data = sample_reference(structure, oracle, cv, [center], settings, rng, config["temperature_k"])
    return data.frames


def spot_check(config, model_path, frames_per_window, seed) -> dict:
    model = load_model(model_path)
    committee = BatchedCommittee(model)
    kt = ev_to_kj_mol(kt_ev(config["temperature_k"]))
    rng = np.random.default_rng(seed)
    oracle = make_robust_oracle(config["oracle"]).as_calculator()
    structure = load_system(config["system"])
    cv = make_colvar(config["collective_variable"], structure)
    rows, errors, references = [], [], []
    centers, kappas = window_centers(config), window_spring_constants(config)
    for index, (center, kappa) in enumerate(zip(centers, kappas, strict=True)):
        frames = window_frames(config, structure, oracle, cv, center, kappa, frames_per_window, rng)
        if not frames:
            logging.warning("window %d (centre %g): no oracle frames", index, center)
            continue
        predicted = committee(frames)
        reference_energy = np.array([f.get_potential_energy() for f in frames])
        reference_forces = np.concatenate([f.get_forces() for f in frames])
        energy = np.array([p["energy"] for p in predicted])
        forces = np.concatenate([p["forces"] for p in predicted])
        difference = ev_to_kj_mol(energy - reference_energy)  # kJ/mol per frame
        shifted = difference - difference.mean()
        d_f = difference.mean() - kt * np.log(np.mean(np.exp(-shifted / kt)))
        rows.append({
            "window": index,
            "center": float(center),
            "frames": len(frames),
            "free_energy_shift_kj_mol": float(d_f),
            "energy_difference_sd_kj_mol": float(difference.std()),
            "force_rmse_ev_a": float(np.sqrt(np.mean((forces - reference_forces) ** 2))),
            "max_disagreement_ev_a": float(
                max(p["force_disagreement"].max() for p in predicted)
            ),
        })  # fmt: skip
        errors.append(forces - reference_forces)
        references.append(reference_forces)
        logging.info("window %d (centre %g): dF %.2f kJ/mol", index, center, d_f)
    shifts = np.array([r["free_energy_shift_kj_mol"] for r in rows])
    shifts -= shifts.mean()
    for row, shift in zip(rows, shifts, strict=True):
        row["free_energy_shift_kj_mol"] = float(shift)
    force_rmse = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    return {
        "model": str(model_path),
        "frames": int(sum(r["frames"] for r in rows)),
        "rms_free_energy_shift_kj_mol": float(np.sqrt(np.mean(shifts**2))),
        "max_abs_free_energy_shift_kj_mol": float(np.abs(shifts).max()),
        "force_rmse_ev_a": force_rmse,
        "force_rmse_over_reference_std": force_rmse / float(np.concatenate(references).std()),
        "windows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=12345)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    config = yaml.safe_load(arguments.study.read_text())
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    results = REPO / "results" / config["study"]
    model = arguments.model or results / "active_learning" / "committee.pt"
    output = arguments.output or results / "oracle_spot_check.json"
    summary = spot_check(config, model, arguments.frames, arguments.seed)
    output.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{summary['frames']} oracle frames: force RMSE {summary['force_rmse_ev_a']:.3f} eV/Å "
        f"({100 * summary['force_rmse_over_reference_std']:.1f}% of the reference force std); "
        f"committee - oracle free energy by window: {summary['rms_free_energy_shift_kj_mol']:.2f}"
        f" kJ/mol RMS, {summary['max_abs_free_energy_shift_kj_mol']:.2f} at most -> {output}"
    )


if __name__ == "__main__":
    main()
