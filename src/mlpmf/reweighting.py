r"""PMFs along unbiased observables recorded in umbrella windows, by MBAR reweighting.

Every sample gets the MBAR weight of its biased CV value,
:math:`1 / \sum_k N_k e^{f_k - u_k(x_n)}`, with the window free energies :math:`f_k` of
:mod:`mlpmf.estimators`; the weights are histogrammed along the observables, in one or
more dimensions, so the observables need be neither biased nor correlated with the CV.
Uncertainties are bootstrap standard errors up to normalisation, every window's samples
redrawn with replacement.

The same weights carry a PMF from the potential that drove the windows to each
committee member's (:func:`member_pmfs`, the model's uncertainty); to the oracle's,
known on a subsample, :mod:`mlpmf.correction` carries it (the model's error).
"""

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from mlpmf.estimators import check_inputs
from mlpmf.samples import UmbrellaSamples
from mlpmf.solver import collapse_samples, log_denominator, solve_free_energies
from mlpmf.units import kt_ev, kt_kj_mol


@dataclass
class ReweightedPMF:
    """A PMF along unbiased observables (one or more dimensions), reweighted by MBAR."""

    centers: list[np.ndarray]  # per dimension, (M_d,) bin centres
    free_energy: np.ndarray  # (M_1, ..., M_D) kJ/mol, minimum 0; NaN where empty
    uncertainty: np.ndarray  # same shape, kJ/mol, bootstrap standard error up to normalisation


def reweight(
    samples: UmbrellaSamples,
    observable_samples: Sequence[np.ndarray],
    bin_edges: Sequence[np.ndarray],
    bootstrap_samples: int = 50,
    seed: int = 0,
) -> ReweightedPMF:
    """Unbiased PMF along observables recorded in the windows, by MBAR reweighting.

    Every sample n gets the MBAR weight of its biased CV value, 1 / sum_k N_k
    exp(f_k - u_k(x_n)), and the weights are histogrammed along the observables, so the
    observables need not be biased, nor even correlated with the CV. Pass the biased CV
    itself as one column to get a 2D PMF such as F(CV, y).

    Parameters
    ----------
    samples
        The windows (:class:`~mlpmf.samples.UmbrellaSamples`): K arrays (N_k,) of the
        biased CV, independent samples, with their centres, springs, temperature and
        period.
    observable_samples
        K arrays (N_k, D) (or (N_k,) for D = 1) of the observables, same samples.
    bin_edges
        D arrays of bin edges, one per observable dimension.
    Other parameters as for :func:`mlpmf.estimators.mbar`.
    """
    cv_samples, centers, spring_constants = samples.x_kn, samples.centers_k, samples.kappas_k
    temperature, period = samples.temperature, samples.period
    check_inputs(cv_samples, centers, spring_constants)
    observables = [
        np.asarray(o, dtype=float).reshape(len(c), -1)
        for o, c in zip(observable_samples, cv_samples, strict=True)
    ]
    bin_edges = [np.asarray(e, dtype=float) for e in bin_edges]
    data = collapse_samples(cv_samples, centers, spring_constants, temperature, None, period)
    pooled = np.concatenate(observables)
    cells = np.concatenate(data.sample_points)
    kt = kt_kj_mol(temperature)
    volume = np.prod(np.meshgrid(*[np.diff(e) for e in bin_edges], indexing="ij"), axis=0)

    def histogram(f, multiplicity):
        log_d = log_denominator(f, np.log(data.n_k), data.u_kx)
        weights = multiplicity * np.exp(-(log_d - log_d.min()))[cells]
        totals = np.histogramdd(pooled, bins=bin_edges, weights=weights)[0]
        with np.errstate(divide="ignore"):
            free = -kt * np.log(totals / volume)
        return np.where(np.isfinite(free), free, np.nan)

    f = solve_free_energies(data.u_kx, data.point_weights, data.n_k)
    free = histogram(f, np.ones(len(pooled)))
    rng = np.random.default_rng(seed)
    offsets = np.cumsum([0] + [len(c) for c in cv_samples])
    replicas = []
    for _ in range(bootstrap_samples):
        multiplicity = np.zeros(len(pooled))
        for k in range(len(cv_samples)):
            drawn = rng.integers(offsets[k], offsets[k + 1], offsets[k + 1] - offsets[k])
            multiplicity += np.bincount(drawn, minlength=len(pooled))
        point_weights = np.bincount(cells, weights=multiplicity, minlength=len(data.points))
        f_star = solve_free_energies(data.u_kx, point_weights, data.n_k, initial_f=f)
        replica = histogram(f_star, multiplicity)
        filled = np.isfinite(replica)
        replicas.append(replica + kt * logsumexp(-replica[filled] / kt + np.log(volume[filled])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        uncertainty = (
            np.nanstd(replicas, axis=0, ddof=1)
            if bootstrap_samples > 1
            else np.full_like(free, np.nan)
        )
    uncertainty[np.isnan(free)] = np.nan
    return ReweightedPMF(
        [0.5 * (e[1:] + e[:-1]) for e in bin_edges], free - np.nanmin(free), uncertainty
    )


@dataclass
class MemberPMFs:
    """The PMF reweighted to each committee member's potential, and their spread."""

    free_energy: np.ndarray  # (M, B) kJ/mol, each -kT ln p_b/dx with p normalised over bins
    model_uncertainty: np.ndarray  # (B,) kJ/mol, standard deviation over the members
    effective_fraction: np.ndarray  # (M,) Kish effective samples, relative to the mean's


def member_pmfs(
    samples: UmbrellaSamples,
    energy_offsets_ev: Sequence[np.ndarray],
    bin_edges: np.ndarray,
    window_free_energies: np.ndarray | None = None,
) -> MemberPMFs:
    r"""The model's share of a committee PMF's error: the PMF each member would give.

    The windows sample the committee mean :math:`\bar U` plus their bias; member *m*'s
    ensemble differs by :math:`\Delta_m = U_m - \bar U`, so MBAR weights each sample by
    :math:`e^{-\beta\Delta_m(x_n)} / \sum_k N_k e^{f_k - u_k(x_n)}` (the same window
    free energies :math:`f_k`, Shirts & Chodera 2008). The members' PMFs, each
    normalised over the bins like the statistical error bars, scatter by the model's
    uncertainty: their standard deviation per bin (the committee spread as the error
    estimate, as i-PI's committee reweighting does; Imbalzano et al., J. Chem. Phys. 154,
    074102 (2021)). ``effective_fraction`` is Kish's effective sample size of each
    member's weights over that of the mean's; far below 1 the members' PMFs rest on a
    few samples and the band is itself uncertain.

    Parameters
    ----------
    energy_offsets_ev
        K arrays (N_k, M): each sample's member energies minus their mean, eV.
    window_free_energies
        The f_k of :func:`mlpmf.estimators.mbar` on the same samples and bins, when
        already solved (``PMF.window_free_energies``); solved here otherwise.
    Other parameters as for :func:`mlpmf.estimators.mbar`.
    """
    cv_samples, centers, spring_constants = samples.x_kn, samples.centers_k, samples.kappas_k
    temperature, period = samples.temperature, samples.period
    check_inputs(cv_samples, centers, spring_constants)
    data = collapse_samples(
        cv_samples, centers, spring_constants, temperature, np.asarray(bin_edges), period
    )
    f = window_free_energies
    if f is None:
        f = solve_free_energies(data.u_kx, data.point_weights, data.n_k)
    log_d = log_denominator(f, np.log(data.n_k), data.u_kx)
    cells = np.concatenate(data.sample_points)
    offsets = np.concatenate([np.asarray(o, dtype=float) for o in energy_offsets_ev])
    log_w = -log_d[cells][:, None] - offsets / kt_ev(temperature)  # (N, M)
    edges = np.asarray(bin_edges, dtype=float)
    bins = np.digitize(data.points[cells], edges) - 1
    inside = (bins >= 0) & (bins < len(edges) - 1)
    kt = kt_kj_mol(temperature)

    def kish(log_weights):
        w = np.exp(log_weights - log_weights.max())
        return w.sum() ** 2 / (w**2).sum()

    free, effective = [], []
    for m in range(offsets.shape[1]):
        shifted = log_w[inside, m] - log_w[inside, m].max()
        totals = np.bincount(bins[inside], weights=np.exp(shifted), minlength=len(edges) - 1)
        with np.errstate(divide="ignore"):
            member = -kt * (np.log(totals / totals.sum()) - np.log(np.diff(edges)))
        free.append(np.where(np.isfinite(member), member, np.nan))
        effective.append(kish(log_w[inside, m]) / kish(-log_d[cells][inside]))
    free = np.array(free)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanstd(free, axis=0, ddof=1) if len(free) > 1 else np.zeros(free.shape[1])
    spread[np.isnan(free).any(0)] = np.nan
    return MemberPMFs(free, spread, np.array(effective))
