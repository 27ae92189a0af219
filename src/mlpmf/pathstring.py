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

The path has stopped moving when each image moved less than a tolerance
(:func:`displacement`: root-mean-square deviation after superposition, Å).
"""

import numpy as np

from mlpmf.pathcv import msd_and_gradient, resample, superpose

__all__ = ["displacement", "interpolated", "superposed_mean", "targets", "updated_path"]


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
    """How far each image moved (M,): root-mean-square deviation (Å) of the new image
    from the old, superposed."""
    return np.array(
        [np.sqrt(msd_and_gradient(b, a, align)[0]) for a, b in zip(old, new, strict=True)]
    )
