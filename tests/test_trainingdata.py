"""The training set's two layouts give the same losses, gradients and committees."""

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator

from mlpmf import trainingdata
from mlpmf.descriptors import Descriptor
from mlpmf.models import Committee
from mlpmf.settings import CommitteeSettings
from mlpmf.training import train_committee
from mlpmf.trainingdata import ForceMapFrames, PairFrameSet, training_frames

WEIGHTS = (3.0, 1.0)


def labelled(structure, count, seed):
    """Displaced copies with made-up smooth labels (the layouts must agree on any)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        atoms = structure.copy()
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        energy = float(rng.normal())
        forces = rng.normal(scale=0.5, size=atoms.positions.shape)
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        frames.append(atoms)
    return frames


def committee(structure, seed=0):
    torch.manual_seed(seed)
    species = tuple(sorted(set(int(z) for z in structure.numbers)))
    descriptor = Descriptor(species, 8, 4.5, angular_cutoff_a=3.0, num_chiral=2)
    features = descriptor.num_features
    mean = torch.randn(len(species), features) * 0.1
    std = torch.rand(len(species), features) + 0.5
    return Committee(descriptor, 3, [8, 8], mean, std, torch.randn(len(species)), 0.3)


@pytest.mark.parametrize("system", ["ethanol", "slab"])
def test_force_maps_give_the_pairwise_losses_and_their_weight_gradients(system, adatom_slab):
    structure = molecule("CH3CH2OH") if system == "ethanol" else adatom_slab
    frames = labelled(structure, 6, 1)
    model = committee(structure)
    indices = [0, 2, 3, 5]
    dense = ForceMapFrames(frames, range(6), model.descriptor, "cpu").batch(indices)
    pairwise = PairFrameSet(frames, range(6), model.descriptor, "cpu").batch(indices)
    gradients = []
    for batch in (dense, pairwise):
        model.zero_grad()
        losses = batch.losses(model, WEIGHTS)
        losses.sum().backward()
        gradients.append((losses.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(gradients[0][0], gradients[1][0], rtol=1e-10, atol=1e-12)
    for first, second in zip(gradients[0][1], gradients[1][1], strict=True):
        torch.testing.assert_close(first, second, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(dense.frames, indices)


def test_the_layout_falls_back_to_pairs_for_mixed_sizes_or_an_exhausted_budget(monkeypatch):
    ethanol = molecule("CH3CH2OH")
    frames = labelled(ethanol, 3, 2) + labelled(molecule("CH3OH"), 2, 3)
    descriptor = committee(ethanol).descriptor
    assert isinstance(training_frames(frames, [0, 1, 2], descriptor, "cpu"), ForceMapFrames)
    assert isinstance(training_frames(frames, [0, 3], descriptor, "cpu"), PairFrameSet)
    monkeypatch.setattr(trainingdata, "FORCE_MAP_BUDGET_BYTES", 0)
    assert isinstance(training_frames(frames, [0, 1, 2], descriptor, "cpu"), PairFrameSet)


def test_both_layouts_train_the_same_committee(monkeypatch):
    ethanol = molecule("CH3CH2OH")
    frames = labelled(ethanol, 24, 4)
    settings = CommitteeSettings(members=2, hidden_layers=(8,), epochs=4, batch_size=4)
    descriptor = {"num_radial": 8, "cutoff_a": 4.5, "num_chiral": 2}
    dense, dense_curves = train_committee(frames, descriptor, settings, seed=5)
    monkeypatch.setattr(trainingdata, "FORCE_MAP_BUDGET_BYTES", 0)
    pairwise, pair_curves = train_committee(frames, descriptor, settings, seed=5)
    np.testing.assert_allclose(
        dense_curves["validation_loss"], pair_curves["validation_loss"], rtol=1e-8
    )
    for name, value in pairwise.state_dict().items():
        torch.testing.assert_close(dense.state_dict()[name], value, rtol=1e-7, atol=1e-9)
