r"""Path collective variables (Branduardi, Gervasio and Parrinello, J. Chem. Phys. 126,
054103 (2007)): progress ``s`` along a path of reference images and distance ``z`` from
it, with analytic gradients.

With :math:`d_i(x)` the mean-square deviation (Å²) of the chosen atoms from image
:math:`i = 0 \dots M-1` after optimal superposition (translation and proper rotation,
Kabsch; or none, for a system whose frame is held), and :math:`w_i = e^{-\lambda d_i}`,

.. math:: s = \frac{1}{M-1}\,\frac{\sum_i i\,w_i}{\sum_i w_i}, \qquad
          z = -\frac{1}{\lambda}\ln\sum_i w_i .

``s`` runs from 0 at the first image to 1 at the last (exactly so as :math:`\lambda`
grows; for a smooth ``s`` between images :math:`\lambda` is set from the spacing,
:math:`\lambda = 2.3 / \langle d_{i,i+1} \rangle`, PLUMED's advice: neighbouring
images' weights differ by a factor of ten). ``z`` is ~0 on the path and grows as the
square of the distance from it.

Gradients: the MSD after optimal superposition is stationary in the rotation and the
translation, so its gradient is that at the optimal ones held fixed:
:math:`\partial d_i/\partial x_k = \tfrac{2}{n}\,(x_k - \bar x - R_i^{T}(y_{ik} - \bar
y_i))`. Both CVs follow by the chain rule through the weights.

Images are evenly spaced for ``s`` to be a fair coordinate: :func:`resample` places
them at equal MSD-arc-length steps along a piecewise-linear path.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from mlpmf.colvars import CollectiveVariable
from mlpmf.units import kj_mol_to_ev

SPACING_FACTOR = 2.3  # lambda x <d_{i,i+1}>: neighbouring weights differ by e^2.3 = 10


def superpose(positions: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The optimal proper rotations R (..., 3, 3) that take the centred ``reference``
    (n, 3) onto the centred ``positions`` (..., n, 3) (Kabsch, no reflection), and the
    centred positions. ``R @ (y_k - ȳ)`` is then the reference atom k superposed."""
    centred = positions - positions.mean(axis=-2, keepdims=True)
    target = reference - reference.mean(axis=0)
    covariance = np.einsum("...ki,kj->...ij", centred, target)  # H = X^T Y
    u, _, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt))  # -1: the optimum would be a reflection
    u = u.copy()
    u[..., :, 2] *= sign[..., None]
    return u @ vt, centred


def msd_and_gradient(
    positions: np.ndarray, reference: np.ndarray, align: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Mean-square deviation (Å²) of ``positions`` (..., n, 3) from ``reference`` (n, 3)
    after optimal superposition (``align``; else as they stand) and its gradient with
    respect to the positions (..., n, 3)."""
    n = reference.shape[0]
    if align:
        rotation, centred = superpose(positions, reference)
        target = reference - reference.mean(axis=0)
        superposed = np.einsum("...ij,kj->...ki", rotation, target)
        residual = centred - superposed
    else:
        residual = positions - reference
    msd = np.einsum("...ki,...ki->...", residual, residual) / n
    return msd, 2.0 * residual / n


def image_distances(images: np.ndarray, align: bool = True) -> np.ndarray:
    """MSD (Å²) between consecutive images (M, n, 3) -> (M-1,)."""
    return np.array(
        [msd_and_gradient(images[i + 1], images[i], align)[0] for i in range(len(images) - 1)]
    )


def resample(images: np.ndarray, count: int, align: bool = True) -> np.ndarray:
    """``count`` images evenly spaced in root-MSD arc length along the piecewise-linear
    path through ``images`` (M, n, 3), the ends kept. Each image is first superposed on
    the one before (with ``align``), so that the interpolation does not rotate."""
    path = np.array(images, dtype=float)
    if align:
        for i in range(1, len(path)):
            rotation, _ = superpose(path[i - 1], path[i])
            target = path[i] - path[i].mean(axis=0)
            path[i] = target @ rotation.T + path[i - 1].mean(axis=0)
    steps = np.sqrt(image_distances(path, align=False))
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    if arc[-1] <= 0.0:
        raise ValueError("path images: every image is the same structure")
    targets = np.linspace(0.0, arc[-1], count)
    segment = np.clip(np.searchsorted(arc, targets, side="right") - 1, 0, len(path) - 2)
    fraction = (targets - arc[segment]) / np.where(steps[segment] > 0, steps[segment], 1.0)
    fraction = np.clip(fraction, 0.0, 1.0)[:, None, None]
    return (1.0 - fraction) * path[segment] + fraction * path[segment + 1]


@dataclass(frozen=True, eq=False)
class PathCV(CollectiveVariable):
    """Progress ``s`` (``component="progress"``, dimensionless, 0 -> 1) along the path of
    ``images`` (M, n, 3: the positions of ``atoms`` in each image, Å) or distance ``z``
    from it (``component="distance"``, Å²). ``lambda_per_a2`` None: set from the images'
    spacing (module docstring); ``align``: superpose before comparing (False for a
    system whose frame is held, e.g. atoms fixed in a slab)."""

    atoms: tuple[int, ...]
    images: np.ndarray = field(repr=False)
    component: str = "progress"
    lambda_per_a2: float | None = None
    align: bool = True
    period: float | None = None

    def __post_init__(self):
        images = np.asarray(self.images, dtype=float)
        if images.ndim != 3 or images.shape[1:] != (len(self.atoms), 3) or len(images) < 2:
            raise ValueError(
                f"path images: expected at least 2 images of the {len(self.atoms)} path "
                f"atoms, shape (M, {len(self.atoms)}, 3); got {images.shape}"
            )
        if self.align and len(self.atoms) < 2:
            raise ValueError(
                "collective_variable.align: one path atom has nothing to superpose (every "
                "image would be the same); give align: false"
            )
        if self.component not in self.UNITS:
            raise ValueError(
                f"path component: expected progress or distance, got {self.component!r}"
            )
        object.__setattr__(self, "images", images)

    UNITS = {"progress": "", "distance": "Å²"}  # of each component

    @property
    def unit(self) -> str:
        return self.UNITS[self.component]

    @cached_property
    def smoothing(self) -> float:
        """lambda, 1/Å²: given, or :data:`SPACING_FACTOR` over the mean MSD between
        neighbouring images."""
        if self.lambda_per_a2 is not None:
            return float(self.lambda_per_a2)
        spacing = float(np.mean(image_distances(self.images, self.align)))
        if spacing <= 0.0:
            raise ValueError("path images: neighbouring images are the same structure")
        return SPACING_FACTOR / spacing

    def _weights(self, positions: np.ndarray):
        """Normalised weights (..., M), their log-sum (..., ) and each d_i's gradient
        (..., M, n, 3), for the path atoms' positions."""
        selected = positions[..., list(self.atoms), :]
        pairs = [msd_and_gradient(selected, image, self.align) for image in self.images]
        msd = np.stack([d for d, _ in pairs], axis=-1)
        gradients = np.stack([g for _, g in pairs], axis=-3)
        scaled = -self.smoothing * msd
        top = scaled.max(axis=-1, keepdims=True)  # log-sum-exp, stable far from the path
        weights = np.exp(scaled - top)
        total = weights.sum(axis=-1, keepdims=True)
        return weights / total, (np.log(total) + top)[..., 0], gradients

    def values(self, positions: np.ndarray) -> np.ndarray:
        weights, log_sum, _ = self._weights(positions)
        if self.component == "distance":
            return -log_sum / self.smoothing
        index = np.arange(len(self.images), dtype=float)
        return weights @ index / (len(self.images) - 1)

    def gradients(self, positions: np.ndarray) -> np.ndarray:
        """Through the weights: dz = sum_i w_i dd_i; ds = -lambda sum_i w_i (i/(M-1) - s) dd_i."""
        weights, _, d_gradients = self._weights(positions)
        if self.component == "distance":
            factor = weights
        else:
            index = np.arange(len(self.images), dtype=float) / (len(self.images) - 1)
            s = weights @ index
            factor = -self.smoothing * weights * (index - s[..., None])
        path_gradient = np.einsum("...m,...mki->...ki", factor, d_gradients)
        gradient = np.zeros_like(positions)
        gradient[..., list(self.atoms), :] = path_gradient
        return gradient


def path_cvs(
    atoms: Sequence[int], images: np.ndarray, lambda_per_a2: float | None = None, align=True
) -> tuple[PathCV, PathCV]:
    """The progress and distance CVs of one path, with the same smoothing."""
    progress = PathCV(tuple(atoms), images, "progress", lambda_per_a2, align)
    distance = PathCV(tuple(atoms), images, "distance", progress.smoothing, align)
    return progress, distance


@dataclass(frozen=True, eq=False)
class UpperWall:
    """A flat-bottomed harmonic wall ``0.5 * kappa * (xi - upper)**2`` above ``upper`` on
    a CV (PLUMED's UPPER_WALLS; kappa in kJ/mol per CV unit squared), the same in every
    replica: on a path's distance z it keeps the windows near the path. It is a
    restraint common to all windows, not a window's bias: it adds forces, changes no
    bias energy and no model energy, so estimators and oracle checks do not see it."""

    cv: CollectiveVariable
    upper: float
    spring_constant_kj_mol: float

    def forces(self, positions: np.ndarray) -> np.ndarray:
        """Forces (eV/Å) at ``positions`` (..., N, 3), zero below the wall."""
        excess = np.maximum(self.cv.values(positions) - self.upper, 0.0)
        kappa_ev = kj_mol_to_ev(self.spring_constant_kj_mol)
        return -(kappa_ev * excess)[..., None, None] * self.cv.gradients(positions)

    def energies(self, positions: np.ndarray) -> np.ndarray:
        """Wall energies (eV) at ``positions`` (..., N, 3)."""
        excess = np.maximum(self.cv.values(positions) - self.upper, 0.0)
        return 0.5 * kj_mol_to_ev(self.spring_constant_kj_mol) * excess**2
