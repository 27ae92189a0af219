r"""The oracle's PMF from windows a model drove: free-energy perturbation on labelled frames.

The windows sample the model's potential :math:`U` plus their bias; on some of their
frames (``umbrella.oracle_every``) the oracle's energy :math:`U_O` is known too. With
:math:`\Delta = U_O - U`, the oracle's PMF is the model's plus

.. math:: c(s) = -kT \ln \langle e^{-\beta\Delta} \rangle_{U, s},

the exponential average over the model's unbiased ensemble at CV value *s*
(free-energy perturbation, Zwanzig 1954; the "indirect" route from an MLP or MM
ensemble to the reference method's, as in Rufa et al., arXiv:2010.03957 (2020)). Every
labelled frame (a *row*) gets its MBAR weight :math:`1/\sum_k N_k e^{f_k - u_k(x_n)}`
with the window free energies of the model's MBAR solution and :math:`N_k` the rows of
window k. Only the correction comes from the rows: the model's PMF keeps all its
samples, and *c* varies slowly where the model is good.

The exponential average is reliable while the model's energy error scatters by about
kT or less within a bin (``energy_error_kj_mol``; ``effective_fraction`` near 1); at
several kT it rests on a few rows, which ``effective_samples`` shows. Reweighting
corrects weights, not coverage: where the model's windows never go, neither does the
correction. Uncertainties: rows redrawn in blocks of their statistical inefficiency,
within each window, with the :math:`f_k` fixed (their error is the model PMF's own).
"""

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlpmf.estimators import check_inputs
from mlpmf.estimators2d import bin_index_2d, reduced_bias_2d
from mlpmf.samples import UmbrellaSamples
from mlpmf.solver import log_denominator, reduced_bias, wrap
from mlpmf.timeseries import statistical_inefficiency
from mlpmf.units import ev_to_kj_mol, kt_ev, kt_kj_mol

log = logging.getLogger(__name__)
ROUGH_FRACTION = 0.1  # a window whose rows' Kish fraction lies below this is warned about


@dataclass
class OracleCorrection:
    """What the PMF would be on the oracle's potential, from the windows' own samples."""

    correction: np.ndarray  # (B,) kJ/mol, F_oracle - F_model up to a constant; NaN: no rows
    uncertainty: np.ndarray  # (B,) kJ/mol, block-bootstrap standard error up to a constant
    effective_samples: np.ndarray  # (B,) Kish effective number of rows of each bin
    energy_error_kj_mol: np.ndarray  # (K,) std of oracle minus model energy in each window
    effective_fraction: np.ndarray  # (K,) Kish fraction of each window's e^{-beta Delta}

    def columns(self, free_energy: np.ndarray, uncertainty: np.ndarray) -> dict[str, np.ndarray]:
        """The PMF table's oracle columns, given the model's PMF and its errors (kJ/mol)
        on the same bins: the oracle-reweighted PMF (minimum 0; NaN where no row fell)
        and its error (the model PMF's and the correction's in quadrature), the
        correction and the bins' effective rows."""
        oracle = np.asarray(free_energy, dtype=float) + self.correction
        return {
            "free_energy_oracle_kj_mol": oracle - np.nanmin(oracle),
            "uncertainty_oracle_kj_mol": np.hypot(uncertainty, self.uncertainty),
            "oracle_correction_kj_mol": self.correction,
            "oracle_correction_uncertainty_kj_mol": self.uncertainty,
            "oracle_effective_samples": self.effective_samples,
        }

    def log_summary(self, rows_per_window: Sequence[int], window_names: Sequence) -> None:
        """Log the rows, the model's energy error and the Kish fraction per window, and
        warn about windows whose reweighting rests on few rows."""
        log.info(
            "oracle rows per window: %s; the model's energy error (std of oracle minus "
            "model) per window: %s kJ/mol; Kish fraction of exp(-Delta/kT): %s; the "
            "correction spans %.2f kJ/mol",
            list(rows_per_window),
            np.round(self.energy_error_kj_mol, 2).tolist(),
            np.round(self.effective_fraction, 2).tolist(),
            np.nanmax(self.correction),
        )
        rough = np.flatnonzero(self.effective_fraction < ROUGH_FRACTION)
        if len(rough):
            log.warning(
                "windows %s: the model's energies scatter so far from the oracle's that "
                "under %.0f%% of their labelled frames carry the reweighting; the "
                "oracle-reweighted PMF is rough there (more active learning helps)",
                [window_names[k] for k in rough], 100 * ROUGH_FRACTION,
            )  # fmt: skip


def _kish(log_weights, groups, size):
    """Kish's effective sample size of the weights in each group."""
    top = np.full(size, -np.inf)
    np.maximum.at(top, groups, log_weights)
    w = np.exp(log_weights - top[groups])
    total = np.bincount(groups, w, minlength=size)
    squares = np.bincount(groups, w**2, minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(squares > 0, total**2 / squares, 0.0)


def _rows(energy_offsets_ev, temperature):
    """Per window its offsets (eV), the row counts, and all offsets in kT about their mean."""
    deltas = [np.asarray(d, dtype=float) for d in energy_offsets_ev]
    n_k = np.array([len(d) for d in deltas], dtype=float)
    if not n_k.all():
        raise ValueError(f"windows {np.flatnonzero(n_k == 0).tolist()} have no oracle rows")
    delta = np.concatenate(deltas)
    return deltas, n_k, (delta - delta.mean()) / kt_ev(temperature)


def _correct(log_w, delta, binned, deltas, temperature, bootstrap):
    """The correction on ``count`` bins from rows with MBAR log weights ``log_w``,
    offsets ``delta`` (kT) and bin ``bins`` (valid where ``inside``): ``binned`` is
    (bins, inside, count); ``bootstrap`` (replicas, seed)."""
    bins, inside, count = binned
    bootstrap_samples, seed = bootstrap
    kt = kt_kj_mol(temperature)
    n_k = np.array([len(d) for d in deltas])

    def correction(multiplicity):
        top = log_w[inside].max()  # one shift for both sums: their ratio per bin is exact
        model = multiplicity[inside] * np.exp(log_w[inside] - top)
        oracle = model * np.exp(-delta[inside])
        model = np.bincount(bins[inside], model, minlength=count)
        oracle = np.bincount(bins[inside], oracle, minlength=count)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = -kt * np.log(oracle / model)
        c[model == 0] = np.nan
        return c

    point = correction(np.ones(len(delta)))
    offsets = np.cumsum([0, *n_k])
    blocks = [max(1, int(np.ceil(statistical_inefficiency(d)))) for d in deltas]
    rng = np.random.default_rng(seed)
    replicas = []
    for _ in range(bootstrap_samples):
        multiplicity = np.zeros(len(delta))
        for k, (n, block) in enumerate(zip(n_k, blocks, strict=True)):
            starts = rng.integers(0, max(1, n - block + 1), int(np.ceil(n / block)))
            drawn = (starts[:, None] + np.arange(block)).ravel()[:n]
            multiplicity += np.bincount(offsets[k] + drawn, minlength=len(delta))
        replica = correction(multiplicity)
        replicas.append(replica - np.nanmean(replica - point))  # up to a constant
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        uncertainty = (
            np.nanstd(replicas, axis=0, ddof=1) if bootstrap_samples > 1 else np.full(count, np.nan)
        )
    uncertainty[np.isnan(point)] = np.nan
    window_of = np.repeat(np.arange(len(deltas)), n_k)
    return OracleCorrection(
        correction=point - np.nanmin(point),
        uncertainty=uncertainty,
        effective_samples=_kish((log_w - delta)[inside], bins[inside], count),
        energy_error_kj_mol=ev_to_kj_mol(np.array([np.std(d) for d in deltas])),
        effective_fraction=_kish(-delta, window_of, len(deltas)) / n_k,
    )


def oracle_correction(
    rows: UmbrellaSamples,
    energy_offsets_ev: Sequence[np.ndarray],
    bin_edges: np.ndarray,
    window_free_energies: np.ndarray,
    bootstrap_samples: int = 100,
    seed: int = 0,
) -> OracleCorrection:
    """The correction that turns a model-driven PMF along the CV into the oracle's
    (module docstring).

    Parameters
    ----------
    rows
        The windows (:class:`~mlpmf.samples.UmbrellaSamples`) with, as samples, K arrays
        of the CV at the rows where the oracle's energy is known.
    energy_offsets_ev
        K arrays, same rows: oracle minus model energy, eV (any constant offset cancels).
    window_free_energies
        The :math:`f_k` (kT) of :func:`mlpmf.estimators.mbar` on the model's samples.
    Other parameters as for :func:`mlpmf.estimators.mbar`.
    """
    cv_rows, centers, spring_constants = rows.x_kn, rows.centers_k, rows.kappas_k
    temperature, period = rows.temperature, rows.period
    check_inputs(cv_rows, centers, spring_constants)
    if any(len(r) != len(d) for r, d in zip(cv_rows, energy_offsets_ev, strict=True)):
        raise ValueError("cv_rows and energy_offsets_ev differ in length in some window")
    deltas, n_k, delta = _rows(energy_offsets_ev, temperature)
    x = np.concatenate([np.asarray(r, dtype=float) for r in cv_rows])
    u_kn = reduced_bias(x, centers, spring_constants, temperature, period)
    log_w = -log_denominator(np.asarray(window_free_energies, float), np.log(n_k), u_kn)
    edges = np.asarray(bin_edges, dtype=float)
    bins = np.digitize(wrap(x, period, edges[0]), edges) - 1
    inside = (bins >= 0) & (bins < len(edges) - 1)
    return _correct(
        log_w, delta, (bins, inside, len(edges) - 1), deltas, temperature,
        (bootstrap_samples, seed),
    )  # fmt: skip


def oracle_correction_2d(
    windows: UmbrellaSamples,
    energy_offsets_ev: Sequence[np.ndarray],
    bin_edges: tuple[np.ndarray, np.ndarray],
    window_free_energies: np.ndarray,
    bootstrap_samples: int = 100,
    seed: int = 0,
) -> tuple[OracleCorrection, OracleCorrection]:
    """The same for 2D umbrella sampling: the correction of the 2D surface (bins
    flattened row-major, as :meth:`mlpmf.estimators2d.PMF2D.to_frame`) and of its
    projection on the first CV (the same rows binned along it alone).

    ``windows``: as samples, K arrays (N_k, 2) of both CVs at the labelled frames;
    centres and spring constants (K, 2); ``window_free_energies`` of
    :func:`mlpmf.estimators2d.mbar_2d`.
    """
    rows, centers, spring_constants = windows.x_kn, windows.centers_k, windows.kappas_k
    temperature, periods = windows.temperature, windows.periods
    if any(len(r) != len(d) for r, d in zip(rows, energy_offsets_ev, strict=True)):
        raise ValueError("rows and energy_offsets_ev differ in length in some window")
    deltas, n_k, delta = _rows(energy_offsets_ev, temperature)
    points = np.concatenate([np.asarray(r, dtype=float).reshape(-1, 2) for r in rows])
    u_kn = reduced_bias_2d(points, centers, spring_constants, temperature, periods)
    log_w = -log_denominator(np.asarray(window_free_energies, float), np.log(n_k), u_kn)
    edges = [np.asarray(e, dtype=float) for e in bin_edges]
    flat, inside = bin_index_2d(points, edges, periods)
    shape = (len(edges[0]) - 1, len(edges[1]) - 1)
    surface = _correct(
        log_w, delta, (flat, inside, shape[0] * shape[1]), deltas, temperature,
        (bootstrap_samples, seed),
    )  # fmt: skip
    first = np.digitize(wrap(points[:, 0], periods[0], edges[0][0]), edges[0]) - 1
    along = (first >= 0) & (first < shape[0])
    projection = _correct(
        log_w, delta, (first, along, shape[0]), deltas, temperature, (bootstrap_samples, seed)
    )
    return surface, projection
