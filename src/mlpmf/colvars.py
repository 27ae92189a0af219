"""Collective variables with analytic gradients.

A collective variable (CV) maps atomic positions (Å) to one number in its output unit
(Å, degrees or Å³) and gives the gradient of that number with respect to every
position. Umbrella biases, reference scans and rates all go through this interface.
A periodic CV (the dihedral) has a ``period``; differences to window centres and bins
are then taken on the circle.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CV_KINDS = ("distance", "position", "angle", "dihedral", "signed_volume")
ATOM_COUNTS = {"distance": 2, "position": 1, "angle": 3, "dihedral": 4, "signed_volume": 4}
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
    """Distance between two atoms (Å), without periodic images.

    MD here keeps positions unwrapped, so the plain difference is continuous.
    """

    atoms: tuple[int, int]
    period: float | None = None
    unit: str = "Å"

    def values(self, positions: np.ndarray) -> np.ndarray:
        i, j = self.atoms
        return _norm(positions[..., j, :] - positions[..., i, :])

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        """The unit vector along the bond on atom j, its negative on i."""
        i, j = self.atoms
        bond = positions[..., j, :] - positions[..., i, :]
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


def make_colvar(settings: Mapping) -> CollectiveVariable:
    """Build the CV described by the config's ``collective_variable`` section."""
    kind = settings["kind"]
    atoms = tuple(int(a) for a in settings["atoms"])
    if kind not in CV_KINDS:
        raise ValueError(
            f"collective_variable.kind: unknown CV {kind!r}; expected one of {CV_KINDS}"
        )
    if len(atoms) != ATOM_COUNTS[kind] or len(set(atoms)) != len(atoms):
        raise ValueError(
            f"collective_variable.atoms: {kind} needs {ATOM_COUNTS[kind]} distinct atoms, "
            f"got {list(atoms)}"
        )
    if kind == "position":
        axis = settings.get("axis", "x")
        if axis not in AXES:
            raise ValueError(f"collective_variable.axis: expected one of x, y, z, got {axis!r}")
        return Position(atoms, axis)
    classes = {"distance": Distance, "angle": Angle, "dihedral": Dihedral}
    return classes.get(kind, SignedVolume)(atoms)


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
    cv: CollectiveVariable,
    positions: np.ndarray,
    target: float,
    iterations: int = 1000,
    max_step_a: float = 0.05,
    numbers: np.ndarray | None = None,
    movable: np.ndarray | None = None,
) -> np.ndarray:
    """Displace ``positions`` until the CV equals ``target``.

    With ``numbers`` (atomic numbers), a torsion or an angle is first set by turning
    the whole bonded fragment on one side of its central bond rigidly (as a chemist
    would, and as ASE's ``set_dihedral`` with a mask does), so no bond is strained;
    ``movable`` (bool per atom) excludes fragments holding fixed atoms. Then (or
    without ``numbers``, or where the bond is in a ring) Newton steps
    ``x += d(target, xi) * grad(xi) / |grad(xi)|^2`` move the atoms the least distance
    that changes the CV by the needed amount. Each step moves no atom more than
    ``max_step_a``, so that a curved path (a torsion turning a hydrogen round its bond)
    is followed without stretching bonds; for a linear CV the result is the same.
    """
    x = np.array(positions, dtype=float)
    if numbers is not None:
        x = _turn_fragment(cv, x, target, np.asarray(numbers), movable)
    for _ in range(iterations):
        deviation = float(periodic_difference(target, cv.value(x), cv.period))
        if abs(deviation) < 1e-10:
            break
        gradient = cv.gradient(x)
        step = deviation * gradient / np.sum(gradient**2)
        largest = np.sqrt(np.max(np.sum(step**2, axis=1)))
        x += step * min(1.0, max_step_a / largest)
    return x


BOND_TOLERANCE = 1.25  # bonded: closer than this times the sum of covalent radii


def bonded_fragment(
    numbers: np.ndarray, positions: np.ndarray, fixed: int, moving: int
) -> np.ndarray | None:
    """Indices of the atoms on ``moving``'s side of the ``fixed``-``moving`` bond in the
    covalent bond graph, or None when the two are not bonded or the bond is in a ring
    (no side can turn alone)."""
    from ase.data import covalent_radii

    radii = covalent_radii[numbers]
    distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    bonded = distances < BOND_TOLERANCE * (radii[:, None] + radii[None])
    np.fill_diagonal(bonded, False)
    if not bonded[fixed, moving]:
        return None
    bonded[fixed, moving] = bonded[moving, fixed] = False
    seen, frontier = {moving}, [moving]
    while frontier:
        atom = frontier.pop()
        for other in np.flatnonzero(bonded[atom]):
            if other == fixed:
                return None
            if other not in seen:
                seen.add(int(other))
                frontier.append(int(other))
    return np.array(sorted(seen))


def _rotated(points: np.ndarray, centre: np.ndarray, axis: np.ndarray, degrees: float):
    """``points`` turned by ``degrees`` about ``axis`` through ``centre`` (Rodrigues)."""
    k = axis / np.linalg.norm(axis)
    v = points - centre
    angle = np.radians(degrees)
    turned = v * np.cos(angle) + np.cross(k, v) * np.sin(angle)
    return centre + turned + np.outer(v @ k, k) * (1.0 - np.cos(angle))


def _turn_fragment(cv, x, target, numbers, movable) -> np.ndarray:
    """Set a dihedral or angle by turning the fragment beyond its third (second) atom
    rigidly; ``x`` unchanged when that is not possible."""
    if isinstance(cv, Dihedral):
        pivot, moving = cv.atoms[1], cv.atoms[2]
        axis, centre = x[moving] - x[pivot], x[moving]
    elif isinstance(cv, Angle):
        pivot, moving = cv.atoms[1], cv.atoms[2]
        axis = np.cross(x[cv.atoms[0]] - x[pivot], x[moving] - x[pivot])
        centre = x[pivot]
    else:
        return x
    if np.linalg.norm(axis) < 1e-6 or len(numbers) != len(x):
        return x
    fragment = bonded_fragment(numbers, x, pivot, moving)
    if fragment is None or cv.atoms[0] in fragment:
        return x
    if movable is not None and not np.all(np.asarray(movable)[fragment]):
        return x
    change = float(periodic_difference(target, cv.value(x), cv.period))
    for sign in (1.0, -1.0):
        trial = x.copy()
        trial[fragment] = _rotated(x[fragment], centre, axis, sign * change)
        if abs(periodic_difference(target, cv.value(trial), cv.period)) < 0.5 * abs(change):
            return trial
    return x


def nearest_positions(
    cv: CollectiveVariable,
    reference: np.ndarray,
    numbers: np.ndarray,
    frames: Sequence,
    centers: Sequence[float],
) -> list[np.ndarray]:
    """For every centre, the positions of the frame (ASE Atoms with the same atoms as
    ``numbers``) whose CV lies closest to it, or ``reference`` when no frame fits: a
    starting point that is already equilibrated near the centre, so that moving the CV
    onto it (:func:`move_to_value`) strains nothing. Frames of other systems are
    skipped."""
    usable = [f for f in frames if len(f) == len(numbers) and np.array_equal(f.numbers, numbers)]
    if not usable:
        return [np.array(reference, dtype=float) for _ in centers]
    values = np.array([cv.value(f.positions) for f in usable])
    starts = []
    for center in centers:
        distance = np.abs(periodic_difference(values, center, cv.period))
        starts.append(np.array(usable[int(np.argmin(distance))].positions, dtype=float))
    return starts
