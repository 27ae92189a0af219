"""A reaction path from two end structures: both ends relaxed, the product superposed on
the reactant, an image-dependent pair potential (IDPP) interpolation, a climbing-image
nudged elastic band (ASE's NEB and FIRE) and even resampling for a path CV
(:mod:`mlpmf.pathcv`).

An interpolation between end states related by symmetry can stay in a mirror plane:
there the forces have no component out of the plane, so the band converges onto a
saddle of the plane, which may lie far above the real one off it. So several candidate
bands are relaxed: the plain interpolation and others bent out of it, each along a
random displacement (by ``seed``) that grows as sin(pi t) from the ends to the middle
of the band, before it is relaxed; the lowest converged one is kept and every candidate
is reported (:class:`PathResult`). A band whose images bunched in the basins and left a
gap across the barrier (its largest step between neighbouring images more than
:data:`GAP_FACTOR` times their mean) converges with no image near the saddle and a
barrier far too low: it is reported but not kept while a resolved band exists.
"""

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed, Calculator
from ase.mep import NEB
from ase.optimize import FIRE

from mlpmf.pathcv import image_distances, resample, superpose
from mlpmf.units import ev_to_kj_mol

log = logging.getLogger(__name__)
GAP_FACTOR = 2.0  # the largest step along a resolved band over its mean step, at most


@dataclass(frozen=True)
class PathBuildSettings:
    """How the path is built: ``images`` along the band (ends included), ``candidates``
    bands (the first unperturbed), how far a perturbed band is bent at its middle (Å,
    RMS per coordinate of the free atoms), the force on the band below which it is relaxed
    (eV/Å), the optimiser's step limit for the ends and for each band, the band's
    spring (eV/Å²) and whether the end structures are relaxed first."""

    images: int = 9
    candidates: int = 3
    perturbation_a: float = 0.3
    fmax_ev_a: float = 0.05
    max_steps: int = 500
    spring_ev_a2: float = 0.1
    relax_ends: bool = True


@dataclass(frozen=True)
class Candidate:
    """One relaxed band: its images, their energies (eV), its barrier above the
    reactant (kJ/mol) and whether it met the force criterion."""

    images: list[Atoms]
    energies_ev: np.ndarray
    barrier_kj_mol: float
    converged: bool
    perturbed: bool
    gap_ratio: float = 1.0  # the largest step between neighbouring images over the mean

    @property
    def resolved(self) -> bool:
        """No gap in the band: the barrier between its images is seen."""
        return self.gap_ratio <= GAP_FACTOR


@dataclass(frozen=True)
class PathResult:
    """The path kept (the lowest converged and resolved candidate, else the lowest
    converged, else the lowest) and every candidate, in the order they were built."""

    best: Candidate
    candidates: list[Candidate]

    def summary(self) -> dict:
        """JSON-ready: each candidate's barrier, convergence and energies along it."""
        return {
            "barrier_kj_mol": self.best.barrier_kj_mol,
            "kept": self.candidates.index(self.best),
            "candidates": [
                {
                    "barrier_kj_mol": c.barrier_kj_mol,
                    "converged": c.converged,
                    "resolved": c.resolved,
                    "gap_ratio": c.gap_ratio,
                    "perturbed": c.perturbed,
                    "energies_kj_mol": ev_to_kj_mol(c.energies_ev - c.energies_ev[0]).tolist(),
                }
                for c in self.candidates
            ],
        }


def relaxed(atoms: Atoms, calculator: Calculator, fmax_ev_a: float, steps: int) -> Atoms:
    """A copy of ``atoms`` relaxed with FIRE (its constraints kept)."""
    copy = atoms.copy()
    copy.calc = calculator
    FIRE(copy, logfile=None).run(fmax=fmax_ev_a, steps=steps)
    copy.calc = None
    return copy


def frame_is_held(atoms: Atoms) -> bool:
    """True where the ends are compared as they stand, not superposed: a rigid motion
    would change the physics (a periodic cell, fixed atoms: a slab), or there is nothing
    to superpose (one atom, held in its frame by an external field)."""
    return bool(atoms.pbc.any()) or bool(atoms.constraints) or len(atoms) < 2


def superposed_product(reactant: Atoms, product: Atoms) -> Atoms:
    """``product`` rotated and translated onto ``reactant`` (Kabsch on every atom), so
    that the band does not carry a rigid rotation; unchanged where the frame is held."""
    if len(product) != len(reactant) or list(product.numbers) != list(reactant.numbers):
        raise ValueError(
            "collective_variable.product: expected the reactant's atoms in the same order "
            f"({reactant.get_chemical_formula()}), got {product.get_chemical_formula()}"
        )
    if frame_is_held(reactant) or len(reactant) < 3:
        return product.copy()
    rotation, _ = superpose(reactant.positions, product.positions)
    moved = product.copy()
    centred = product.positions - product.positions.mean(axis=0)
    moved.positions = centred @ rotation.T + reactant.positions.mean(axis=0)
    return moved


def _band(reactant: Atoms, product: Atoms, count: int) -> list[Atoms]:
    images = [reactant.copy() for _ in range(count - 1)] + [product.copy()]
    band = NEB(images, method="improvedtangent")
    band.interpolate(method="idpp" if len(reactant) > 1 else "linear")  # IDPP needs pairs
    return images


def relax_band(
    images: list[Atoms], calculators: Callable[[], Calculator], settings: PathBuildSettings
) -> Candidate:
    """Relax a band with a climbing image: first plain NEB to a looser force, then with
    the highest image climbing."""
    for image in images:
        image.calc = calculators()
    band = NEB(images, k=settings.spring_ev_a2, climb=False, method="improvedtangent")
    FIRE(band, logfile=None).run(fmax=4 * settings.fmax_ev_a, steps=settings.max_steps // 2)
    band = NEB(images, k=settings.spring_ev_a2, climb=True, method="improvedtangent")
    converged = FIRE(band, logfile=None).run(fmax=settings.fmax_ev_a, steps=settings.max_steps)
    energies = np.array([image.get_potential_energy() for image in images])
    positions = np.array([image.positions for image in images])
    steps = np.sqrt(image_distances(positions, align=not frame_is_held(images[0])))
    return Candidate(
        [image.copy() for image in images],
        energies,
        float(ev_to_kj_mol(energies.max() - energies[0])),
        bool(converged),
        False,
        float(max(steps) / max(np.mean(steps), 1e-12)),
    )


def build_path(
    reactant: Atoms,
    product: Atoms,
    calculators: Callable[[], Calculator],
    settings: PathBuildSettings,
    seed: int,
) -> PathResult:
    """The lowest of ``settings.candidates`` climbing-image bands from ``reactant`` to
    ``product`` (module docstring); ``calculators()`` makes a calculator (one per image).
    """
    rng = np.random.default_rng(seed)
    if settings.relax_ends:
        reactant = relaxed(reactant, calculators(), settings.fmax_ev_a, settings.max_steps)
        product = relaxed(product, calculators(), settings.fmax_ev_a, settings.max_steps)
    product = superposed_product(reactant, product)
    candidates = []
    for k in range(settings.candidates):
        images = _band(reactant, product, settings.images)
        if k:  # break symmetries the interpolation may keep: bend the whole band
            bend = rng.normal(size=reactant.positions.shape) * _free_mask(reactant)[:, None]
            if not frame_is_held(reactant):  # a bent band must not spend itself rotating
                bend = _without_rigid_motion(bend, reactant.positions)
            bend *= settings.perturbation_a / max(np.sqrt(np.mean(bend**2)), 1e-12)
            for i, image in enumerate(images[1:-1], start=1):
                bent = image.positions + np.sin(np.pi * i / (len(images) - 1)) * bend
                image.set_positions(bent, apply_constraint=True)  # fixed coordinates stay
        try:
            candidate = relax_band(images, calculators, settings)
        except CalculationFailed as error:  # a bent start the oracle cannot converge
            log.warning("path candidate %d: the oracle failed on the band (%s): dropped", k, error)
            continue
        candidate = dataclasses.replace(candidate, perturbed=bool(k))
        log.info(
            "path candidate %d%s: barrier %.1f kJ/mol, %s, largest step %.1f x the mean%s",
            k, " (perturbed)" if k else "", candidate.barrier_kj_mol,
            "converged" if candidate.converged else "not converged", candidate.gap_ratio,
            "" if candidate.resolved else " (a gap: not kept while a resolved band exists)",
        )  # fmt: skip
        candidates.append(candidate)
    if not candidates:
        raise CalculationFailed("the oracle failed on every candidate band")
    pool = (
        [c for c in candidates if c.converged and c.resolved]
        or [c for c in candidates if c.converged]
        or candidates
    )
    return PathResult(min(pool, key=lambda c: c.barrier_kj_mol), candidates)


def _without_rigid_motion(displacement: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``displacement`` (N, 3) without its net translation and its components along the
    three infinitesimal rotations about the centre of ``positions``."""
    moved = displacement - displacement.mean(axis=0)
    centred = positions - positions.mean(axis=0)
    basis: list[np.ndarray] = []
    for axis in np.eye(3):
        rotation = np.cross(axis, centred).ravel()
        for other in basis:
            rotation = rotation - (rotation @ other) * other
        norm = np.linalg.norm(rotation)
        if norm > 1e-8:  # a linear molecule has two rotations
            basis.append(rotation / norm)
    flat = moved.ravel()
    for rotation in basis:
        flat = flat - (flat @ rotation) * rotation
    return flat.reshape(displacement.shape)


def _free_mask(atoms: Atoms) -> np.ndarray:
    """1.0 for atoms free to move, 0.0 for atoms fixed by FixAtoms."""
    from ase.constraints import FixAtoms

    free = np.ones(len(atoms))
    for constraint in atoms.constraints:
        if isinstance(constraint, FixAtoms):
            free[constraint.get_indices()] = 0.0
    return free


def extended(images: Sequence[Atoms], align: bool = True) -> list[Atoms]:
    """The band placed evenly (its images at equal steps of root-MSD arc length, the ends
    kept; superposed along the way with ``align``) with one image more at each end, the
    first and last steps carried on past the ends: at a path's ends ``s`` stops
    changing, so the relaxed end structures (the basins) must lie inside the path of a
    path CV. Even steps first: a band whose images slid into a basin (a 1D well's band
    is held by its springs alone) would carry its end on by almost nothing."""
    positions = resample(np.array([image.positions for image in images]), len(images), align)
    positions = np.concatenate(
        [[2 * positions[0] - positions[1]], positions, [2 * positions[-1] - positions[-2]]]
    )
    band = []
    for k, place in enumerate(positions):
        image = images[min(max(k - 1, 0), len(images) - 1)].copy()
        image.positions = place
        band.append(image)
    return band


def path_images(
    result: PathResult, atoms: Sequence[int], count: int, align: bool = True
) -> np.ndarray:
    """The kept band's ``atoms`` resampled to ``count`` evenly spaced images (the path
    CV's reference images)."""
    positions = np.array([image.positions[list(atoms)] for image in result.best.images])
    return resample(positions, count, align)
