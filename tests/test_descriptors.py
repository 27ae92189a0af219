"""The descriptor's exact gradient, its symmetries, and the Gaussian-process potential."""

import numpy as np
import pytest
import torch
from ase.build import molecule

from mlpmf.calculator import CommitteeCalculator
from mlpmf.descriptors import Descriptor, pair_batch
from mlpmf.gaussian_process import fit_gaussian_process
from mlpmf.models import load_model
from tests.conftest import finite_difference_forces
from tests.test_committee import labelled_dimers


def rattled_ethanol(seed=1):
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=seed)
    return atoms


@pytest.mark.parametrize(("num_sections", "num_chiral"), [(0, 0), (8, 0), (0, 2), (5, 3)], ids=str)
def test_explicit_vector_jacobian_product_matches_autograd(num_sections, num_chiral):
    atoms = rattled_ethanol()
    descriptor = Descriptor(
        (1, 6, 8), 6, 4.0, num_angular_sections=num_sections, num_chiral=num_chiral
    )
    batch = pair_batch([atoms], descriptor)
    batch.vectors.requires_grad_(True)
    values = descriptor.evaluate(batch)
    cotangent = torch.randn(3, *values.features.shape, dtype=torch.float64)
    explicit = values.pair_gradient(cotangent)
    for m in range(3):
        (autograd,) = torch.autograd.grad(
            values.features, batch.vectors, cotangent[m], retain_graph=True
        )
        torch.testing.assert_close(explicit[m].detach(), autograd, rtol=0, atol=1e-12)


def test_features_are_invariant_under_rotation_and_permutation():
    descriptor = Descriptor((1, 6, 8), 6, 4.0, num_chiral=2)
    atoms = rattled_ethanol()
    reference = descriptor.features(pair_batch([atoms], descriptor))
    moved = atoms.copy()
    moved.rotate(63, (1, 2, -1), center="COM")
    moved.translate([0.3, -1.0, 2.0])
    order = np.random.default_rng(0).permutation(len(atoms))
    permuted = moved[order]
    features = descriptor.features(pair_batch([permuted], descriptor))
    torch.testing.assert_close(features, reference[order], rtol=1e-10, atol=1e-10)


def test_features_vanish_smoothly_at_the_cutoff():
    descriptor = Descriptor((18,), 6, 4.0, angular_cutoff_a=4.0)
    from ase import Atoms

    near, far = (Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]]) for r in (3.999, 4.001))
    inside = descriptor.features(pair_batch([near], descriptor))
    outside = descriptor.features(pair_batch([far], descriptor))
    assert float(inside.abs().max()) < 1e-6
    assert float(outside.abs().max()) == 0.0


GP_SETTINGS = {
    "inducing_atoms": 60,
    "length_scale": None,
    "energy_noise_ev_per_atom": 0.001,
    "force_noise_ev_a": 0.01,
}
DIMER_DESCRIPTOR = {"num_radial": 12, "cutoff_a": 5.0, "num_angular_sections": 0}


@pytest.fixture(scope="module")
def gaussian_process():
    return fit_gaussian_process(labelled_dimers(80, 0), DIMER_DESCRIPTOR, GP_SETTINGS, seed=3)


def test_gp_fits_held_out_forces_and_its_forces_are_minus_the_energy_gradient(gaussian_process):
    from mlpmf.evaluation import evaluate_model

    metrics = evaluate_model(gaussian_process, labelled_dimers(40, 9))
    assert metrics["committee_force_rmse_ev_a"] < 0.1 * metrics["reference_force_std_ev_a"]
    dimer = labelled_dimers(1, 5)[0].copy()
    dimer.calc = CommitteeCalculator(gaussian_process)
    numeric = finite_difference_forces(dimer, lambda a: a.get_potential_energy(), step=1e-5)
    np.testing.assert_allclose(dimer.get_forces(), numeric, atol=1e-7)


def test_gp_predictive_variance_grows_away_from_its_data(gaussian_process):
    """Trained on bonds of 2.4-4.0 Å: a 3.2 Å bond is inside the data, 1.6 Å is not;
    far outside, the variance tends to the prior's, the signal variance."""
    from ase import Atoms

    variances = []
    for r in (3.2, 1.6):
        dimer = Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]])
        batch = pair_batch([dimer], gaussian_process.descriptor)
        variances.append(gaussian_process.predictive_variances(batch)[1].max())
    assert variances[1] > 10 * variances[0]
    assert variances[1] <= gaussian_process.signal_std_ev**2 * (1 + 1e-9)


def test_gp_saves_and_loads_with_its_posterior(gaussian_process, tmp_path):
    gaussian_process.save(tmp_path / "gp.pt")
    loaded = load_model(tmp_path / "gp.pt")
    batch = pair_batch(labelled_dimers(3, 1), loaded.descriptor)
    for original, reloaded in zip(
        gaussian_process.predictive_variances(batch),
        loaded.predictive_variances(batch),
        strict=True,
    ):
        torch.testing.assert_close(reloaded, original, rtol=0, atol=0)
