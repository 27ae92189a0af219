"""Stage ``refine_path``: a path CV's images refined at the study's temperature before
the windows (the finite-temperature string, :mod:`mlpmf.pathstring`).

Each iteration runs the study's windows along ``s`` (their centres and spring
constants, ``collective_variable.refine.steps`` each, integrated together on the model
that drives the windows, with replica exchange where the study has it), averages each
window's configurations and moves the images there. It stops when no image moved more
than ``refine.tolerance_a`` or after ``refine.iterations``. Every iteration's path and
PMF (MBAR on its windows) are kept in ``path/refinement/iteration_NN/``; the summary
lists how far each iteration moved the path and its PMF's barrier. The windows of the
next iteration start where the last ones ended.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ase.io import read, write

from mlpmf.calculator import study_force_field
from mlpmf.config import load_system
from mlpmf.cvsettings import make_colvar
from mlpmf.dynamics import SimulationError, walled
from mlpmf.estimators import mbar
from mlpmf.io import atomic_path, write_json, write_table
from mlpmf.pathcv import PathCV, UpperWall, path_cvs, superpose
from mlpmf.pathstring import (
    MeanConfigurations,
    RefineSettings,
    displacement,
    image_noise,
    interpolated,
    settled,
    updated_path,
)
from mlpmf.placement import nearest_positions
from mlpmf.samples import UmbrellaSamples
from mlpmf.settings import ColvarSettings, OracleSettings, SystemSettings, WindowSettings
from mlpmf.stages import fail
from mlpmf.trust import window_failure_message
from mlpmf.umbrella import WindowRecording, grid_biases, run_umbrella_windows
from mlpmf.units import kt_kj_mol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefinePathSettings:
    """What the stage reads: the windows (the first set of ``umbrella.repeats``), the
    system, the path CV and its ``refine`` block, the temperature, what drives the MD
    and the windows' MD, the PMF's bin edges and the seed."""

    windows: list
    system: SystemSettings
    collective_variable: ColvarSettings
    refine: RefineSettings
    temperature_k: float
    potential: str
    oracle: OracleSettings
    external_potential: list | None
    umbrella: WindowSettings
    bin_edges: np.ndarray
    seed: int

    @classmethod
    def from_params(cls, params: Mapping) -> "RefinePathSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        cv = dict(params["collective_variable"])
        refine = RefineSettings.from_config(cv.pop("refine"))
        umbrella = WindowSettings.from_config(params["umbrella"])
        return cls(
            [w for w in params["windows"] if int(w.get("repeat", 0)) == 0],
            SystemSettings.from_config(params["system"]), ColvarSettings.from_config(cv),
            refine, params["temperature_k"], params["potential"],
            OracleSettings.from_config(params["oracle"]), params.get("external_potential"),
            replace(umbrella, steps=refine.steps, equilibration_steps=refine.equilibration_steps,
                    oracle_every=0),
            np.asarray(params["bin_edges"], dtype=float), int(params["seed"]),
        )  # fmt: skip


def refine_path(
    inputs: Mapping, settings: RefinePathSettings, device: str, outputs: Mapping
) -> dict:
    """Refine the path of ``inputs["path"]`` (module docstring); write
    ``outputs["images"]`` (whole structures) and ``outputs["summary"]``; returns the
    summary. ``inputs``: ``model`` (the MLIP that drives the windows, when one does) and
    ``frames`` (start frames, each window from the one nearest its centre)."""
    refine, windows = settings.refine, settings.windows
    structure = load_system(settings.system)
    first = make_colvar(settings.collective_variable, structure)
    atoms, align, images = list(first.atoms), first.align, first.images
    centres = np.array([float(w["center"]) for w in windows])
    kappas = np.array([float(w["spring_constant_kj_mol"]) for w in windows])
    grid = {"center": centres, "spring_constant": kappas}
    replicas = [load_system(settings.system) for _ in windows]
    if "frames" in inputs.keys():
        frames = read(inputs["frames"], ":")
        kt = kt_kj_mol(settings.temperature_k)
        starts = nearest_positions(
            grid_biases(first, grid), structure.positions, structure.numbers, frames, None, kt
        )
        for replica, start in zip(replicas, starts, strict=True):
            replica.positions = start
    force_field, _ = study_force_field(
        settings.potential, replicas, inputs.get("model"), settings.oracle,
        settings.external_potential, settings.umbrella.precision, device,
    )  # fmt: skip
    folder = Path(outputs["summary"]).parent / "refinement"
    summary = {"tolerance_a": refine.tolerance_a, "converged": False, "iterations": []}
    full_images: list = []
    for iteration in range(1, refine.iterations + 1):
        cv, distance = path_cvs(atoms, images, settings.collective_variable.lambda_per_a2, align)
        wall = None
        if settings.collective_variable.distance_wall_a2 is not None:
            wall = UpperWall(
                distance, settings.collective_variable.distance_wall_a2,
                settings.collective_variable.distance_wall_kj_mol,
            )  # fmt: skip
        references = np.array([interpolated(images, c, align) for c in centres])
        half = settings.umbrella.steps // settings.umbrella.record_every // 2
        gathered = MeanConfigurations(atoms, references, len(structure), half, align)
        rngs = [np.random.default_rng([int(w["seed"]), settings.seed, iteration]) for w in windows]
        try:
            series = run_umbrella_windows(
                replicas, grid_biases(cv, grid), settings.umbrella, settings.temperature_k,
                rngs, walled(force_field, wall),
                WindowRecording(progress_label=f"path refinement {iteration}",
                                on_frame=gathered.add),
            )  # fmt: skip
        except SimulationError as error:
            fail(window_failure_message(error, windows, settings.potential, cv.unit))
        means = gathered.means()
        new = updated_path(
            images, centres, means[:, atoms], refine.move_fraction, refine.smoothing, align
        )
        moved = displacement(images, new, align)
        noise = image_noise(centres, gathered.standard_errors(), len(images))
        pmf = mbar(
            UmbrellaSamples([s["cv"] for s in series], centres, kappas, settings.temperature_k),
            settings.bin_edges,
        )
        full_images = whole_images(new, means, centres, atoms, structure, align)
        record = iteration_record(iteration, cv, moved, noise, pmf, refine.tolerance_a)
        summary["iterations"].append(record)
        write_iteration(folder / f"iteration_{iteration:02d}", full_images, pmf)
        log.info(
            "path refinement %d: images moved %.3f Å at most (%.3f mean; the means' noise "
            "%.3f Å); PMF barrier %.2f kJ/mol", iteration, moved.max(), moved.mean(),
            np.nanmean(noise), record["pmf_barrier_kj_mol"],
        )  # fmt: skip
        images = new
        if record["settled"]:
            summary["converged"] = True
            break
    if not summary["converged"]:
        log.warning(
            "path refinement: the path still moved more than %g Å and more than its "
            "means' noise after %d iterations; the windows run on its last iteration "
            "(more refine.steps make the means less noisy)", refine.tolerance_a,
            refine.iterations,
        )  # fmt: skip
    with atomic_path(outputs["images"]) as tmp:
        write(tmp, full_images, format="extxyz")
    write_json(summary, outputs["summary"])
    return summary


def whole_images(images, means, centres, atoms, structure, align) -> list:
    """The path's ``images`` (M, n, 3: its atoms) as whole structures: every other atom
    taken from the mean configuration of the window nearest the image's ``s``, that mean
    superposed on the image by the path atoms."""
    result = []
    for i, place in enumerate(images):
        mean = means[int(np.argmin(np.abs(centres - i / (len(images) - 1))))]
        if align:  # (mean - its path atoms' centre) @ R: the path atoms onto the image
            rotation, _ = superpose(mean[atoms], place)
            mean = (mean - mean[atoms].mean(axis=0)) @ rotation + place.mean(axis=0)
        whole = structure.copy()
        whole.positions = mean
        whole.positions[atoms] = place
        result.append(whole)
    return result


def iteration_record(iteration: int, cv: PathCV, moved, noise, pmf, tolerance_a) -> dict:
    """One iteration's line of the summary: how far each image moved, the noise of the
    means it moved to, whether every image has settled (:func:`settled`)."""
    free = np.asarray(pmf.free_energy, dtype=float)
    finite = free[np.isfinite(free)]
    return {
        "iteration": iteration,
        "lambda_per_a2": float(cv.smoothing),
        "largest_move_a": float(moved.max()),
        "mean_move_a": float(moved.mean()),
        "moves_a": [float(m) for m in moved],
        "noise_a": [float(n) for n in noise],
        "settled": bool(settled(moved, noise, tolerance_a).all()),
        # the PMF's highest bin above its lowest: the barrier from the deeper basin
        "pmf_barrier_kj_mol": float(finite.max() - finite.min()) if finite.size else None,
    }


def write_iteration(folder: Path, images: list, pmf) -> None:
    """An iteration's path (whole structures) and PMF."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "images.extxyz") as tmp:
        write(tmp, images, format="extxyz")
    write_table(pmf.to_frame(), folder / "pmf_mbar.csv")
