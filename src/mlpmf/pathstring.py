r"""Refining a path CV's images at temperature: the finite-temperature string
(E, Ren and Vanden-Eijnden, J. Phys. Chem. B 109, 6688 (2005); with path CVs as in
Díaz Leines and Ensing, Phys. Rev. Lett. 109, 020601 (2012)).

A 0 K band (NEB) follows the potential's valley; at temperature the reactive flux
follows the free energy's, which can lie elsewhere (a soft valley's entropy, side
chains that move). Umbrella windows restrained along the path's progress ``s`` sample
the tube round each point of it; the mean configuration of the path atoms in a window
(each frame superposed on the path at the window's centre) is where the tube's weight
lies. One iteration moves the images towards those means:

1. each image inside the windows' span gets the mean interpolated linearly in ``s``
   between the two windows that bracket it (:func:`targets`);
2. it moves by ``step`` of the way there (1: onto it), then a light smoothing
   ``x_i <- (1 - c) x_i + c (x_{i-1} + x_{i+1}) / 2`` damps the means' noise;
3. the images are placed evenly again (:func:`mlpmf.pathcv.resample`) and the first
   and last carried one step past the interior (as a built path's ends,
   :func:`mlpmf.pathbuild.extended`), so the basins stay inside the path.

The path has stopped moving when each image lies less than a tolerance from the path
before (:func:`displacement`: root-mean-square deviation after superposition, Å, from
the old path as a curve, so that images sliding along it do not count), or less than
three standard errors of the means it moved to (:func:`settled`: the windows' frames
averaged in two halves say how noisy their means are; a briefly sampled path moves by
its noise however settled it is).
"""

import dataclasses

import numpy as np

from mlpmf.pathcv import resample, superpose
from mlpmf.settings import Section

__all__ = [
    "NOISE_FACTOR", "MeanConfigurations", "RefineSettings", "displacement", "image_noise",
    "interpolated", "settled", "superposed_mean", "targets", "updated_path",
]  # fmt: skip
NOISE_FACTOR = 3.0  # an image's move within 3 standard errors of its mean is noise


@dataclasses.dataclass(frozen=True)
class RefineSettings(Section):
    """``collective_variable.refine``: iterations at most (0: no refinement), the
    tolerance on each image's move (Å), each iteration's window MD (steps), how far an
    image moves towards its windows' mean and the smoothing (module docstring)."""

    iterations: int = 0
    tolerance_a: float = 0.05
    steps: int = 2000
    equilibration_steps: int = 500
    move_fraction: float = 1.0
    smoothing: float = 0.1


class MeanConfigurations:
    """Each window's mean configuration of the whole system, every frame superposed by
    its path ``atoms`` on the path's point at the window's centre (``references``,
    (K, n, 3)); :meth:`add` takes a window's frame (as
    :attr:`mlpmf.umbrella.WindowRecording.on_frame` gives it). The first ``half``
    frames of each window and the rest are also averaged apart: how far the two halves'
    means differ measures the full mean's noise (:meth:`standard_errors`)."""

    def __init__(self, atoms, references: np.ndarray, size: int, half: int, align=True):
        self.atoms, self.align, self.half = list(atoms), align, int(half)
        self.references = np.asarray(references, dtype=float)
        self.sums = np.zeros((2, len(self.references), size, 3))
        self.counts = np.zeros((2, len(self.references)), dtype=int)

    def add(self, k: int, atoms) -> None:
        positions = np.asarray(atoms.positions, dtype=float)
        if self.align:
            reference = self.references[k]
            rotation, _ = superpose(positions[self.atoms], reference)
            centre = positions[self.atoms].mean(axis=0)
            positions = (positions - centre) @ rotation + reference.mean(axis=0)
        part = int(self.counts[0, k] >= self.half)
        self.sums[part, k] += positions
        self.counts[part, k] += 1

    def means(self) -> np.ndarray:
        """(K, N, 3): each window's mean; a window without frames raises ValueError."""
        counts = self.counts.sum(axis=0)
        if not counts.all():
            raise ValueError("path refinement: a window recorded no frame")
        return self.sums.sum(axis=0) / counts[:, None, None]

    def standard_errors(self) -> np.ndarray:
        """(K,): each window's mean's noise on the path atoms, Å, as an RMSD: half the
        RMS difference of its two halves' means (for independent halves the full mean's
        standard error); NaN for a window with a half empty."""
        with np.errstate(invalid="ignore", divide="ignore"):
            halves = self.sums / self.counts[:, :, None, None]
        difference = halves[0][:, self.atoms] - halves[1][:, self.atoms]
        return 0.5 * np.sqrt(np.mean(np.sum(difference**2, axis=-1), axis=-1))


def image_noise(centres: np.ndarray, errors: np.ndarray, count: int) -> np.ndarray:
    """The windows' mean's noise (:meth:`MeanConfigurations.standard_errors`) at each of
    ``count`` images, interpolated linearly in ``s`` (the nearest window's beyond)."""
    order = np.argsort(centres)
    s = np.arange(count) / (count - 1)
    return np.interp(s, np.asarray(centres)[order], np.asarray(errors)[order])


def superposed(frames: np.ndarray, reference: np.ndarray, align: bool = True) -> np.ndarray:
    """``frames`` (..., n, 3) each superposed on ``reference`` (n, 3) (Kabsch: centred,
    rotated onto it, moved to its centre); as they are without ``align``."""
    frames = np.asarray(frames, dtype=float)
    if not align:
        return frames.copy()
    rotation, centred = superpose(frames, reference)
    # R takes the centred reference onto the frame, so R^T takes the frame onto it
    return np.einsum("...ki,...ij->...kj", centred, rotation) + reference.mean(axis=0)


def superposed_mean(frames: np.ndarray, reference: np.ndarray, align: bool = True):
    """The mean of ``frames`` (T, n, 3), each superposed on ``reference`` first."""
    return superposed(frames, reference, align).mean(axis=0)


def interpolated(images: np.ndarray, s: float, align: bool = True) -> np.ndarray:
    """The point at progress ``s`` (0..1) of the piecewise-linear path through the
    ``images`` (M, n, 3), the later image superposed on the earlier."""
    images = np.asarray(images, dtype=float)
    place = float(np.clip(s, 0.0, 1.0)) * (len(images) - 1)
    i = min(int(np.floor(place)), len(images) - 2)
    after = superposed(images[i + 1], images[i], align)
    return (1.0 - (place - i)) * images[i] + (place - i) * after


def targets(
    images: np.ndarray, centres: np.ndarray, means: np.ndarray, align: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Where each image should go (M, n, 3) and which images the windows reach (M,):
    image ``i`` at ``s = i/(M-1)`` inside the span of the window ``centres`` (K,) gets
    the windows' ``means`` (K, n, 3) interpolated linearly in ``s`` between the two
    that bracket it, each superposed on the image; the others keep their place."""
    images = np.asarray(images, dtype=float)
    order = np.argsort(centres)
    centres, means = np.asarray(centres, dtype=float)[order], np.asarray(means)[order]
    s = np.arange(len(images)) / (len(images) - 1)
    reached = (s >= centres[0] - 1e-12) & (s <= centres[-1] + 1e-12)
    goal = images.copy()
    for i in np.flatnonzero(reached):
        k = int(np.clip(np.searchsorted(centres, s[i]) - 1, 0, len(centres) - 2))
        span = centres[k + 1] - centres[k]
        weight = 0.0 if span <= 0 else float(np.clip((s[i] - centres[k]) / span, 0, 1))
        low = superposed(means[k], images[i], align)
        high = superposed(means[k + 1], images[i], align)
        goal[i] = (1.0 - weight) * low + weight * high
    return goal, reached


def updated_path(
    images: np.ndarray,
    centres: np.ndarray,
    means: np.ndarray,
    step: float = 1.0,
    smoothing: float = 0.1,
    align: bool = True,
) -> np.ndarray:
    """One iteration of the string (module docstring): the ``images`` (M, n, 3) moved
    ``step`` of the way to the windows' ``means`` (K, n, 3) at ``centres`` (K,),
    smoothed, placed evenly and carried one step past each end of the interior."""
    images = np.asarray(images, dtype=float)
    if len(images) < 4:
        raise ValueError("path refinement: a path of at least 4 images is needed")
    if len(centres) < 2:
        raise ValueError("path refinement: at least 2 windows are needed")
    goal, reached = targets(images, centres, means, align)
    moved = images + step * (goal - images)
    smooth = moved.copy()
    inner = slice(1, len(images) - 1)
    neighbours = 0.5 * (
        np.array([superposed(moved[i - 1], moved[i], align) for i in range(1, len(moved) - 1)])
        + np.array([superposed(moved[i + 1], moved[i], align) for i in range(1, len(moved) - 1)])
    )
    smooth[inner] = np.where(
        reached[inner, None, None], (1.0 - smoothing) * moved[inner] + smoothing * neighbours,
        moved[inner],
    )  # fmt: skip
    interior = resample(smooth[1:-1], len(images) - 2, align)
    first = 2 * interior[0] - superposed(interior[1], interior[0], align)
    last = 2 * interior[-1] - superposed(interior[-2], interior[-1], align)
    return np.concatenate([[first], interior, [last]])


def displacement(old: np.ndarray, new: np.ndarray, align: bool = True) -> np.ndarray:
    """How far each image of the ``new`` path lies from the ``old`` path as a curve (M,):
    the least RMSD (Å) to the piecewise-linear path through the old images (to each
    segment, the image superposed on its first end, the second end on it). The path's
    change of shape, not its images sliding along it when they are placed evenly again."""
    old = np.asarray(old, dtype=float)
    distances = []
    for image in np.asarray(new, dtype=float):
        best = np.inf
        for i in range(len(old) - 1):
            start = old[i]
            step = superposed(old[i + 1], start, align) - start
            offset = superposed(image, start, align) - start
            t = np.clip(np.sum(offset * step) / max(np.sum(step * step), 1e-300), 0.0, 1.0)
            best = min(best, float(np.mean(np.sum((offset - t * step) ** 2, axis=-1))))
        distances.append(np.sqrt(best))
    return np.array(distances)


def settled(moves: np.ndarray, noise: np.ndarray, tolerance_a: float) -> np.ndarray:
    """Which images have stopped moving: moved less than ``tolerance_a``, or less than
    :data:`NOISE_FACTOR` times the noise of the means they moved to (a path sampled
    this briefly cannot be placed more finely)."""
    limit = np.maximum(tolerance_a, NOISE_FACTOR * np.nan_to_num(np.asarray(noise), nan=0.0))
    return np.asarray(moves) < limit
