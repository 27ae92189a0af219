"""Placing a structure on a collective variable: moving a CV to a target value without
straining bonds (turning a bonded fragment rigidly, then least-distance Newton steps),
choosing, for every window centre, the frame that already lies closest to it; and, with
adaptive windows, where to add windows between neighbours that overlap too little."""

from collections.abc import Sequence

import numpy as np

from mlpmf.colvars import Angle, CollectiveVariable, Dihedral, periodic_difference
from mlpmf.overlap import (
    OVERLAP_WARNING_THRESHOLD,
    neighbour_mbar_overlaps,
    neighbour_sample_overlaps,
)

# How windows choose their start frames (nearest_positions) is part of the code version
# of the stages that resume (mlpmf.checkpoint.STAGE_VERSIONS): bump those when it changes.


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


def move_to_window(bias, positions: np.ndarray, numbers=None, movable=None) -> np.ndarray:
    """``positions`` with every CV restrained by ``bias`` (an ``UmbrellaBias`` or a
    ``GridBias`` of :mod:`mlpmf.dynamics`) moved onto its centre (:func:`move_to_value`);
    with several CVs twice over, since moving one can shift another."""
    for _ in range(2 if len(bias.terms) > 1 else 1):
        for term in bias.terms:
            positions = move_to_value(
                term.cv, positions, term.center, numbers=numbers, movable=movable
            )
    return positions


def nearest_positions(
    biases: Sequence,
    reference: np.ndarray,
    numbers: np.ndarray,
    frames: Sequence,
    ranks: Sequence[int] | None = None,
    thermal_energy_kj_mol: float | None = None,
) -> list[np.ndarray]:
    """For every bias (:class:`mlpmf.dynamics.UmbrellaBias` or ``GridBias``), the
    positions of the frame (ASE Atoms with the same atoms as ``numbers``) where the bias
    is lowest (on one CV: the frame whose CV lies closest to the centre), or ``reference``
    when no frame fits: a starting point already equilibrated near the window, so that
    moving the CVs onto it (:func:`move_to_value`) strains nothing. Frames of other
    systems are skipped.

    ``ranks`` (one per bias, default all 0) give independent sets of windows at the same
    centres (``umbrella.repeats``) different starts, so that a slow motion's starting
    state is not shared. With ``thermal_energy_kj_mol`` (kT), rank r takes the r-th frame
    of a farthest-point sequence (:func:`structurally_distinct`) among the frames whose
    bias lies within kT of the lowest, begun at the lowest: the next-nearest frame is
    usually the same trajectory 50 fs on, in the same slow state, while the farthest in
    structure is another basin of the motions the CV does not see. Without it, or when
    fewer frames lie within kT, rank r takes the frame of the (r+1)-th lowest bias (the
    highest when there are fewer frames)."""
    ranks = [0] * len(biases) if ranks is None else list(ranks)
    if len(ranks) != len(biases):
        raise ValueError(f"{len(ranks)} ranks for {len(biases)} biases")
    usable = [f for f in frames if len(f) == len(numbers) and np.array_equal(f.numbers, numbers)]
    if not usable:
        return [np.array(reference, dtype=float) for _ in biases]
    stack = np.stack([f.positions for f in usable])
    values = {}  # each CV once, for all frames
    starts = []
    for bias, rank in zip(biases, ranks, strict=True):
        energy = np.zeros(len(usable))
        for term in bias.terms:
            if term.cv not in values:
                values[term.cv] = term.cv.values(stack)
            deviation = periodic_difference(values[term.cv], term.center, term.cv.period)
            energy += 0.5 * term.spring_constant_kj_mol * deviation**2
        order = np.argsort(energy, kind="stable")
        rank = int(rank)
        if rank and thermal_energy_kj_mol is not None:
            within = order[energy[order] <= energy[order[0]] + thermal_energy_kj_mol]
            if len(within) > rank:
                order = within[structurally_distinct(stack[within], rank + 1)]
        best = usable[int(order[min(rank, len(order) - 1)])]
        starts.append(np.array(best.positions, dtype=float))
    return starts


def structurally_distinct(positions: np.ndarray, count: int) -> np.ndarray:
    """Indices of ``count`` of the structures ``positions`` (F, N, 3) picked one by one,
    each the farthest from those picked before (the first is index 0), in the RMS
    difference of their interatomic distances: no alignment needed, and conformers (a
    turned side chain, another ring pucker) lie far apart while thermal vibrations of
    one conformer lie close."""
    pairs = np.triu_indices(positions.shape[1], k=1)
    distances = np.linalg.norm(
        positions[:, pairs[0]] - positions[:, pairs[1]], axis=-1
    )  # (F, pairs)
    picked = [0]
    nearest = np.sqrt(np.mean((distances - distances[0]) ** 2, axis=1))
    while len(picked) < min(count, len(positions)):
        nxt = int(np.argmax(nearest))
        picked.append(nxt)
        gap = np.sqrt(np.mean((distances - distances[nxt]) ** 2, axis=1))
        nearest = np.minimum(nearest, gap)
    return np.asarray(picked)


def windows_to_insert(
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    spring_constants: Sequence[float],
    temperature_k: float,
    threshold: float = OVERLAP_WARNING_THRESHOLD,
    bin_edges: np.ndarray | None = None,
    period: float | None = None,
) -> list[dict]:
    """Windows to add between neighbours (in centre order) that overlap too little:
    one midway between each pair whose MBAR overlap lies below ``threshold``, with the
    pair's mean spring constant. When some neighbours share no sample at all, MBAR
    cannot join the windows; those pairs get a window, and the others wait for the next
    round. Overlaps as :func:`neighbour_mbar_overlaps` (give the samples, bins and
    period the diagnostics use, so both judge alike). Returns ``{center,
    spring_constant, reason}`` rows."""
    centers = np.asarray(centers, dtype=float)
    kappas = np.asarray(spring_constants, dtype=float)
    pairs = neighbour_sample_overlaps(cv_samples, centers)
    if all(value > 0 for _, _, value in pairs):
        overlaps = neighbour_mbar_overlaps(
            cv_samples, centers, kappas, temperature_k, bin_edges, period
        )
        pairs = [(k, j, float(o)) for (k, j, _), o in zip(pairs, overlaps, strict=True)]
        kind = "MBAR overlap"
    else:
        pairs = [(k, j, 0.0) for k, j, value in pairs if value == 0]
        kind = "no common samples: overlap"
    return [
        {
            "center": float(0.5 * (centers[k] + centers[j])),
            "spring_constant": float(0.5 * (kappas[k] + kappas[j])),
            "reason": f"{kind} {value:.3g} between {centers[k]:g} and {centers[j]:g}",
        }
        for k, j, value in pairs
        if value < threshold
    ]
