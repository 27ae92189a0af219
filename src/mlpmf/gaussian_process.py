"""Fitting the sparse Gaussian process (:class:`mlpmf.models.GaussianProcess`) to
energies and forces: one pass over the frames accumulates the normal equations of the
inducing-point weights (Quiñonero-Candela & Rasmussen's subset of regressors), then a
Cholesky solve gives the weights and their covariance (the predictive variance)."""

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from ase import Atoms
from tqdm import tqdm

from mlpmf.dataset import DataStatistics, descriptor_for, reference_arrays
from mlpmf.descriptors import pair_batch
from mlpmf.models import GaussianProcess, resolve_device
from mlpmf.settings import DescriptorSettings, GaussianProcessSettings

log = logging.getLogger(__name__)


def fit_gaussian_process(
    frames: Sequence[Atoms],
    descriptor_settings: DescriptorSettings | Mapping,
    settings: GaussianProcessSettings | Mapping,
    seed: int,
    device: str = "cpu",
) -> GaussianProcess:
    """Fit a sparse GP (:class:`mlpmf.models.GaussianProcess`) to energies and forces.

    ``settings`` is the config's ``gaussian_process`` section: ``inducing_atoms`` (drawn
    at random, by ``seed``, from the atoms of ``frames``), ``length_scale`` (in
    standardised descriptor units; null: the median distance between inducing atoms),
    ``energy_noise_ev_per_atom`` and ``force_noise_ev_a``. The signal std is that of
    the per-atom energies left after the per-element reference energies.
    """
    settings = GaussianProcessSettings.of(settings)
    rng = np.random.default_rng(seed)
    descriptor = descriptor_for(frames, descriptor_settings)
    statistics = DataStatistics.of(frames, descriptor)
    _, forces, _ = reference_arrays(frames)
    num_atoms = statistics.features.shape[0]
    chosen = np.sort(rng.choice(num_atoms, min(settings.inducing_atoms, num_atoms), replace=False))
    species = statistics.species_index[chosen]
    inducing = (
        statistics.features[chosen] - statistics.feature_mean[species]
    ) / statistics.feature_std[species]
    length_scale = settings.length_scale
    if length_scale is None:
        distances = torch.cdist(inducing, inducing)
        length_scale = float(distances[distances > 0].median()) if len(chosen) > 1 else 1.0
    residual = statistics.residual_energies
    signal_std = max(statistics.atomic_energy_std, 1e-3)
    model = GaussianProcess(
        descriptor,
        statistics.feature_mean,
        statistics.feature_std,
        statistics.reference_energies,
        inducing,
        species,
        length_scale,
        signal_std,
    ).to(resolve_device(device))

    target = model.device
    precision = torch.zeros(len(chosen), len(chosen), dtype=torch.float64, device=target)
    projection = torch.zeros(len(chosen), dtype=torch.float64, device=target)
    start = 0
    for index, frame in enumerate(tqdm(frames, desc="GP design", mininterval=5)):
        with torch.no_grad():
            energy_row, force_rows = model.design_rows(pair_batch([frame], descriptor).to(target))
        rows = torch.cat([energy_row, force_rows.reshape(-1, len(chosen))])
        targets = torch.cat(
            [
                residual[index : index + 1],
                forces[start : start + len(frame)].reshape(-1),
            ]
        ).to(target)
        inverse_noise = torch.cat(
            [
                torch.tensor([(settings.energy_noise_ev_per_atom * len(frame)) ** -2.0]),
                torch.full((3 * len(frame),), settings.force_noise_ev_a**-2.0),
            ]
        ).to(target, torch.float64)
        precision += rows.T @ (inverse_noise[:, None] * rows)
        projection += rows.T @ (inverse_noise * targets)
        start += len(frame)
    jitter = 1e-8 * model.signal_std_ev**2 * torch.eye(len(chosen), dtype=torch.float64)
    inducing_kernel = model.kernel(statistics.features[chosen].to(target), species.to(target))
    inducing_kernel = inducing_kernel + jitter.to(target)
    model.inducing_cholesky.copy_(torch.linalg.cholesky(inducing_kernel))
    precision += inducing_kernel
    factor = torch.linalg.cholesky(precision)
    model.weights.copy_(torch.cholesky_solve(projection[:, None], factor)[:, 0])
    model.weight_covariance.copy_(torch.cholesky_inverse(factor))
    log.info("GP: %d inducing atoms, length scale %.3g", len(chosen), length_scale)
    return model
