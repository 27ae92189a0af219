r"""Barrier heights and rate constants from a potential of mean force.

Transition-state theory along the CV :math:`\xi` (one-dimensional TST): with the PMF
:math:`F(\xi)`, the dividing surface at the PMF maximum :math:`\xi^\ddagger` between the
basins and the reactant side :math:`R = \{\xi \text{ on the reactant side of }
\xi^\ddagger\}`,

.. math:: k_\mathrm{TST} = \sqrt{\frac{k_BT}{2\pi m_\xi}}\;
          \frac{e^{-\beta F(\xi^\ddagger)}}{\int_R e^{-\beta F(\xi)}\,d\xi},

where :math:`m_\xi = (\sum_i |\partial\xi/\partial x_i|^2/m_i)^{-1}` is the CV's
effective mass (:func:`mlpmf.colvars.effective_mass_amu`). Assumptions: no recrossing
of the dividing surface (TST is an upper bound to the true rate), :math:`m_\xi`
constant along the dividing surface (exact for a Cartesian position or a distance),
and a PMF that includes all Jacobian terms (the histogram PMF of the CV does).

The Eyring form :math:`k_BT/h\,e^{-\beta\Delta F^\ddagger}` is reported beside it for
comparison; it ignores the shape of the reactant basin and the CV's mass.
"""

from collections.abc import Sequence

import numpy as np

from mlpmf.units import ase_rate_to_per_s, kt_ev, kt_kj_mol

PLANCK_EV_S = 4.135667696e-15  # eV s (CODATA 2018, exact)


def _argmin_in(cv, free_energy, interval, name):
    lo, hi = interval
    inside = (cv >= lo) & (cv <= hi) & np.isfinite(free_energy)
    if not inside.any():
        raise ValueError(f"rates.{name} {list(interval)}: no PMF bin with data in this interval")
    candidates = np.flatnonzero(inside)
    return int(candidates[np.argmin(free_energy[candidates])])


def barrier_and_rate(
    cv: np.ndarray,
    free_energy_kj_mol: np.ndarray,
    uncertainty_kj_mol: np.ndarray,
    temperature_k: float,
    reactant: Sequence[float],
    product: Sequence[float],
    effective_mass_amu: float,
) -> dict:
    """Barrier (kJ/mol) and TST rate constant (1/s) for reactant -> product.

    The barrier is measured from the PMF minimum inside the ``reactant`` interval to the
    highest PMF point between that minimum and the minimum inside ``product``. Its
    standard error combines the two points' standard errors in quadrature (the PMF
    uncertainties are relative to the global minimum), and the rate's follows from
    d ln k = -beta dF.
    """
    cv = np.asarray(cv, dtype=float)
    free = np.asarray(free_energy_kj_mol, dtype=float)
    error = np.nan_to_num(np.asarray(uncertainty_kj_mol, dtype=float))
    start = _argmin_in(cv, free, reactant, "reactant")
    end = _argmin_in(cv, free, product, "product")
    path = np.arange(min(start, end), max(start, end) + 1)
    top = int(path[np.nanargmax(free[path])])
    kt = kt_kj_mol(temperature_k)
    barrier = free[top] - free[start]
    barrier_error = float(np.hypot(error[top], error[start]))

    reactant_side = np.arange(0, top + 1) if start < top else np.arange(top, len(cv))
    reactant_side = reactant_side[np.isfinite(free[reactant_side])]
    bin_width = np.gradient(cv)
    basin = np.sum(np.exp(-(free[reactant_side] - free[top]) / kt) * bin_width[reactant_side])
    velocity = np.sqrt(kt_ev(temperature_k) / (2.0 * np.pi * effective_mass_amu))
    rate = ase_rate_to_per_s(velocity / basin)
    eyring = kt_ev(temperature_k) / PLANCK_EV_S * np.exp(-barrier / kt)
    return {
        "temperature_k": float(temperature_k),
        "barrier_kj_mol": float(barrier),
        "barrier_uncertainty_kj_mol": barrier_error,
        "reaction_free_energy_kj_mol": float(free[end] - free[start]),
        "reactant_minimum_cv": float(cv[start]),
        "transition_state_cv": float(cv[top]),
        "product_minimum_cv": float(cv[end]),
        "effective_mass_amu": float(effective_mass_amu),
        "rate_constant_per_s": float(rate),
        "rate_constant_uncertainty_per_s": float(rate * barrier_error / kt),
        "eyring_rate_constant_per_s": float(eyring),
        "method": "1D transition-state theory along the CV",
    }
