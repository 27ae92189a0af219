"""Barrier heights and rate constants from a potential of mean force, with their
uncertainties: transition-state theory along the CV, Kramers' correction and Eyring's
rate (the formulas: :mod:`mlpmf.tst`) for reactant -> product, on a periodic CV both
ways round the circle as parallel channels.

Uncertainties come from the PMF's bootstrap replicas when given (each replica gives a
barrier and rates; their standard deviation, and the 16th-84th percentile range of the
rate, are reported), otherwise from the PMF's standard errors at the two points.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlpmf.colvars import periodic_difference
from mlpmf.tst import (
    barrier_curvature,
    eyring_rate_constant,
    kramers_transmission,
    periodic_tops,
    reaction_path_indices,
    tst_rate_constant,
)
from mlpmf.units import kt_kj_mol


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
        "eyring_rate_constant_per_s": eyring_rate_constant(barrier, temperature_k),
    }
    if effective_mass_amu is None:  # no flux factor without the CV's mass: Eyring only
        return result, top, start
    result["rate_constant_per_s"] = tst_rate_constant(
        cv, free, side, top, temperature_k, effective_mass_amu
    )
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
    start, tops, basin, end = periodic_tops(cv, free, reactant, product)
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


def _periodic_single(cv, free, temperature_k, reactant, product, effective_mass_amu):
    start, tops, basin, _ = periodic_tops(cv, free, reactant, product)
    paths = []
    for top in tops:
        barrier = float(free[top] - free[start])
        path = {
            "transition_state_cv": float(cv[top]),
            "barrier_kj_mol": barrier,
            "eyring_rate_constant_per_s": eyring_rate_constant(barrier, temperature_k),
        }
        if effective_mass_amu is not None:
            path["rate_constant_per_s"] = tst_rate_constant(
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
