"""Stage ``estimate_pmf_2d``: the 2D PMF of 2D umbrella sampling, by MBAR or WHAM.

Its projection on the first CV is the study's PMF (the table, bootstrap replicas and
members' file :mod:`mlpmf.stages.estimate_pmf` writes in 1D), with error bars widened by
independent sets' scatter (``umbrella.repeats``) and the oracle's PMF where the windows
carry oracle labels; the summary holds the minimum free-energy path between the
``rates`` basins on the 2D surface and the projection on the second CV.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlpmf import convergence, correction, estimators2d, timeseries
from mlpmf.io import atomic_path, write_json, write_table
from mlpmf.readers import read_labelled_rows, read_window_columns
from mlpmf.samples import UmbrellaSamples
from mlpmf.settings import BasinSettings, FreeEnergySettings
from mlpmf.stages.estimate_pmf import LEADING_COLUMNS
from mlpmf.umbrella import ORACLE_OFFSET_COLUMN

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Estimate2DSettings:
    """What the 2D estimate reads: the estimator, the ``free_energy`` section, the
    temperature, both CVs' bins and periods, the bootstrap's seed and the ``rates``
    basins (on the first CV) the path runs between."""

    estimator: str  # "mbar" or "wham"
    free_energy: FreeEnergySettings
    temperature_k: float
    bin_edges: tuple[tuple[float, ...], tuple[float, ...]]
    periods: tuple[float | None, float | None]
    seed: int
    basins: BasinSettings  # on the first CV

    @classmethod
    def from_params(cls, params: Mapping, estimator: str) -> "Estimate2DSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        return cls(
            estimator,
            FreeEnergySettings.from_config(params["free_energy"]),
            params["temperature_k"],
            (tuple(params["bin_edges"]), tuple(params["bin_edges_2"])),
            (params["period"], params["period_2"]),
            params["seed"],
            BasinSettings.from_config(params["rates"]),
        )


def estimate_pmf_2d(
    windows_table: str, trajectories: Sequence[str], settings: Estimate2DSettings, outputs: Mapping
) -> dict:
    """Estimate the 2D PMF and write ``outputs["pmf_2d"]`` (the surface),
    ``outputs["pmf"]``, ``outputs["bootstrap"]`` and ``outputs["members"]`` (its
    projection on the first CV, as the 1D stage's) and ``outputs["summary"]``; returns
    the summary."""
    windows = pd.read_csv(windows_table)
    centers = windows[["center", "center_2"]].to_numpy()
    kappas = windows[["spring_constant", "spring_constant_2"]].to_numpy()
    tables = read_window_columns(trajectories, ["cv", "cv_2"])  # each file once
    first = [table["cv"].to_numpy() for table in tables]
    second = [table["cv_2"].to_numpy() for table in tables]
    free_energy = settings.free_energy
    kept = timeseries.kept_pair_indices(
        first, second, free_energy.decorrelate, free_energy.detect_equilibration, centers,
        settings.periods,
    )  # fmt: skip
    samples = [np.column_stack([x[k], y[k]]) for x, y, k in zip(first, second, kept, strict=True)]
    log.info("independent samples per window: %s", [len(s) for s in samples])
    estimate = estimators2d.mbar_2d if settings.estimator == "mbar" else estimators2d.wham_2d
    arguments = dict(
        bin_edges=tuple(np.asarray(edges) for edges in settings.bin_edges),
        bootstrap_samples=free_energy.bootstrap_samples,
        seed=settings.seed,
    )
    umbrella = UmbrellaSamples(samples, centers, kappas, settings.temperature_k, settings.periods)
    pmf = estimate(umbrella, **arguments)
    scale = convergence.sets_error_scale(estimate, umbrella, windows, **arguments)
    surface, table, replicas = pmf.to_frame(), pmf.projection(0), pmf.projected_replicas(0)
    if scale is not None:
        for frame in (surface, table):
            frame["estimator_uncertainty_kj_mol"] = frame["uncertainty_kj_mol"]
            frame["uncertainty_kj_mol"] *= scale
        replicas = convergence.scale_spread(replicas, scale)
    columns = pd.read_csv(trajectories[0], nrows=0).columns
    if ORACLE_OFFSET_COLUMN in columns and settings.estimator == "mbar":
        # the oracle labelled every umbrella.oracle_every-th frame: the PMF on its potential
        labelled, offsets = read_labelled_rows(trajectories, ORACLE_OFFSET_COLUMN, kept)
        rows = [
            np.column_stack([x[r], y[r]]) for x, y, r in zip(first, second, labelled, strict=True)
        ]
        on_surface, along_cv = correction.oracle_correction_2d(
            umbrella.with_samples(rows),
            offsets,
            pmf.bin_edges,
            pmf.window_free_energies,
            free_energy.bootstrap_samples,
            settings.seed,
        )
        surface = surface.assign(
            **on_surface.columns(surface["free_energy_kj_mol"], surface["uncertainty_kj_mol"])
        )
        table = table.assign(
            **along_cv.columns(table["free_energy_kj_mol"], table["uncertainty_kj_mol"])
        )
        on_surface.log_summary([len(r) for r in rows], windows["window"].tolist())
    write_table(surface, outputs["pmf_2d"])  # trusted: mark_trust
    write_table(
        table[LEADING_COLUMNS + [c for c in table.columns if c not in LEADING_COLUMNS]],
        outputs["pmf"],
    )
    with atomic_path(outputs["bootstrap"]) as tmp:
        np.save(tmp, replicas)
    with atomic_path(outputs["members"]) as tmp:
        np.save(tmp, np.empty((0, len(table))))  # no model band in 2D (yet)
    summary = surface_summary(pmf, settings, [len(s) for s in samples])
    write_json(summary, outputs["summary"])
    return summary


def surface_summary(pmf: estimators2d.PMF2D, settings: Estimate2DSettings, counts: list) -> dict:
    """The surface's minimum, how many bins it fills, the minimum free-energy path
    between the reactant and product basins (each way, with bootstrap errors) and the
    projection on the second CV."""
    i, j = np.unravel_index(np.nanargmin(pmf.free_energy), pmf.free_energy.shape)
    summary = {
        "estimator": settings.estimator,
        "minimum": [round(float(pmf.x[i]), 12), round(float(pmf.y[j]), 12)],
        "filled_bins": int(np.isfinite(pmf.free_energy).sum()),
        "bins": int(pmf.free_energy.size),
        "independent_samples_per_window": counts,
    }
    period = settings.periods[0]
    reactant = pmf.lowest_bin_between(*settings.basins.reactant, period)
    product = pmf.lowest_bin_between(*settings.basins.product, period)
    if reactant is not None and product is not None:
        forward, forward_error = pmf.path_barrier(reactant, product)
        backward, backward_error = pmf.path_barrier(product, reactant)
        summary["path"] = {
            "reactant_minimum": list(reactant),
            "product_minimum": list(product),
            "forward_barrier_kj_mol": forward,
            "forward_barrier_uncertainty_kj_mol": forward_error,
            "backward_barrier_kj_mol": backward,
            "backward_barrier_uncertainty_kj_mol": backward_error,
            "reaction_free_energy_kj_mol": forward - backward,
        }
        log.info(
            "minimum free-energy path %s -> %s: barrier %.2f +- %.2f kJ/mol (back %.2f +- %.2f)",
            reactant, product, forward, forward_error, backward, backward_error,
        )  # fmt: skip
    else:
        log.warning("no filled bin in the reactant or the product basin: no path barrier")
    second = pmf.projection(1)
    summary["second_cv_projection"] = {
        "cv": second["cv"].tolist(),
        "free_energy_kj_mol": second["free_energy_kj_mol"].tolist(),
        "uncertainty_kj_mol": second["uncertainty_kj_mol"].tolist(),
    }
    return summary
