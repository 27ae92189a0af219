"""Stage ``diagnostics``: whether the windows overlap and the PMF converged.

- Overlap: the MBAR overlap of windows adjacent in centre (in 2D, each window and its
  nearest neighbours on the grid); a pair below ``free_energy.overlap_threshold`` is
  warned about.
- Halves: the MBAR PMFs of the first and the second half of every window's samples; a
  difference beyond what noise gives is warned about.
- Independent sets (``umbrella.repeats``): their PMFs against each other, in standard
  errors; their chi2 per bin is the factor the estimate stages widen error bars by.
- The committee's largest force disagreement per window, drawn beside its trust levels.

"Beyond what noise gives" is a family-wise test: the largest |z| of n compared bins
exceeds the two-sided Gaussian quantile at :data:`HALF_SPLIT_FALSE_ALARM` / n (3.7 for
50 bins, 4.3 for 600) by chance in 1% of converged runs.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from mlpmf import convergence, estimators, overlap, timeseries
from mlpmf.estimators2d import mbar_2d
from mlpmf.io import read_json, write_json
from mlpmf.plotting import plot_diagnostics
from mlpmf.readers import read_window_columns
from mlpmf.samples import UmbrellaSamples
from mlpmf.settings import FreeEnergySettings
from mlpmf.umbrella import DISAGREEMENT_COLUMN

log = logging.getLogger(__name__)
HALF_SPLIT_FALSE_ALARM = 0.01  # chance that noise alone exceeds the limit in some bin


@dataclass(frozen=True)
class DiagnosticsSettings:
    """What the diagnostics read: the ``free_energy`` section, the temperature, and the
    bins and period of the CV (and of the second CV in 2D umbrella sampling)."""

    free_energy: FreeEnergySettings
    temperature_k: float
    bin_edges: tuple[float, ...]
    period: float | None
    bin_edges_2: tuple[float, ...] | None = None  # 2D umbrella sampling only
    period_2: float | None = None

    @classmethod
    def from_params(cls, params: Mapping) -> "DiagnosticsSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        second = params["bin_edges_2"]
        return cls(
            FreeEnergySettings.from_config(params["free_energy"]),
            params["temperature_k"],
            tuple(params["bin_edges"]),
            params["period"],
            None if second is None else tuple(second),
            params["period_2"],
        )


def noise_limit(comparisons: int) -> float:
    """The largest |z| that noise alone exceeds in one of ``comparisons`` bins with
    probability :data:`HALF_SPLIT_FALSE_ALARM` (two-sided)."""
    return float(norm.isf(HALF_SPLIT_FALSE_ALARM / (2 * max(comparisons, 1))))


@dataclass
class Checks:
    """The overlap and half-split results of one layout (1D or 2D) of windows."""

    samples: list  # independent samples per window (1D arrays, or (n, 2) in 2D)
    overlaps: np.ndarray  # of each neighbour pair
    ordered: np.ndarray  # the pairs' positions, for the plot
    warnings: list[str]
    halves: dict  # PMF tables to plot, by label
    first: object  # the halves' PMFs
    second: object
    drift_kt: float
    drift_z: float
    grid_pairs: list | None = None  # 2D: (window, window, overlap)


def diagnostics(
    windows_table: str,
    trajectories: Sequence[str],
    settings: DiagnosticsSettings,
    metrics: str | None,
    outputs: Mapping,
) -> dict:
    """Check the windows of ``windows_table`` (series in ``trajectories``; ``metrics``:
    the committee's, with its trust levels, or None) and write ``outputs["summary"]``
    (JSON) and ``outputs["plot"]``; returns the summary."""
    windows = pd.read_csv(windows_table)
    two_d = settings.bin_edges_2 is not None
    columns = ["cv", DISAGREEMENT_COLUMN] + (["cv_2"] if two_d else [])
    tables = read_window_columns(trajectories, columns)  # each file once
    raw = [table["cv"].to_numpy() for table in tables]
    checks = (
        grid_checks(windows, tables, settings) if two_d else line_checks(windows, raw, settings)
    )
    repeats = sets_agreement(windows, checks, settings)
    disagreement = [table[DISAGREEMENT_COLUMN].to_numpy() for table in tables]
    largest = [float(np.max(d)) if np.isfinite(d).any() else None for d in disagreement]
    levels = []  # the committee's trust levels, drawn beside its disagreement
    if metrics is not None:
        trust_levels = read_json(metrics)["trust_levels"]
        levels = [trust_levels["lower_ev_a"], trust_levels["upper_ev_a"]]
    first, second = checks.first, checks.second
    compared = int(np.sum(np.isfinite(first.free_energy) & np.isfinite(second.free_energy)))
    z_limit = noise_limit(compared)
    if checks.drift_z > z_limit:
        at = ", ".join(f"{v:g}" for v in convergence.largest_half_difference_at(first, second))
        checks.warnings.append(
            f"first and second halves of the windows differ by up to {checks.drift_kt:.2f} kT, "
            f"{checks.drift_z:.1f} standard errors at ({at}) (noise stays below {z_limit:.1f} "
            f"in {compared} bins): sampling has not converged"
        )
    warnings = list(dict.fromkeys(checks.warnings))  # sets at the same centres repeat a pair
    for warning in warnings:
        log.warning(warning)
    grid_pairs = checks.grid_pairs
    summary = {
        "neighbour_overlap": checks.overlaps.tolist(),
        **({} if grid_pairs is None else {"neighbour_pairs": [p[:2] for p in grid_pairs]}),
        "minimum_neighbour_overlap": float(checks.overlaps.min()),
        "half_split_max_difference_kt": checks.drift_kt,
        "half_split_max_difference_standard_errors": checks.drift_z,
        "half_split_noise_limit_standard_errors": z_limit,
        "samples_per_window": [len(s) for s in raw],
        "independent_samples_per_window": [len(s) for s in checks.samples],
        "largest_force_disagreement_ev_a_per_window": largest,
        **repeats,
        "warnings": warnings,
    }
    write_json(summary, outputs["summary"])
    figure = plot_diagnostics(
        checks.ordered, checks.overlaps, settings.free_energy.overlap_threshold, checks.halves,
        windows["center"].to_numpy(), disagreement, levels,
    )  # fmt: skip
    figure.savefig(outputs["plot"], dpi=150)
    return summary


def line_checks(windows: pd.DataFrame, raw: list, settings: DiagnosticsSettings) -> Checks:
    """Windows along one CV: neighbours in centre order, the 1D half-split."""
    centers = windows["center"].to_numpy()
    kappas = windows["spring_constant"].to_numpy()
    free_energy, edges = settings.free_energy, np.asarray(settings.bin_edges)
    kept = timeseries.kept_indices(
        raw, free_energy.decorrelate, free_energy.detect_equilibration, centers, settings.period
    )
    samples = [s[k] for s, k in zip(raw, kept, strict=True)]
    overlaps = overlap.neighbour_mbar_overlaps(
        samples, centers, kappas, settings.temperature_k, edges, settings.period
    )
    ordered = np.sort(centers)
    warnings = [
        f"windows at {ordered[k]:g} and {ordered[k + 1]:g}"
        f" overlap only {value:.3f} (threshold {free_energy.overlap_threshold})"
        for k, value in enumerate(overlaps)
        if value < free_energy.overlap_threshold
    ]
    first, second, drift_kt, drift_z = convergence.convergence_check(
        UmbrellaSamples(samples, centers, kappas, settings.temperature_k, settings.period), edges
    )
    halves = {"first half": first.to_frame(), "second half": second.to_frame()}
    return Checks(samples, overlaps, ordered, warnings, halves, first, second, drift_kt, drift_z)


def grid_checks(windows: pd.DataFrame, tables: list, settings: DiagnosticsSettings) -> Checks:
    """2D umbrella sampling: neighbours on the grid of centres, the 2D half-split."""
    grid = windows[["center", "center_2"]].to_numpy()
    periods = (settings.period, settings.period_2)
    free_energy = settings.free_energy
    samples = timeseries.kept_pairs(
        [table["cv"].to_numpy() for table in tables],
        [table["cv_2"].to_numpy() for table in tables],
        free_energy.decorrelate,
        free_energy.detect_equilibration,
        grid,
        periods,
    )
    arguments = (
        samples,
        grid,
        windows[["spring_constant", "spring_constant_2"]].to_numpy(),
        settings.temperature_k,
        (np.asarray(settings.bin_edges), np.asarray(settings.bin_edges_2)),
        periods,
    )
    grid_pairs = overlap.grid_neighbour_overlaps(*arguments)
    overlaps = np.array([value for _, _, value in grid_pairs])
    ordered = np.arange(len(overlaps) + 1, dtype=float)  # pair number, for the plot
    warnings = [
        f"windows at ({grid[k][0]:g}, {grid[k][1]:g}) and ({grid[m][0]:g}, {grid[m][1]:g}) "
        f"overlap only {value:.3f} (threshold {free_energy.overlap_threshold})"
        for k, m, value in grid_pairs
        if value < free_energy.overlap_threshold
    ]
    first, second, drift_kt, drift_z = convergence.convergence_check_2d(
        UmbrellaSamples(samples, *arguments[1:4], periods), arguments[4]
    )
    halves = {"first half": first.projection(0), "second half": second.projection(0)}
    return Checks(
        samples, overlaps, ordered, warnings, halves, first, second, drift_kt, drift_z, grid_pairs
    )


def sets_agreement(windows: pd.DataFrame, checks: Checks, settings: DiagnosticsSettings) -> dict:
    """With independent sets of windows (``umbrella.repeats``), whether their MBAR PMFs
    agree: their chi2 per bin, the error scale it sets, the largest difference in
    standard errors and the noise limit of all pairs' bins (a warning beyond it). Adds
    each set's PMF to ``checks.halves`` (for the plot); {} with one set."""
    parts = convergence.window_sets(windows)
    if len(parts) <= 1:
        return {}
    edges = np.asarray(settings.bin_edges)
    if checks.grid_pairs is None:
        samples = UmbrellaSamples(
            checks.samples, windows["center"].to_numpy(), windows["spring_constant"].to_numpy(),
            settings.temperature_k, settings.period,
        )  # fmt: skip
        pmfs = convergence.set_pmfs(estimators.mbar, samples, parts, bin_edges=edges)
    else:
        samples = UmbrellaSamples(
            checks.samples, windows[["center", "center_2"]].to_numpy(),
            windows[["spring_constant", "spring_constant_2"]].to_numpy(),
            settings.temperature_k, (settings.period, settings.period_2),
        )  # fmt: skip
        pmfs = convergence.set_pmfs(
            mbar_2d,
            samples,
            parts,
            bin_edges=(edges, np.asarray(settings.bin_edges_2)),
            bootstrap_samples=20,
        )
    chi2, set_z, set_at, set_bins = convergence.compare_sets(pmfs)
    pairs = len(parts) * (len(parts) - 1) // 2
    set_limit = noise_limit(set_bins * pairs)
    where = ", ".join(f"{v:g}" for v in set_at)
    log.info(
        "%d independent sets of windows: their PMFs differ by %.2f standard errors RMS "
        "(1 where the error bars are right), at most %.1f at (%s)",
        len(parts), np.sqrt(chi2), set_z, where,
    )  # fmt: skip
    if set_z > set_limit:
        checks.warnings.append(
            f"the {len(parts)} independent sets of windows (umbrella.repeats) differ by up to "
            f"{set_z:.1f} standard errors at ({where}) (noise stays below {set_limit:.1f} in "
            f"{set_bins} bins): a slow motion the CV does not drive; the PMF's error bars are "
            f"{convergence.error_scale(chi2):.1f}x the estimator's for it (longer windows or "
            "more sets would narrow them)"
        )
    for r, pmf in enumerate(pmfs):
        checks.halves[f"set {r}"] = (
            pmf.to_frame() if checks.grid_pairs is None else pmf.projection(0)
        )
    return {
        "repeats": len(parts),
        "repeats_chi2_per_bin": chi2,
        "repeats_error_scale": convergence.error_scale(chi2),
        "repeats_max_difference_standard_errors": set_z,
        "repeats_noise_limit_standard_errors": set_limit,
    }
