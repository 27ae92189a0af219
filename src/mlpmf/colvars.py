"""Collective variables with analytic gradients.

A collective variable (CV) maps atomic positions (Å) to one number in its output unit
(Å for the kinds here) and gives the gradient of that number with respect to every
position. Umbrella biases, reference scans and rates all go through this interface.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CV_KINDS = ("distance", "position")
AXES = {"x": 0, "y": 1, "z": 2}


@dataclass(frozen=True)
class Distance:
    """Distance between two atoms (Å), without periodic images.

    MD here keeps positions unwrapped, so the plain difference is continuous.
    """

    atoms: tuple[int, int]
    period: float | None = None
    unit: str = "Å"

    def value(self, positions: np.ndarray) -> float:
        i, j = self.atoms
        return float(np.linalg.norm(positions[j] - positions[i]))

    def gradient(self, positions: np.ndarray) -> np.ndarray:
        """d r / d positions, shape (N, 3): the unit vector on atom j, its negative on i."""
        i, j = self.atoms
        bond = positions[j] - positions[i]
        unit_vector = bond / np.linalg.norm(bond)
        gradient = np.zeros_like(positions)
        gradient[j] = unit_vector
        gradient[i] -= unit_vector
        return gradient


@dataclass(frozen=True)
class Position:
    """One atom's Cartesian coordinate along ``axis`` (Å)."""

    atoms: tuple[int]
    axis: str
    period: float | None = None
    unit: str = "Å"

    def value(self, positions: np.ndarray) -> float:
        return float(positions[self.atoms[0], AXES[self.axis]])

    def gradient(self, positions: np.ndarray) -> np.ndarray:
        gradient = np.zeros_like(positions)
        gradient[self.atoms[0], AXES[self.axis]] = 1.0
        return gradient


CollectiveVariable = Distance | Position


def make_colvar(settings: Mapping) -> CollectiveVariable:
    """Build the CV described by the config's ``collective_variable`` section."""
    kind = settings["kind"]
    atoms = tuple(int(a) for a in settings["atoms"])
    if kind == "distance":
        if len(atoms) != 2:
            raise ValueError(f"collective_variable.atoms: distance needs 2 atoms, got {atoms}")
        return Distance(atoms)
    if kind == "position":
        if len(atoms) != 1:
            raise ValueError(f"collective_variable.atoms: position needs 1 atom, got {atoms}")
        axis = settings.get("axis", "x")
        if axis not in AXES:
            raise ValueError(f"collective_variable.axis: expected one of x, y, z, got {axis!r}")
        return Position(atoms, axis)
    raise ValueError(f"collective_variable.kind: unknown CV {kind!r}; expected one of {CV_KINDS}")


def periodic_difference(values, reference, period: float | None):
    """``values - reference``, wrapped into [-period/2, period/2) when ``period`` is set."""
    difference = np.asarray(values, dtype=float) - reference
    if period is None:
        return difference
    return (difference + 0.5 * period) % period - 0.5 * period


def effective_mass_amu(cv: CollectiveVariable, positions: np.ndarray, masses: Sequence[float]):
    r"""Effective mass of the CV, :math:`m_\xi = (\sum_i |\partial\xi/\partial x_i|^2 / m_i)^{-1}`.

    This is the mass in the flux factor of transition-state theory along the CV; it is
    the atom's mass for a position CV and the reduced mass for a distance.
    """
    gradient = cv.gradient(np.asarray(positions, dtype=float))
    inverse_mass = np.sum(np.sum(gradient**2, axis=1) / np.asarray(masses, dtype=float))
    return float(1.0 / inverse_mass)


def move_to_value(
    cv: CollectiveVariable, positions: np.ndarray, target: float, iterations: int = 20
) -> np.ndarray:
    """Displace ``positions`` along the CV gradient until the CV equals ``target``.

    Newton steps ``x += d(target, xi) * grad(xi) / |grad(xi)|^2`` move the atoms the least
    distance that changes the CV by the needed amount; the kinds here reach the target
    in one step, the loop guards CVs that are not linear along their gradient.
    """
    x = np.array(positions, dtype=float)
    for _ in range(iterations):
        deviation = float(periodic_difference(target, cv.value(x), cv.period))
        if abs(deviation) < 1e-10:
            break
        gradient = cv.gradient(x)
        x += deviation * gradient / np.sum(gradient**2)
    return x
