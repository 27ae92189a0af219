r"""Barrier heights and rate constants from a potential of mean force.

**Transition-state theory along the CV** (one-dimensional TST): with the PMF
:math:`F(\xi)`, the dividing surface at the PMF maximum :math:`\xi^\ddagger` between the
basins and the reactant side :math:`R = \{\xi \text{ on the reactant side of }
\xi^\ddagger\}`,

.. math:: k_\mathrm{TST} = \sqrt{\frac{k_BT}{2\pi m_\xi}}\;
          \frac{e^{-\beta F(\xi^\ddagger)}}{\int_R e^{-\beta F(\xi)}\,d\xi},

where :math:`m_\xi = (\sum_i |\partial\xi/\partial x_i|^2/m_i)^{-1}` is the CV's
effective mass (:func:`mlpmf.colvars.effective_mass_amu`). Assumptions: no recrossing
of the dividing surface (TST is an upper bound to the rate of the dynamics along the
CV), :math:`m_\xi` constant along the dividing surface (exact for a Cartesian position
or a distance), and a PMF that includes all Jacobian terms (the histogram PMF of the CV
does).

**Kramers' correction** (spatial-diffusion regime of Langevin dynamics with friction
:math:`\gamma` on the CV): :math:`k = \kappa\,k_\mathrm{TST}` with transmission
coefficient :math:`\kappa = \sqrt{1 + (\gamma/2\omega_b)^2} - \gamma/2\omega_b`, where
:math:`\omega_b = \sqrt{|F''(\xi^\ddagger)|/m_\xi}` is the barrier frequency from a
parabola fitted to the PMF top. It assumes a parabolic barrier top over the range
where recrossings happen and memory-less friction, as in the Langevin MD here.

**Eyring**: :math:`k_BT/h\,e^{-\beta\Delta F^\ddagger}`, reported for comparison; it
ignores the shape of the reactant basin and the CV's mass.

Uncertainties come from the PMF's bootstrap replicas when given (each replica gives a
barrier and rates; their standard deviation, and the 16th-84th percentile range of the
rate, are reported), otherwise from the PMF's standard errors at the two points.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlpmf.colvars import periodic_difference
from mlpmf.units import FS_IN_ASE_TIME, ase_rate_to_per_s, kj_mol_to_ev, kt_ev, kt_kj_mol

PLANCK_EV_S = 4.135667696e-15  # eV s (CODATA 2018, exact)


def _argmin_in(cv, free_energy, interval, name):
    lo, hi = interval
    inside = (cv >= lo) & (cv <= hi) & np.isfinite(free_energy)
    if not inside.any():
        raise ValueError(f"rates.{name} {list(interval)}: no PMF bin with data in this interval")
    candidates = np.flatnonzero(inside)
    return int(candidates[np.argmin(free_energy[candidates])])


def barrier_curvature(cv: np.ndarray, free_energy: np.ndarray, top: int, kt: float) -> float:
    """|F''| at the barrier top (kJ/mol per CV unit^2) from a parabola fitted to the
    contiguous points within 1 kT below the top (at least the two neighbours)."""
    low, high = top, top
    while (
        low > 0
        and np.isfinite(free_energy[low - 1])
        and free_energy[top] - free_energy[low - 1] < kt
    ):
        low -= 1
    while (
        high < len(cv) - 1
        and np.isfinite(free_energy[high + 1])
        and free_energy[top] - free_energy[high + 1] < kt
    ):
        high += 1
    low, high = min(low, top - 1), max(high, top + 1)
    if low < 0 or high >= len(cv):
        raise ValueError("the barrier top lies at the edge of the PMF; widen the bins")
    coefficients = np.polyfit(cv[low : high + 1], free_energy[low : high + 1], 2)
    return float(abs(2.0 * coefficients[0]))


def kramers_transmission(
    friction_per_fs: float, curvature_kj_mol: float, effective_mass_amu: float
) -> float:
    """Kramers' transmission coefficient for Langevin friction on a parabolic barrier."""
    omega_per_fs = np.sqrt(kj_mol_to_ev(curvature_kj_mol) / effective_mass_amu) * FS_IN_ASE_TIME
    ratio = friction_per_fs / (2.0 * omega_per_fs)
    return float(np.sqrt(1.0 + ratio**2) - ratio)


def _eyring(barrier_kj_mol: float, temperature_k: float) -> float:
    """Eyring's rate constant (1/s) over a free-energy barrier."""
    kt = kt_kj_mol(temperature_k)
    return float(kt_ev(temperature_k) / PLANCK_EV_S * np.exp(-barrier_kj_mol / kt))


def _tst(cv, free, basin, top, temperature_k, effective_mass_amu) -> float:
    """TST rate constant (1/s, module docstring) over the PMF bin ``top`` out of the
    reactant ``basin`` (bin indices)."""
    kt = kt_kj_mol(temperature_k)
    weight = np.sum(np.exp(-(free[basin] - free[top]) / kt) * np.gradient(cv)[basin])
    velocity = np.sqrt(kt_ev(temperature_k) / (2.0 * np.pi * effective_mass_amu))
    return float(ase_rate_to_per_s(velocity / weight))


def reaction_path_indices(
    cv: np.ndarray, free_energy: np.ndarray, reactant: Sequence[float], product: Sequence[float]
) -> tuple[int, int, int]:
    """Bins of the reactant minimum, the barrier top (the highest point between the two
    minima) and the product minimum of a PMF."""
    start = _argmin_in(cv, free_energy, reactant, "reactant")
    end = _argmin_in(cv, free_energy, product, "product")
    path = np.arange(min(start, end), max(start, end) + 1)
    return start, int(path[np.nanargmax(free_energy[path])]), end


def dividing_surface(
    cv: np.ndarray,
    free_energy: np.ndarray,
    reactant: Sequence[float],
    product: Sequence[float],
    period: float | None = None,
) -> tuple[int, int]:
    """Bins of the barrier top a reaction crosses (on a periodic CV the lower of the two
    tops round the circle: the dominant path's) and of the product minimum."""
    if period is None:
        _, top, end = reaction_path_indices(cv, free_energy, reactant, product)
        return top, end
    _, tops, _, end = _periodic_tops(cv, free_energy, reactant, product)
    return min(tops, key=lambda top: free_energy[top]), end


def _single(cv, free, temperature_k, reactant, product, effective_mass_amu, friction_per_fs):
    start, top, end = reaction_path_indices(cv, free, reactant, product)
    kt = kt_kj_mol(temperature_k)
    barrier = free[top] - free[start]
    side = np.arange(0, top + 1) if start < top else np.arange(top, len(cv))
    side = side[np.isfinite(free[side])]
    result = {
        "barrier_kj_mol": float(barrier),
        "reaction_free_energy_kj_mol": float(free[end] - free[start]),
        "reactant_minimum_cv": float(cv[start]),
        "transition_state_cv": float(cv[top]),
        "product_minimum_cv": float(cv[end]),
        "eyring_rate_constant_per_s": _eyring(barrier, temperature_k),
    }
    if effective_mass_amu is None:  # no flux factor without the CV's mass: Eyring only
        return result, top, start
    result["rate_constant_per_s"] = _tst(cv, free, side, top, temperature_k, effective_mass_amu)
    if friction_per_fs is not None:
        curvature = barrier_curvature(cv, free, top, kt)
        transmission = kramers_transmission(friction_per_fs, curvature, effective_mass_amu)
        result["barrier_curvature_kj_mol"] = curvature
        result["kramers_transmission"] = transmission
        result["kramers_rate_constant_per_s"] = transmission * result["rate_constant_per_s"]
    return result, top, start


@dataclass(frozen=True)
class Profile:
    """A PMF along a CV: its bins ``cv`` (CV unit), free energy and standard error
    (kJ/mol), optionally (R, M) bootstrap replicas of the free energy, and the CV's
    period (None: not periodic)."""

    cv: np.ndarray
    free_energy_kj_mol: np.ndarray
    uncertainty_kj_mol: np.ndarray
    bootstrap_free_energies_kj_mol: np.ndarray | None = None
    period: float | None = None


def barrier_and_rate(
    profile: Profile,
    temperature_k: float,
    reactant: Sequence[float],
    product: Sequence[float],
    effective_mass_amu: float | None,
    friction_per_fs: float | None = None,
) -> dict:
    """Barrier (kJ/mol) and rate constants (1/s) for reactant -> product.

    The barrier is measured from the PMF minimum inside the ``reactant`` interval to the
    highest PMF point between that minimum and the minimum inside ``product``. On a
    periodic CV (``period``) the basins are joined both ways round the circle: each way
    is a parallel channel (``paths``, :func:`periodic_path_barriers`); the barrier,
    transition state and Kramers' factor are the dominant path's (the one with the
    larger rate, ``dominant_path``), the rate constants the sum over both.

    Parameters
    ----------
    profile
        The PMF (:class:`Profile`): bins, free energy and errors, bootstrap replicas for
        the uncertainties (or None), the CV's period (or None).
    temperature_k
        K.
    reactant, product
        CV intervals [lo, hi] of the two basins.
    effective_mass_amu
        The CV's effective mass, amu Å² per CV unit squared; None gives the barrier and
        Eyring's rate only (no TST or Kramers rate).
    friction_per_fs
        Langevin friction of the dynamics, 1/fs; enables Kramers' correction.
    """
    cv = np.asarray(profile.cv, dtype=float)
    free = np.asarray(profile.free_energy_kj_mol, dtype=float)
    uncertainty_kj_mol = profile.uncertainty_kj_mol
    bootstrap_free_energies_kj_mol = profile.bootstrap_free_energies_kj_mol
    if profile.period is not None:
        return _periodic_barrier_and_rate(
            Profile(cv, free, uncertainty_kj_mol, bootstrap_free_energies_kj_mol, profile.period),
            temperature_k, (reactant, product), effective_mass_amu, friction_per_fs,
        )  # fmt: skip
    result, top, start = _single(
        cv, free, temperature_k, reactant, product, effective_mass_amu, friction_per_fs
    )
    _describe(result, temperature_k, effective_mass_amu, friction_per_fs)
    rate_keys = [k for k in result if k.endswith("rate_constant_per_s")]
    replicas = [] if bootstrap_free_energies_kj_mol is None else bootstrap_free_energies_kj_mol
    samples = []
    for replica in replicas:
        try:
            samples.append(
                _single(
                    cv,
                    replica,
                    temperature_k,
                    reactant,
                    product,
                    effective_mass_amu,
                    friction_per_fs,
                )[0]
            )
        except ValueError:  # a replica with an empty basin: skip it
            continue
    if len(samples) >= 2:
        _bootstrap_errors(result, samples, ["barrier_kj_mol", *rate_keys])
        result["uncertainty_method"] = f"bootstrap over {len(samples)} PMF replicas"
    else:
        error = np.nan_to_num(np.asarray(uncertainty_kj_mol, dtype=float))
        barrier_error = float(np.hypot(error[top], error[start]))
        result["barrier_uncertainty_kj_mol"] = barrier_error
        kt = kt_kj_mol(temperature_k)
        for key in rate_keys:
            result[key.replace("_per_s", "_uncertainty_per_s")] = result[key] * barrier_error / kt
        result["uncertainty_method"] = "PMF standard errors at the minimum and the top"
    return result


def _describe(result: dict, temperature_k, effective_mass_amu, friction_per_fs) -> None:
    """The conditions and the method, in ``result``."""
    result["temperature_k"] = float(temperature_k)
    if effective_mass_amu is not None:
        result["effective_mass_amu"] = float(effective_mass_amu)
    if friction_per_fs is not None and "kramers_transmission" in result:
        result["kramers_friction_per_fs"] = float(friction_per_fs)
    result["method"] = (
        "1D transition-state theory along the CV"
        if effective_mass_amu is not None
        else "barrier from the PMF; Eyring rate only (no CV mass for TST)"
    )


def _periodic_barrier_and_rate(profile, temperature_k, basins, mass, friction) -> dict:
    """barrier_and_rate on a periodic CV: both paths, the dominant one's barrier."""
    cv, free, uncertainty = profile.cv, profile.free_energy_kj_mol, profile.uncertainty_kj_mol
    replicas, period = profile.bootstrap_free_energies_kj_mol, profile.period
    reactant, product = basins
    result = _periodic_headline(cv, free, temperature_k, reactant, product, mass, friction, period)
    _describe(result, temperature_k, mass, friction)
    result["method"] += ", both ways round the periodic CV as parallel channels"
    samples = []
    for replica in [] if replicas is None else replicas:
        try:
            samples.append(
                _periodic_headline(
                    cv, np.asarray(replica, dtype=float), temperature_k, reactant, product,
                    mass, friction, period,
                )
            )  # fmt: skip
        except ValueError:  # a replica with an empty basin: skip it
            continue
    dominant = result["dominant_path"]
    rate_keys = [k for k in result if k.endswith("rate_constant_per_s")]
    if len(samples) >= 2:
        for k, path in enumerate(result["paths"]):
            _bootstrap_errors(path, [s["paths"][k] for s in samples])
        _bootstrap_errors(result, samples, rate_keys)
        result["barrier_uncertainty_kj_mol"] = result["paths"][dominant][
            "barrier_uncertainty_kj_mol"
        ]
        result["uncertainty_method"] = f"bootstrap over {len(samples)} PMF replicas"
        return result
    error = np.nan_to_num(np.asarray(uncertainty, dtype=float))
    kt = kt_kj_mol(temperature_k)
    start = int(np.argmin(np.abs(cv - result["reactant_minimum_cv"])))
    for path in result["paths"]:
        top = int(np.argmin(np.abs(cv - path["transition_state_cv"])))
        path["barrier_uncertainty_kj_mol"] = float(np.hypot(error[top], error[start]))
    result["barrier_uncertainty_kj_mol"] = result["paths"][dominant]["barrier_uncertainty_kj_mol"]
    for key in rate_keys:  # a sum over paths: each path's error, added in quadrature
        path_errors = [
            path.get(key, 0.0) * path["barrier_uncertainty_kj_mol"] / kt for path in result["paths"]
        ]
        result[key.replace("_per_s", "_uncertainty_per_s")] = float(np.hypot.reduce(path_errors))
    result["uncertainty_method"] = "PMF standard errors at the minimum and the tops"
    return result


def _bootstrap_errors(result: dict, samples: list[dict], keys=None) -> None:
    """Standard deviations (and 16-84% rate intervals) of ``keys`` (every number in
    kJ/mol or 1/s) over bootstrap ``samples`` of ``result``."""
    if keys is None:
        keys = [k for k, v in result.items() if k.endswith(("_kj_mol", "_per_s"))]
    for key in keys:
        if not isinstance(result.get(key), float) or "uncertainty" in key:
            continue
        values = np.array([sample[key] for sample in samples])
        error_key = key.replace("_kj_mol", "_uncertainty_kj_mol").replace(
            "_per_s", "_uncertainty_per_s"
        )
        result[error_key] = float(values.std(ddof=1))
        if key.endswith("_per_s"):
            result[key.replace("_per_s", "_interval_per_s")] = np.percentile(
                values, [16, 84]
            ).tolist()


def _periodic_headline(cv, free, temperature_k, reactant, product, mass, friction, period):
    """Both paths round the circle (each with Kramers' factor at ``friction``) and the
    headline: the dominant path's barrier and top, the rates summed over the paths."""
    start, tops, basin, end = _periodic_tops(cv, free, reactant, product)
    paths = _periodic_single(cv, free, temperature_k, reactant, product, mass)
    kt = kt_kj_mol(temperature_k)
    if mass is not None and friction is not None:
        for path, top in zip(paths, tops, strict=True):
            shift = len(cv) // 2 - top  # the top in the middle: a fit across the seam
            rolled = np.roll(free, shift)
            around = cv[top] + periodic_difference(np.roll(cv, shift), cv[top], period)
            curvature = barrier_curvature(around, rolled, len(cv) // 2, kt)
            path["barrier_curvature_kj_mol"] = curvature
            path["kramers_transmission"] = kramers_transmission(friction, curvature, mass)
            path["kramers_rate_constant_per_s"] = (
                path["kramers_transmission"] * path["rate_constant_per_s"]
            )
    rate_key = "rate_constant_per_s" if mass is not None else "eyring_rate_constant_per_s"
    dominant = int(np.argmax([path[rate_key] for path in paths]))
    result = {
        "barrier_kj_mol": paths[dominant]["barrier_kj_mol"],
        "reaction_free_energy_kj_mol": float(free[end] - free[start]),
        "reactant_minimum_cv": float(cv[start]),
        "transition_state_cv": paths[dominant]["transition_state_cv"],
        "product_minimum_cv": float(cv[end]),
        "dominant_path": dominant,
    }
    for key in ("barrier_curvature_kj_mol", "kramers_transmission"):
        if key in paths[dominant]:
            result[key] = paths[dominant][key]
    for key in ("eyring_rate_constant_per_s", "rate_constant_per_s", "kramers_rate_constant_per_s"):
        if key in paths[dominant]:
            result[key] = float(sum(path[key] for path in paths))
    result["paths"] = paths
    return result


def _periodic_tops(cv, free, reactant, product):
    """Reactant minimum, the two tops round the circle, the reactant basin between
    them (bins with data) and the product minimum."""
    start, inner_top, end = reaction_path_indices(cv, free, reactant, product)
    low, high = sorted((start, end))
    outer = np.concatenate([np.arange(high, len(cv)), np.arange(0, low + 1)])
    tops = [inner_top, int(outer[np.nanargmax(free[outer])])]
    basin = _arc(start, tops, len(cv))
    return start, tops, basin[np.isfinite(free[basin])], end


def _arc(start: int, stops: Sequence[int], size: int) -> np.ndarray:
    """Bins of a periodic grid from ``start`` outwards both ways up to and including the
    first bin of ``stops`` met on each side."""
    bins = [start]
    for step in (1, -1):
        k = start
        while k not in stops:
            k = (k + step) % size
            bins.append(k)
            if len(bins) > size:
                break
    return np.unique(bins)


def _periodic_single(cv, free, temperature_k, reactant, product, effective_mass_amu):
    start, tops, basin, _ = _periodic_tops(cv, free, reactant, product)
    paths = []
    for top in tops:
        barrier = float(free[top] - free[start])
        path = {
            "transition_state_cv": float(cv[top]),
            "barrier_kj_mol": barrier,
            "eyring_rate_constant_per_s": _eyring(barrier, temperature_k),
        }
        if effective_mass_amu is not None:
            path["rate_constant_per_s"] = _tst(
                cv, free, basin, top, temperature_k, effective_mass_amu
            )
        paths.append(path)
    return paths


def periodic_path_barriers(
    cv: np.ndarray,
    free_energy_kj_mol: np.ndarray,
    reactant: Sequence[float],
    product: Sequence[float],
    bootstrap_free_energies_kj_mol: np.ndarray | None = None,
    temperature_k: float = 300.0,
    effective_mass_amu: float | None = None,
) -> list[dict]:
    """Both ways from reactant to product on a periodic CV (e.g. a torsion through cis
    and through trans), as parallel channels: per path, the barrier top's CV, its height
    above the reactant minimum (kJ/mol), Eyring's rate and, given the CV's mass, the TST
    rate over that top alone (1/s; the reactant basin is the arc between the two tops;
    the total rate is their sum), with bootstrap standard deviations and 16-84% rate
    intervals when replicas are given."""
    free = np.asarray(free_energy_kj_mol, dtype=float)
    paths = _periodic_single(cv, free, temperature_k, reactant, product, effective_mass_amu)
    replicas = [] if bootstrap_free_energies_kj_mol is None else bootstrap_free_energies_kj_mol
    samples = []
    for replica in replicas:
        try:
            samples.append(
                _periodic_single(
                    cv, np.asarray(replica, dtype=float), temperature_k, reactant, product,
                    effective_mass_amu,
                )
            )  # fmt: skip
        except ValueError:
            continue
    if len(samples) >= 2:
        for k, path in enumerate(paths):
            _bootstrap_errors(path, [sample[k] for sample in samples])
    return paths
