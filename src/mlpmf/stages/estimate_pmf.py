"""Stage ``estimate_pmf``: the PMF from every window's CV series, by MBAR or WHAM.

Its table holds what the estimator gives, and, where the windows' files carry them:

- with independent sets of windows (``umbrella.repeats``), error bars widened by the
  sets' scatter (``estimator_uncertainty_kj_mol`` keeps the estimator's own);
- with a committee's member energies (MBAR), the model uncertainty: the spread of the
  PMFs reweighted to each member's potential (``member_spread_kj_mol``), and the total
  of both;
- with oracle labels (``umbrella.oracle_every``, MBAR), the PMF reweighted to the
  oracle's potential; with both, the members' spread calibrated by the oracle's
  correction (:func:`mlpmf.errorbudget.model_calibration`): ``model_uncertainty_kj_mol``
  and the total carry its factor.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from mlpmf import convergence, correction, errorbudget, estimators, reweighting, timeseries
from mlpmf.io import atomic_path, write_table
from mlpmf.readers import read_labelled_rows, read_window_series
from mlpmf.samples import UmbrellaSamples
from mlpmf.settings import FreeEnergySettings
from mlpmf.umbrella import ORACLE_OFFSET_COLUMN

log = logging.getLogger(__name__)
LEADING_COLUMNS = ["cv", "free_energy_kj_mol", "uncertainty_kj_mol"]  # then the rest


@dataclass(frozen=True)
class EstimateSettings:
    """What the PMF estimate reads: the estimator, the ``free_energy`` section, the
    temperature, the bins, the CV's period and the bootstrap's seed."""

    estimator: str  # "mbar" or "wham"
    free_energy: FreeEnergySettings
    temperature_k: float
    bin_edges: tuple[float, ...]
    period: float | None
    seed: int

    @classmethod
    def from_params(cls, params: Mapping, estimator: str) -> "EstimateSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        return cls(
            estimator,
            FreeEnergySettings.from_config(params["free_energy"]),
            params["temperature_k"],
            tuple(params["bin_edges"]),
            params["period"],
            params["seed"],
        )

    def arguments(self) -> dict:
        """The keyword arguments every estimate of these windows shares."""
        return dict(
            bin_edges=np.asarray(self.bin_edges),
            bootstrap_samples=self.free_energy.bootstrap_samples,
            seed=self.seed,
        )


@dataclass(frozen=True)
class WindowSamples:
    """The windows of a study as an estimate sees them: their table (``center``,
    ``spring_constant``, ``repeat``), files, CV series and, per window, the indices of
    the independent samples after its equilibration (:func:`mlpmf.timeseries.kept_indices`)."""

    table: pd.DataFrame
    files: Sequence[str]
    series: list[np.ndarray]
    kept: list[np.ndarray]

    @classmethod
    def read(cls, windows_table: str, files: Sequence[str], settings: EstimateSettings):
        table = pd.read_csv(windows_table)
        series = read_window_series(files)
        free_energy = settings.free_energy
        kept = timeseries.kept_indices(
            series, free_energy.decorrelate, free_energy.detect_equilibration,
            table["center"].to_numpy(), settings.period,
        )  # fmt: skip
        return cls(table, list(files), series, kept)

    @property
    def centers(self) -> np.ndarray:
        return self.table["center"].to_numpy()

    @property
    def spring_constants(self) -> np.ndarray:
        return self.table["spring_constant"].to_numpy()

    @property
    def samples(self) -> list[np.ndarray]:
        return [s[k] for s, k in zip(self.series, self.kept, strict=True)]

    def umbrella(self, temperature_k: float, period: float | None) -> UmbrellaSamples:
        """The independent samples as the estimators take them."""
        return UmbrellaSamples(
            self.samples, self.centers, self.spring_constants, temperature_k, period
        )

    def columns(self) -> list[str]:
        """The columns the window files have (those of the first)."""
        return list(pd.read_csv(self.files[0], nrows=0).columns)


def estimate_pmf(
    windows_table: str, trajectories: Sequence[str], settings: EstimateSettings, outputs: Mapping
) -> pd.DataFrame:
    """Estimate the PMF of the windows listed in ``windows_table`` from their series
    files and write ``outputs["pmf"]`` (the table), ``outputs["bootstrap"]`` (bootstrap
    replicas, R x bins) and ``outputs["members"]`` (each member's reweighted PMF, M x
    bins; none without a committee); returns the table."""
    windows = WindowSamples.read(windows_table, trajectories, settings)
    samples = windows.umbrella(settings.temperature_k, settings.period)
    log.info("independent samples per window: %s", [len(s) for s in samples.x_kn])
    estimate = estimators.wham
    if settings.estimator == "mbar":
        estimate = partial(estimators.mbar, uncertainty=settings.free_energy.uncertainty)
    arguments = settings.arguments()
    pmf = estimate(samples, **arguments)
    table, bootstrap = pmf.to_frame(), pmf.bootstrap_free_energies
    scale = convergence.sets_error_scale(estimate, samples, windows.table, **arguments)
    if scale is not None:  # independent sets of windows: their scatter scales the errors
        table["estimator_uncertainty_kj_mol"] = table["uncertainty_kj_mol"]
        table["uncertainty_kj_mol"] *= scale
        bootstrap = convergence.scale_spread(bootstrap, scale)
    members = np.empty((0, len(table)))
    if settings.estimator == "mbar":
        member_columns = [c for c in windows.columns() if c.startswith("member_energy_")]
        if member_columns:
            members = with_model_uncertainty(table, windows, member_columns, pmf, settings)
        if ORACLE_OFFSET_COLUMN in windows.columns():
            table = with_oracle_correction(table, windows, pmf, settings)
            if member_columns:
                calibrate_model_uncertainty(table)
    write_table(
        table[LEADING_COLUMNS + [c for c in table.columns if c not in LEADING_COLUMNS]],
        outputs["pmf"],
    )
    with atomic_path(outputs["bootstrap"]) as tmp:
        np.save(tmp, bootstrap)
    with atomic_path(outputs["members"]) as tmp:
        np.save(tmp, members)
    return table


def with_model_uncertainty(
    table: pd.DataFrame,
    windows: WindowSamples,
    member_columns: Sequence[str],
    pmf: estimators.PMF,
    settings: EstimateSettings,
) -> np.ndarray:
    """A committee drove the windows: the PMF reweighted to each member's potential
    (:func:`mlpmf.reweighting.member_pmfs`); adds their spread
    (``model_uncertainty_kj_mol``) and its total with the statistical error to ``table``
    and returns the members' PMFs (M x bins)."""
    offsets = [
        pd.read_csv(path, usecols=member_columns)[member_columns].to_numpy()[k]
        for path, k in zip(windows.files, windows.kept, strict=True)
    ]
    reweighted = reweighting.member_pmfs(
        windows.umbrella(settings.temperature_k, settings.period),
        offsets,
        np.asarray(settings.bin_edges),
        pmf.window_free_energies,
    )
    table["member_spread_kj_mol"] = reweighted.model_uncertainty
    table["model_uncertainty_kj_mol"] = reweighted.model_uncertainty
    table["total_uncertainty_kj_mol"] = np.hypot(
        table["uncertainty_kj_mol"], table["model_uncertainty_kj_mol"]
    )
    log.info(
        "model uncertainty (%d members): median %.2f kJ/mol; effective samples %s of the mean's",
        len(member_columns),
        np.nanmedian(reweighted.model_uncertainty),
        np.round(reweighted.effective_fraction, 2).tolist(),
    )
    if reweighted.effective_fraction.min() < 0.1:
        log.warning("a member's reweighting rests on few samples: the model band is rough")
    return reweighted.free_energy


def with_oracle_correction(
    table: pd.DataFrame, windows: WindowSamples, pmf: estimators.PMF, settings: EstimateSettings
) -> pd.DataFrame:
    """The oracle labelled every ``umbrella.oracle_every``-th frame: ``table`` with the
    PMF reweighted to the oracle's potential (:func:`mlpmf.correction.oracle_correction`)."""
    rows, offsets = read_labelled_rows(windows.files, ORACLE_OFFSET_COLUMN, windows.kept)
    cv_rows = [cv_series[r] for cv_series, r in zip(windows.series, rows, strict=True)]
    labelled = UmbrellaSamples(
        cv_rows, windows.centers, windows.spring_constants, settings.temperature_k,
        settings.period,
    )  # fmt: skip
    oracle = correction.oracle_correction(
        labelled, offsets, np.asarray(settings.bin_edges), pmf.window_free_energies,
        settings.free_energy.bootstrap_samples, settings.seed,
    )  # fmt: skip
    table = table.assign(**oracle.columns(table["free_energy_kj_mol"], table["uncertainty_kj_mol"]))
    oracle.log_summary([len(r) for r in cv_rows], windows.table["center"].tolist())
    return table


def calibrate_model_uncertainty(table: pd.DataFrame) -> None:
    """Scale the model uncertainty (and the total) of ``table`` by the factor the oracle
    correction's scatter sets on the members' spread (:mod:`mlpmf.errorbudget`); logged."""
    calibration = errorbudget.calibration_of_table(table)
    if calibration is None:
        log.warning("too few bins with oracle rows to calibrate the model band: left as the spread")
        return
    table["model_uncertainty_kj_mol"] = calibration.scale * table["member_spread_kj_mol"]
    table["total_uncertainty_kj_mol"] = np.hypot(
        table["uncertainty_kj_mol"], table["model_uncertainty_kj_mol"]
    )
    log.info(
        "the oracle checks measure the model's error on the PMF at %.2f kJ/mol RMS over %d "
        "bins (their noise %.2f removed) against the members' spread %.2f: model band x %.2f",
        calibration.measured_rms_kj_mol, calibration.bins, calibration.noise_rms_kj_mol,
        calibration.spread_rms_kj_mol, calibration.scale,
    )  # fmt: skip
