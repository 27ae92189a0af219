r"""The transmission coefficient by reactive flux (Bennett-Chandler).

Transition-state theory along a CV counts every crossing of the dividing surface
:math:`\xi = \xi^\ddagger` as a reaction; trajectories that recross are counted too
often. The reactive-flux correlation function (Chandler 1978; Frenkel & Smit ch. 16)

.. math:: \kappa(t) = \frac{\langle \dot\xi(0)\,\theta(\xi(t) - \xi^\ddagger)\rangle_
          {\xi(0)=\xi^\ddagger}}{\langle \dot\xi(0)\,\theta(\dot\xi(0))
          \rangle_{\xi(0)=\xi^\ddagger}}

starts at 1 and falls to a plateau, the transmission coefficient, once the
trajectories have committed to a basin (long before the next reaction); the rate of the
dynamics is :math:`k = \kappa\,k_\mathrm{TST}`. Here (for a product on the side of
larger :math:`\xi`; the sign flips otherwise):

1. *Dividing-surface configurations*: replicas held at :math:`\xi^\ddagger` by a stiff
   harmonic restraint run Langevin MD on the study's potential; the last configuration
   of each is moved the least distance onto the surface (it lies within
   :math:`\sqrt{k_BT/\kappa_\mathrm{restraint}}` of it). A restraint, not a holonomic
   constraint, samples the surface without the constraint's metric bias.
2. *Shooting*: each configuration gets Maxwell-Boltzmann momenta :math:`p` and is run
   twice, with :math:`p` and :math:`-p`, without bias, for ``shot_length_fs``; the pair
   gives :math:`\dot\xi(0)[\theta(\xi^+(t)-\xi^\ddagger) - \theta(\xi^-(t)-\xi^\ddagger)]`,
   and the denominator is :math:`|\dot\xi(0)|` (one of the two has positive flux).
   All shots run as one batched system (one committee pass for all of them).
3. *Plateau*: the mean of :math:`\kappa(t)` over the last half of the shots, with its
   standard error from a bootstrap over the configurations (pairs kept together).

The dynamics of the shots are Langevin at ``friction_per_fs`` (0: constant energy,
velocity Verlet), so :math:`\kappa` belongs to those dynamics: compare it with a rate
counted from unbiased MD of the same dynamics (:func:`counted_rate`), not with
experiment. :func:`with_transmission` turns TST's rates into the dynamics' rate.
"""

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from mlpmf.colvars import CollectiveVariable, periodic_difference
from mlpmf.dynamics import (
    ForceField,
    LangevinSettings,
    StepHooks,
    UmbrellaBias,
    fixed_atom_mask,
    integrate,
    maxwell_boltzmann_velocities,
    own_calculators,
)
from mlpmf.placement import move_to_value
from mlpmf.settings import TransmissionSettings
from mlpmf.units import fs_to_ase_time

log = logging.getLogger(__name__)


def _streams(rng: np.random.Generator, count: int) -> list[np.random.Generator]:
    """Independent random streams for ``count`` replicas, drawn from ``rng``."""
    return [np.random.default_rng(seed) for seed in rng.integers(2**63, size=count)]


def dividing_surface_configurations(
    replicas: list[Atoms],
    cv: CollectiveVariable,
    surface: float,
    restraint_kj_mol: float,
    settings: LangevinSettings,
    steps: int,
    rng: np.random.Generator,
    force_field: ForceField = own_calculators,
) -> list[np.ndarray]:
    """Positions on the surface ``cv = surface``: each replica (already near it) runs
    ``steps`` of restrained Langevin MD, then is moved the least distance onto it."""
    integrate(
        replicas,
        settings,
        steps,
        _streams(rng, len(replicas)),
        [UmbrellaBias(cv, surface, restraint_kj_mol) for _ in replicas],
        force_field,
        StepHooks(disagreement_at=lambda step: False, progress_label="dividing surface"),
    )
    return [move_to_value(cv, atoms.positions, surface) for atoms in replicas]


def shoot(
    replicas: list[Atoms],
    cv: CollectiveVariable,
    settings: LangevinSettings,
    steps: int,
    rng: np.random.Generator,
    force_field: ForceField = own_calculators,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shoot every replica (positions on the surface) with Maxwell-Boltzmann momenta p
    and with -p. Returns the initial CV velocity of the +p shots (CV unit per fs) and the
    CV of both shots at steps 0..steps, each (replicas, steps + 1)."""
    count = len(replicas)
    momenta = []
    for atoms in replicas:
        masses = atoms.get_masses()
        velocities = maxwell_boltzmann_velocities(masses, settings.temperature_k, rng)
        momenta.append(masses[:, None] * velocities * ~fixed_atom_mask(atoms)[:, None])
    runs = []
    for original, p in zip(replicas + replicas, momenta + [-p for p in momenta], strict=True):
        run = original.copy()  # shares the replica's calculator, if it has one (a force
        run.calc = original.calc  # field of own calculators recomputes at new positions)
        run.set_momenta(p, apply_constraint=False)
        runs.append(run)
    flux = np.array(
        [
            np.sum(cv.gradient(a.positions) * p / a.get_masses()[:, None])
            for a, p in zip(replicas, momenta, strict=True)
        ]
    ) * fs_to_ase_time(1.0)
    paths = np.empty((2 * count, steps + 1))
    paths[:, 0] = [cv.value(a.positions) for a in runs]

    def observe(step: int, k: int, atoms: Atoms, _results) -> None:
        paths[k, step] = cv.value(atoms.positions)

    integrate(
        runs,
        settings,
        steps,
        _streams(rng, len(runs)),
        [None] * len(runs),
        force_field,
        StepHooks(observe, lambda step: False, progress_label="shooting"),
    )
    return flux, paths[:count], paths[count:]


def reactive_flux(
    flux: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray,
    surface: float,
    product_side: float,
    period: float | None = None,
) -> np.ndarray:
    """kappa(t) of shot pairs, one row per configuration: the numerator's terms divided
    by the mean |flux| (so that the mean over rows is kappa(t)). ``flux`` is the CV
    velocity of the forward shots at t = 0, ``forward`` and ``backward`` their CV paths
    (configurations, times, starting on the surface); at t = 0 a path counts on the
    side it is heading to, so kappa(0) = 1."""
    sign = np.sign(product_side)
    ahead = sign * periodic_difference(forward, surface, period)
    behind = sign * periodic_difference(backward, surface, period)
    beyond_forward, beyond_backward = ahead > 0, behind > 0
    leaving = sign * flux > 0  # at t = 0, on the surface: the side it is heading to
    beyond_forward[:, 0], beyond_backward[:, 0] = leaving, ~leaving
    terms = sign * flux[:, None] * (beyond_forward.astype(float) - beyond_backward)
    return terms / np.mean(np.abs(flux))


@dataclasses.dataclass(frozen=True)
class DividingSurface:
    """The surface ``cv = value`` the shots start from; ``product_side`` is positive
    when the product lies at larger CV values; ``restraint_kj_mol`` (per CV unit^2)
    holds configurations on it before the shots."""

    cv: CollectiveVariable
    value: float
    product_side: float
    restraint_kj_mol: float


def transmission_coefficient(
    replicas: list[Atoms],
    dividing: DividingSurface,
    sampling: LangevinSettings,
    dynamics: LangevinSettings,
    settings: TransmissionSettings,
    rng: np.random.Generator,
    force_field: ForceField = own_calculators,
) -> dict:
    """kappa(t) and its plateau for the ``dividing`` surface. One replica per
    configuration, each already near the surface; ``sampling`` is the thermostat that
    holds them on it (the windows'), ``dynamics`` that of the shots."""
    cv, surface, product_side = dividing.cv, dividing.value, dividing.product_side
    restraint_kj_mol = dividing.restraint_kj_mol
    positions = dividing_surface_configurations(
        replicas,
        cv,
        surface,
        restraint_kj_mol,
        sampling,
        settings.equilibration_steps,
        rng,
        force_field,
    )
    for atoms, x in zip(replicas, positions, strict=True):
        atoms.positions = x
        atoms.set_momenta(np.zeros_like(x), apply_constraint=False)
    steps = max(2, round(settings.shot_length_fs / dynamics.timestep_fs))
    flux, forward, backward = shoot(replicas, cv, dynamics, steps, rng, force_field)
    rows = reactive_flux(flux, forward, backward, surface, product_side, cv.period)
    kappa = rows.mean(axis=0)
    plateau = slice(steps // 2, steps + 1)
    draws = rng.integers(len(rows), size=(settings.bootstrap_samples, len(rows)))
    boot = np.array(
        [rows[d].sum(axis=0) / len(d) * np.mean(np.abs(flux)) / np.mean(np.abs(flux[d]))
         for d in draws]
    )  # fmt: skip
    plateau_values = boot[:, plateau].mean(axis=1)
    committed = np.sign(product_side) * periodic_difference(
        np.concatenate([forward[:, -1], backward[:, -1]]), surface, cv.period
    )
    log.info("kappa plateau %.3f +- %.3f", kappa[plateau].mean(), plateau_values.std(ddof=1))
    return {
        "kappa": float(kappa[plateau].mean()),
        "kappa_uncertainty": float(plateau_values.std(ddof=1)),
        "time_fs": (np.arange(steps + 1) * dynamics.timestep_fs).tolist(),
        "kappa_t": kappa.tolist(),
        "kappa_t_uncertainty": boot.std(axis=0, ddof=1).tolist(),
        "plateau_from_fs": float(plateau.start * dynamics.timestep_fs),
        "configurations": len(rows),
        "shots": 2 * len(rows),
        "md_steps": len(rows) * (settings.equilibration_steps + 2 * steps),
        "friction_per_fs": float(dynamics.friction_per_fs),
        "dividing_surface_cv": float(surface),
        "product_fraction_at_end": float(np.mean(committed > 0)),
    }


def with_transmission(result: dict, flux: dict) -> dict:
    """``result`` (barrier_and_rate's) with the reactive-flux transmission coefficient
    ``flux`` (kappa at the dominant path's dividing surface, computed at
    ``friction_per_fs``): the rate of the dynamics is kappa times TST's over that path
    (the other way round a periodic CV, if any, stays at its TST rate); TST's rate and
    interval are kept as ``tst_*``."""
    result = dict(result)
    kappa, kappa_error = flux["kappa"], flux["kappa_uncertainty"]
    tst = result["rate_constant_per_s"]
    tst_error = result["rate_constant_uncertainty_per_s"]
    corrected = kappa * tst
    paths = result.get("paths")
    if paths:  # kappa belongs to the dominant path's top; the other way stays TST's
        dominant = paths[result["dominant_path"]]["rate_constant_per_s"]
        corrected = tst - dominant + kappa * dominant
    relative = np.hypot(tst_error / tst, kappa_error / kappa) if kappa > 0 else np.inf
    low, high = result.get("rate_constant_interval_per_s", [tst, tst])
    if "rate_constant_interval_per_s" in result:
        result["tst_rate_constant_interval_per_s"] = [low, high]
    result.update(
        kappa=kappa,
        kappa_uncertainty=kappa_error,
        kappa_friction_per_fs=flux.get("friction_per_fs"),
        tst_rate_constant_per_s=tst,
        tst_rate_constant_uncertainty_per_s=tst_error,
        rate_constant_per_s=corrected,
        rate_constant_uncertainty_per_s=corrected * relative,
        rate_constant_interval_per_s=[
            low * corrected / tst * max(kappa - kappa_error, 0.0) / max(kappa, 1e-300),
            high * corrected / tst * (kappa + kappa_error) / max(kappa, 1e-300),
        ],
    )
    result["method"] += ", times the reactive-flux transmission coefficient kappa"
    return result


def counted_rate(
    series: Sequence[np.ndarray],
    reactant: Sequence[float],
    product: Sequence[float],
    timestep_fs: float,
) -> tuple[float, int]:
    """The reactant -> product rate constant (1/s) counted from unbiased CV time series
    (one per trajectory, one value per ``timestep_fs``): a trajectory belongs to the
    basin whose interval (the core, [lo, hi]) it entered last; the rate is the number of
    reactant -> product changes over the time spent belonging to the reactant. Returns
    it and the number of transitions (its relative error is about 1/sqrt of it)."""
    transitions, reactant_steps = 0, 0
    for values in series:
        values = np.asarray(values, dtype=float)
        core = np.full(len(values), -1)
        core[(values >= reactant[0]) & (values <= reactant[1])] = 0
        core[(values >= product[0]) & (values <= product[1])] = 1
        last_entry = np.maximum.accumulate(np.where(core >= 0, np.arange(len(values)), -1))
        state = np.where(last_entry >= 0, core[np.maximum(last_entry, 0)], -1)
        reactant_steps += int(np.sum(state == 0))
        transitions += int(np.sum((state[1:] == 1) & (state[:-1] == 0)))
    if reactant_steps == 0:
        raise ValueError(f"no step in the reactant core {list(reactant)}")
    return transitions / (reactant_steps * timestep_fs * 1e-15), transitions
