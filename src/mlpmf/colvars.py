"""Collective variables with analytic gradients.

A collective variable (CV) maps atomic positions (Å) to one number in its output unit
(Å, degrees or Å³) and gives the gradient of that number with respect to every
position. Umbrella biases, reference scans and rates all go through this interface.
A periodic CV (the dihedral) has a ``period``; differences to window centres and bins
are then taken on the circle. :mod:`mlpmf.cvsettings` builds them from the config.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

AXES = {"x": 0, "y": 1, "z": 2}


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross products along the last axis: ``np.cross`` without its axis bookkeeping,
    which costs more than the arithmetic for one 3-vector."""
    return np.stack(
        (
            a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
            a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
            a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0],
        ),
        axis=-1,
    )


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products along the last axis (3-vectors), element by element: the same bits
    for a vector whatever the batch around it."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def _norm(a: np.ndarray) -> np.ndarray:
    return np.sqrt(_dot(a, a))


def _times(v: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``v @ matrix`` for 3-vectors along the last axis, element by element (a BLAS
    product may round a batch differently from one vector)."""
    return v[..., 0, None] * matrix[0] + v[..., 1, None] * matrix[1] + v[..., 2, None] * matrix[2]


class CollectiveVariable:
    """What every CV gives: ``values`` and ``gradients`` of positions with any leading
    batch axes, (..., N, 3) -> (...) and (..., N, 3), so that the replicas of a batch
    are biased in one pass; ``value`` and ``gradient`` for one structure."""

    atoms: tuple[int, ...]
    period: float | None
    unit: str

    def values(self, positions: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value(self, positions: np.ndarray) -> float:
        return float(self.values(np.asarray(positions, dtype=float)))

    def gradient(self, positions: np.ndarray) -> np.ndarray:
        """d xi / d positions, shape (N, 3), in CV unit per Å."""
        return self.gradients(np.asarray(positions, dtype=float))


@dataclass(frozen=True)
class Distance(CollectiveVariable):
    """Distance between two atoms (Å). Without ``cell`` the plain difference (MD here
    keeps positions unwrapped, so it is continuous); with ``cell`` (rows a, b, c in Å)
    and ``pbc``, the minimum-image distance: the bond vector's fractional coordinates
    along periodic directions are wrapped into [-1/2, 1/2) (exact for cells whose
    angles are not far from 90 degrees, as for the minimum-image convention anywhere).
    """

    atoms: tuple[int, int]
    period: float | None = None
    unit: str = "Å"
    cell: tuple[tuple[float, ...], ...] | None = None
    pbc: tuple[bool, bool, bool] = (False, False, False)

    def bond(self, positions: np.ndarray) -> np.ndarray:
        """The vector from atom i to atom j (its minimum image with a cell)."""
        i, j = self.atoms
        bond = positions[..., j, :] - positions[..., i, :]
        if self.cell is None or not any(self.pbc):
            return bond
        cell, inverse = self._cell_and_inverse
        fractional = _times(bond, inverse)
        fractional = fractional - np.where(self.pbc, np.floor(fractional + 0.5), 0.0)
        return _times(fractional, cell)

    @cached_property
    def _cell_and_inverse(self) -> tuple[np.ndarray, np.ndarray]:
        """Built once, not at every MD step."""
        cell = np.array(self.cell, dtype=float)
        return cell, np.linalg.inv(cell)

    def values(self, positions: np.ndarray) -> np.ndarray:
        return _norm(self.bond(positions))

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        """The unit vector along the bond on atom j, its negative on i."""
        i, j = self.atoms
        bond = self.bond(positions)
        unit_vector = bond / _norm(bond)[..., None]
        gradient = np.zeros_like(positions)
        gradient[..., j, :] = unit_vector
        gradient[..., i, :] -= unit_vector
        return gradient


@dataclass(frozen=True)
class Position(CollectiveVariable):
    """One atom's Cartesian coordinate along ``axis`` (Å)."""

    atoms: tuple[int]
    axis: str
    period: float | None = None
    unit: str = "Å"

    def values(self, positions: np.ndarray) -> np.ndarray:
        return positions[..., self.atoms[0], AXES[self.axis]].copy()

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        gradient = np.zeros_like(positions)
        gradient[..., self.atoms[0], AXES[self.axis]] = 1.0
        return gradient


@dataclass(frozen=True)
class Angle(CollectiveVariable):
    """Angle i-j-k at atom j, degrees in [0, 180]."""

    atoms: tuple[int, int, int]
    period: float | None = None
    unit: str = "deg"

    def _arms(self, positions):
        i, j, k = self.atoms
        return positions[..., i, :] - positions[..., j, :], positions[..., k, :] - positions[
            ..., j, :
        ]

    def values(self, positions: np.ndarray) -> np.ndarray:
        a, b = self._arms(positions)
        cosine = _dot(a, b) / (_norm(a) * _norm(b))
        return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        """Each outer atom moves perpendicular to its bond, in the plane."""
        i, j, k = self.atoms
        a, b = self._arms(positions)
        la, lb = _norm(a)[..., None], _norm(b)[..., None]
        ua, ub = a / la, b / lb
        cosine = np.clip(_dot(ua, ub), -1.0, 1.0)[..., None]
        sine = np.maximum(np.sqrt(1.0 - cosine**2), 1e-12)
        gradient = np.zeros_like(positions)
        gradient[..., i, :] = -(ub - cosine * ua) / (la * sine)
        gradient[..., k, :] = -(ua - cosine * ub) / (lb * sine)
        gradient[..., j, :] = -gradient[..., i, :] - gradient[..., k, :]
        return np.degrees(gradient)


@dataclass(frozen=True)
class Dihedral(CollectiveVariable):
    """Torsion i-j-k-l about the j-k bond, degrees in [-180, 180), period 360 (IUPAC
    sign: positive when, looking along j->k, the far bond is turned clockwise)."""

    atoms: tuple[int, int, int, int]
    period: float | None = 360.0
    unit: str = "deg"

    def _bonds(self, positions):
        first, second, third, fourth = (positions[..., a, :] for a in self.atoms)
        return second - first, third - second, fourth - third

    def values(self, positions: np.ndarray) -> np.ndarray:
        b1, b2, b3 = self._bonds(positions)
        n1, n2 = _cross(b1, b2), _cross(b2, b3)
        x = _dot(n1, n2)
        y = _dot(_cross(n1, n2), b2) / _norm(b2)
        angle = np.degrees(np.arctan2(y, x))
        return np.where(angle >= 180.0, angle - 360.0, angle)

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        """The Blondel-Karplus gradient, singular only for collinear bonds."""
        b1, b2, b3 = self._bonds(positions)
        a, b = _cross(b1, b2), _cross(b2, b3)  # normals of the two planes
        length = _norm(b2)[..., None]
        a2, b2_ = _dot(a, a)[..., None], _dot(b, b)[..., None]
        fg, hg = _dot(b1, b2)[..., None], _dot(b3, b2)[..., None]
        gi = -length * a / a2
        gl = length * b / b2_
        gj = length * a / a2 + fg / (a2 * length) * a + hg / (b2_ * length) * b
        gk = -length * b / b2_ - fg / (a2 * length) * a - hg / (b2_ * length) * b
        gradient = np.zeros_like(positions)
        for atom, g in zip(self.atoms, (gi, gj, gk, gl), strict=True):
            gradient[..., atom, :] += g
        return np.degrees(gradient)


@dataclass(frozen=True)
class SignedVolume(CollectiveVariable):
    """Scalar triple product (r_a - r_c) . ((r_b - r_c) x (r_d - r_c)), Å³, of three bond
    vectors from the centre c = atoms[0]: it changes sign on inversion of the centre
    (ammonia's umbrella flip) or on racemisation, and is zero in the planar state."""

    atoms: tuple[int, int, int, int]
    period: float | None = None
    unit: str = "Å³"

    def _bonds(self, positions):
        c, a, b, d = self.atoms
        centre = positions[..., c, :]
        return (positions[..., a, :] - centre, positions[..., b, :] - centre,
                positions[..., d, :] - centre)  # fmt: skip

    def values(self, positions: np.ndarray) -> np.ndarray:
        u, v, w = self._bonds(positions)
        return _dot(u, _cross(v, w))

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        u, v, w = self._bonds(positions)
        c, a, b, d = self.atoms
        gradient = np.zeros_like(positions)
        gradient[..., a, :] = _cross(v, w)
        gradient[..., b, :] = _cross(w, u)
        gradient[..., d, :] = _cross(u, v)
        gradient[..., c, :] = -(gradient[..., a, :] + gradient[..., b, :] + gradient[..., d, :])
        return gradient


@dataclass(frozen=True)
class LinearCombination(CollectiveVariable):
    """sum_k c_k |r_(b_k) - r_(a_k)| over atom pairs (a_k, b_k), Å: PLUMED's ``COMBINE``
    of ``DISTANCE``s. With pairs (D, H), (H, A) and coefficients (1, -1) it is the
    difference of distances of a proton (or group) transfer or an SN2 substitution."""

    pairs: tuple[tuple[int, int], ...]
    coefficients: tuple[float, ...]
    period: float | None = None
    unit: str = "Å"

    @property
    def atoms(self) -> tuple[int, ...]:
        return tuple(a for pair in self.pairs for a in pair)

    def _bonds(self, positions):
        first, second = self._ends
        return positions[..., second, :] - positions[..., first, :]

    @cached_property
    def _ends(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array([i for i, _ in self.pairs]), np.array(
            [j for _, j in self.pairs]
        )  # (..., pairs, 3)

    def values(self, positions: np.ndarray) -> np.ndarray:
        lengths = _norm(self._bonds(positions))
        total = np.zeros(lengths.shape[:-1])
        for k, c in enumerate(self.coefficients):  # in order: the same bits in any batch
            total = total + c * lengths[..., k]
        return total

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        bonds = self._bonds(positions)
        units = bonds / _norm(bonds)[..., None]
        gradient = np.zeros_like(positions)
        for k, ((i, j), c) in enumerate(zip(self.pairs, self.coefficients, strict=True)):
            gradient[..., j, :] += c * units[..., k, :]
            gradient[..., i, :] -= c * units[..., k, :]
        return gradient


def rational_switch(r: np.ndarray, r0: float, d0: float, n: int, m: int):
    """PLUMED's rational switching function and its derivative in r:
    s = (1 - x^n) / (1 - x^m), x = (r - d0) / r0; s = 1 for r <= d0. At x = 1, where
    both vanish, the limit n / m with slope n (n - m) / (2 m r0)."""
    x = (np.asarray(r, dtype=float) - d0) / r0
    near = np.abs(x - 1.0) < 1e-6
    safe = np.where(near, 0.5, np.maximum(x, 0.0))
    xn, xm = safe**n, safe**m
    value = (1.0 - xn) / (1.0 - xm)
    slope = (-n * safe ** (n - 1) * (1.0 - xm) + m * safe ** (m - 1) * (1.0 - xn)) / (1.0 - xm) ** 2
    limit_slope = n * (n - m) / (2.0 * m)
    value = np.where(near, n / m + limit_slope * (x - 1.0), value)
    slope = np.where(near, limit_slope, slope)
    inside = x <= 0.0
    return np.where(inside, 1.0, value), np.where(inside, 0.0, slope / r0)


@dataclass(frozen=True)
class CoordinationNumber(CollectiveVariable):
    """sum over pairs of s(|r_j - r_i|), PLUMED's ``COORDINATION`` with its rational
    switching function (:func:`rational_switch`): pairs i in ``atoms``, j in
    ``other_atoms`` (i != j), or, without ``other_atoms``, every pair within ``atoms``
    once. Dimensionless: how many bonds formed, how many waters round an ion."""

    group: tuple[int, ...]
    other_atoms: tuple[int, ...] = ()
    r0_a: float = 1.5
    d0_a: float = 0.0
    n: int = 6
    m: int = 12
    period: float | None = None
    unit: str = ""

    @property
    def atoms(self) -> tuple[int, ...]:
        return self.group + tuple(a for a in self.other_atoms if a not in self.group)

    @cached_property
    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Both ends of every counted pair, built once (a group of n atoms has n^2 / 2)."""
        if self.other_atoms:
            pairs = [(i, j) for i in self.group for j in self.other_atoms if i != j]
        else:
            pairs = [(a, b) for k, a in enumerate(self.group) for b in self.group[k + 1 :]]
        return np.array([i for i, _ in pairs]), np.array([j for _, j in pairs])

    def _switched(self, positions):
        first, second = self._pairs
        bonds = positions[..., second, :] - positions[..., first, :]
        lengths = _norm(bonds)
        return bonds, lengths, rational_switch(lengths, self.r0_a, self.d0_a, self.n, self.m)

    def values(self, positions: np.ndarray) -> np.ndarray:
        switched = self._switched(positions)[2][0]
        total = np.zeros(switched.shape[:-1])
        for k in range(switched.shape[-1]):  # in order: the same bits in any batch
            total = total + switched[..., k]
        return total

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        first, second = self._pairs
        bonds, lengths, (_, slope) = self._switched(positions)
        along = (slope / lengths)[..., None] * bonds  # ds/dr_j for each pair
        gradient = np.zeros_like(positions)
        for k, (i, j) in enumerate(zip(first, second, strict=True)):
            gradient[..., j, :] += along[..., k, :]
            gradient[..., i, :] -= along[..., k, :]
        return gradient


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
