import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from mlpmf.analytic import DoubleWellBond
from mlpmf.calculator import CommitteeCalculator
from mlpmf.descriptors import Descriptor, pair_batch
from mlpmf.evaluation import evaluate_model
from mlpmf.models import Committee, load_model, max_pairwise_force_difference
from mlpmf.settings import CommitteeSettings
from mlpmf.training import train_committee
from tests.conftest import finite_difference_forces

DESCRIPTOR = {"num_radial": 12, "cutoff_a": 5.0, "num_angular_sections": 0, "num_chiral": 0}
SETTINGS = CommitteeSettings(
    members=4,
    hidden_layers=(16, 16),
    epochs=60,
    batch_size=32,
    learning_rate=0.01,
    final_learning_rate=0.0005,
    patience_epochs=0,
)


def labelled_dimers(count, seed):
    """Dimers at random distances and orientations, labelled by the double-well oracle."""
    rng = np.random.default_rng(seed)
    oracle = DoubleWellBond(barrier_ev=0.15, r_mid=3.2, half_width=0.45)
    frames = []
    for r in rng.uniform(2.4, 4.0, count):
        direction = rng.normal(size=3)
        dimer = Atoms("Ar2", positions=[[0, 0, 0], r * direction / np.linalg.norm(direction)])
        dimer.positions += rng.normal(size=3)
        oracle.calculate(dimer)
        dimer.calc = SinglePointCalculator(dimer, **oracle.results)
        frames.append(dimer)
    return frames


@pytest.fixture(scope="module")
def trained():
    model, history = train_committee(labelled_dimers(160, 0), DESCRIPTOR, SETTINGS, seed=11)
    return model, history


def untrained_committee(structure, seed=0):
    torch.manual_seed(seed)
    species = tuple(sorted(set(structure.numbers)))
    descriptor = Descriptor(species, 8, 4.5, angular_cutoff_a=3.0, num_chiral=2)
    num_features = descriptor.num_features
    return Committee(
        descriptor,
        3,
        [8],
        torch.zeros(len(species), num_features),
        torch.ones(len(species), num_features),
        torch.zeros(len(species)),
        0.5,
    )


def test_training_fits_held_out_forces_of_the_oracle(trained):
    model, history = trained
    metrics = evaluate_model(model, labelled_dimers(60, 99))
    losses = history["training_loss"]
    assert losses[-1] < 0.05 * losses[0]
    assert metrics["committee_force_rmse_ev_a"] < 0.1 * metrics["reference_force_std_ev_a"]


def test_trained_committee_forces_are_minus_energy_gradient(trained):
    model, _ = trained
    dimer = labelled_dimers(1, 5)[0].copy()
    dimer.calc = CommitteeCalculator(model)
    numeric = finite_difference_forces(dimer, lambda a: a.get_potential_energy(), step=1e-5)
    np.testing.assert_allclose(dimer.get_forces(), numeric, atol=1e-7)


def test_member_forces_in_periodic_two_element_system(adatom_slab):
    model = untrained_committee(adatom_slab)

    def member_energies(atoms):
        with torch.no_grad():
            return model.energies_and_forces(pair_batch([atoms], model.descriptor))[0][:, 0].numpy()

    with torch.no_grad():
        _, forces = model.energies_and_forces(pair_batch([adatom_slab], model.descriptor))
    for m in range(model.num_members):
        numeric = finite_difference_forces(adatom_slab, lambda a, m=m: member_energies(a)[m])
        np.testing.assert_allclose(forces[m].numpy(), numeric, atol=1e-7)


def test_energy_is_invariant_under_rotation_translation_and_permutation(trained):
    model, _ = trained
    dimer = labelled_dimers(1, 8)[0]
    calc = CommitteeCalculator(model)
    reference = calc.get_potential_energy(dimer.copy())
    moved = dimer.copy()
    moved.rotate(37, "x")
    moved.rotate(-71, "z")
    moved.translate([1.0, -2.0, 0.5])
    swapped = moved[[1, 0]]
    for variant in (moved, swapped):
        assert CommitteeCalculator(model).get_potential_energy(variant) == pytest.approx(
            reference, abs=1e-10
        )


def test_disagreement_is_largest_pairwise_member_difference():
    forces = np.zeros((3, 2, 3))
    forces[1, 0] = [3.0, 0.0, 0.0]
    forces[2, 0] = [0.0, 4.0, 0.0]
    result = max_pairwise_force_difference(torch.as_tensor(forces)).numpy()
    np.testing.assert_allclose(result, [5.0, 0.0])


def test_calculator_reports_disagreement_and_spread(trained):
    model, _ = trained
    dimer = labelled_dimers(1, 3)[0]
    calc = CommitteeCalculator(model)
    calc.calculate(dimer, ["energy", "forces", "force_disagreement"])
    assert calc.results["force_disagreement"].shape == (2,)
    assert np.all(calc.results["force_disagreement"] >= 0)
    assert calc.results["energy_spread"] >= 0


def test_save_and_load_give_identical_predictions(trained, tmp_path):
    model, _ = trained
    model.save(tmp_path / "committee.pt")
    loaded = load_model(tmp_path / "committee.pt")
    dimer = labelled_dimers(1, 4)[0]
    original = CommitteeCalculator(model).get_forces(dimer.copy())
    np.testing.assert_array_equal(CommitteeCalculator(loaded).get_forces(dimer.copy()), original)


def test_unknown_element_is_a_clear_error(trained):
    model, _ = trained
    with pytest.raises(ValueError, match=r"atomic numbers \[79\]"):
        CommitteeCalculator(model).get_potential_energy(
            Atoms("ArAu", positions=[[0, 0, 0], [3, 0, 0]])
        )


def test_verlet_list_gives_the_energy_of_a_fresh_neighbour_list(adatom_slab):
    model = untrained_committee(adatom_slab, seed=3)
    calc = CommitteeCalculator(model)
    rng = np.random.default_rng(2)
    atoms = adatom_slab.copy()
    for _ in range(30):
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        with torch.no_grad():
            fresh = model.energies_and_forces(pair_batch([atoms], model.descriptor))[0].mean()
        assert calc.get_potential_energy(atoms) == pytest.approx(float(fresh), abs=1e-10)


def test_interrupted_training_resumes_from_its_checkpoint_to_the_same_committee(tmp_path):
    from mlpmf.checkpoint import Checkpoint

    frames = labelled_dimers(40, 1)
    settings = SETTINGS.replace(epochs=12, batch_size=8)
    uninterrupted, history = train_committee(frames, DESCRIPTOR, settings, seed=3)

    class Killed(Exception):
        pass

    def kill_after_epoch_8(epoch, _loss):
        if epoch == 8:
            raise Killed

    checkpoint = Checkpoint(tmp_path / "training.pt", "same data", every=5)
    with pytest.raises(Killed):
        train_committee(
            frames, DESCRIPTOR, settings, 3, checkpoint=checkpoint, on_epoch_end=kill_after_epoch_8
        )
    assert checkpoint.load()["epoch"] == 4
    resumed, resumed_history = train_committee(
        frames, DESCRIPTOR, settings, 3, checkpoint=checkpoint
    )
    assert resumed_history == history
    for name, value in uninterrupted.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0)
    stale = Checkpoint(tmp_path / "training.pt", "other data", every=5)
    assert stale.load() is None


@pytest.mark.parametrize("case", range(8))
def test_neighbour_list_finds_the_pairs_ase_finds(case):
    """Triclinic and mixed periodic cells, atoms outside the cell, cutoffs longer than
    the cell (several images of one pair): the same (i, j, S) as ASE's search."""
    from ase.neighborlist import primitive_neighbor_list

    from mlpmf.neighbours import neighbour_list

    rng = np.random.default_rng(case)
    cell = np.diag(rng.uniform(3.0, 9.0, 3)) + rng.uniform(-1.5, 1.5, (3, 3)) * (case % 2)
    pbc = [(True, True, True), (True, True, False), (False, True, False), (False,) * 3][case % 4]
    positions = rng.uniform(-0.5, 1.5, (int(rng.integers(2, 30)), 3)) @ cell
    cutoff = rng.uniform(2.0, 7.0)
    expected = primitive_neighbor_list("ijS", pbc, cell, positions, cutoff)
    found = neighbour_list(positions, cell, np.array(pbc), cutoff)

    def as_set(pairs):
        i, j, shifts = pairs
        return {(a, b, *s) for a, b, s in zip(i.tolist(), j.tolist(), shifts.tolist(), strict=True)}

    assert len(expected[0]) > 0
    assert as_set(found) == as_set(expected)
