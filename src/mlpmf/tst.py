r"""Transition-state theory on a potential of mean force: the formulas behind
:mod:`mlpmf.rates` (which applies them to one PMF, its bootstrap replicas and both ways
round a periodic CV), and where a path's minima and barrier tops lie.

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
"""

from collections.abc import Sequence

import numpy as np

from mlpmf.units import FS_IN_ASE_TIME, ase_rate_to_per_s, kj_mol_to_ev, kt_ev, kt_kj_mol

PLANCK_EV_S = 4.135667696e-15  # eV s (CODATA 2018, exact)


def basin_minimum(cv, free_energy, interval, name):
    """The bin of the lowest free energy with data inside the CV ``interval`` of basin
    ``name`` (``reactant`` or ``product``, for the error)."""
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


def eyring_rate_constant(barrier_kj_mol: float, temperature_k: float) -> float:
    """Eyring's rate constant (1/s) over a free-energy barrier."""
    kt = kt_kj_mol(temperature_k)
    return float(kt_ev(temperature_k) / PLANCK_EV_S * np.exp(-barrier_kj_mol / kt))


def tst_rate_constant(cv, free, basin, top, temperature_k, effective_mass_amu) -> float:
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
    start = basin_minimum(cv, free_energy, reactant, "reactant")
    end = basin_minimum(cv, free_energy, product, "product")
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
    _, tops, _, end = periodic_tops(cv, free_energy, reactant, product)
    return min(tops, key=lambda top: free_energy[top]), end


def periodic_tops(cv, free, reactant, product):
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
