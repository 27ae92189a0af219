"""Does the MLIP capture the physics of its oracle? Validation against EMT and against
exact symmetry statements: energy conservation, a diatomic's vibrational frequency,
an FCC crystal, mirror images and diastereomers, torques, and uncertainty."""

import numpy as np
import pytest
import torch
from ase import Atoms, units
from ase.build import bulk, fcc100
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from scipy.stats import spearmanr

from mlpmf.calculator import CommitteeCalculator
from mlpmf.descriptors import Descriptor, pair_batch
from mlpmf.evaluation import ModelPredictions, evaluate_model
from mlpmf.gaussian_process import fit_gaussian_process
from mlpmf.models import Committee
from mlpmf.training import train_committee
from tests.test_committee import SETTINGS

TRAINING = SETTINGS.replace(
    hidden_layers=(24, 24),
    epochs=120,
    batch_size=16,
    final_learning_rate=0.0003,
    validation_fraction=0.15,
    patience_epochs=40,
)


def labelled(structures, calculator):
    """Copies of ``structures`` labelled by ``calculator``."""
    frames = []
    for atoms in structures:
        atoms = atoms.copy()
        atoms.calc = calculator
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        frames.append(atoms)
    return frames


# --- an FCC crystal -------------------------------------------------------------------


def strained_copper(count, seed):
    rng = np.random.default_rng(seed)
    cells = []
    for lattice_a in rng.uniform(3.45, 3.75, count):
        atoms = bulk("Cu", "fcc", a=lattice_a, cubic=True)
        atoms.positions += rng.normal(scale=0.06, size=atoms.positions.shape)
        cells.append(atoms)
    return labelled(cells, EMT())


@pytest.fixture(scope="module")
def copper_committee():
    """Energies weighted up: the equation of state is an energy property, and forces on
    rattled cells say little about it."""
    descriptor = {"num_radial": 10, "cutoff_a": 4.5}
    settings = TRAINING.replace(energy_weight=20.0)
    model, _ = train_committee(strained_copper(120, 0), descriptor, settings, seed=1)
    return model


def energy_per_atom(atoms, calculator):
    atoms = atoms.copy()
    atoms.calc = calculator
    return atoms.get_potential_energy() / len(atoms)


def test_every_atom_of_an_fcc_crystal_has_the_same_descriptor(copper_committee):
    crystal = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    features = copper_committee.descriptor.features(
        pair_batch([crystal], copper_committee.descriptor)
    )
    torch.testing.assert_close(features, features[:1].expand_as(features), rtol=0, atol=1e-12)


def test_fcc_lattice_constant_and_energy_match_the_oracle(copper_committee):
    """EMT's Cu minimum is at 3.59 Å; 0.5% of it (0.018 Å) is a tenth of the strain range
    trained on, and 5 meV/atom is ~1% of the energy range of the training cells."""
    lattice = np.linspace(3.5, 3.7, 41)

    def minimum(calculator):
        energies = [
            energy_per_atom(bulk("Cu", "fcc", a=a, cubic=True), calculator) for a in lattice
        ]
        k = int(np.argmin(energies))
        curvature, slope, _ = np.polyfit(lattice[k - 3 : k + 4], energies[k - 3 : k + 4], 2)
        best = -slope / (2 * curvature)
        return best, np.polyval([curvature, slope, _], best)

    oracle_a, oracle_e = minimum(EMT())
    mlip_a, mlip_e = minimum(CommitteeCalculator(copper_committee))
    assert mlip_a == pytest.approx(oracle_a, rel=0.005)
    assert mlip_e == pytest.approx(oracle_e, abs=0.005)


def test_nve_md_with_the_mlip_conserves_energy(copper_committee):
    """32 Cu atoms at 300 K, 400 steps of 2 fs velocity Verlet: the total energy's drift
    and fluctuation stay below 1% of the kinetic energy (~1.2 eV), as for exact forces
    (a force that is not -dE/dx shows up as a drift of order the kinetic energy)."""
    crystal = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    crystal.calc = CommitteeCalculator(copper_committee)
    MaxwellBoltzmannDistribution(crystal, temperature_K=600, rng=np.random.default_rng(3))
    dynamics = VelocityVerlet(crystal, timestep=2 * units.fs)
    totals, kinetic = [], []
    for _ in range(40):
        dynamics.run(10)
        totals.append(crystal.get_total_energy())
        kinetic.append(crystal.get_kinetic_energy())
    assert np.ptp(totals) < 0.01 * np.mean(kinetic)


# --- a diatomic -------------------------------------------------------------------------


def copper_dimers(count, seed, low=1.95, high=2.5):
    rng = np.random.default_rng(seed)
    dimers = []
    for r in rng.uniform(low, high, count):
        direction = rng.normal(size=3)
        dimers.append(
            Atoms("Cu2", positions=[[0, 0, 0], r * direction / np.linalg.norm(direction)])
        )
    return labelled(dimers, EMT())


def harmonic_frequency_per_s(calculator, r_guess=2.2):
    """Harmonic frequency (Hz) at the minimum, from the second derivative of E(r)."""
    distances = np.linspace(r_guess - 0.15, r_guess + 0.15, 301)
    energies = [
        energy_per_atom(Atoms("Cu2", positions=[[0, 0, 0], [r, 0, 0]]), calculator) * 2
        for r in distances
    ]
    k = int(np.argmin(energies))
    window = slice(k - 10, k + 11)
    curvature = 2 * np.polyfit(distances[window], energies[window], 2)[0]  # eV/Å^2
    reduced_mass = 63.546 / 2 * units._amu  # kg
    return np.sqrt(curvature * units._e * 1e20 / reduced_mass) / (2 * np.pi)


def test_diatomic_vibrational_frequency_within_two_percent_of_the_oracle():
    descriptor = {"num_radial": 12, "cutoff_a": 4.0}
    model, _ = train_committee(copper_dimers(150, 4), descriptor, TRAINING, seed=5)
    oracle = harmonic_frequency_per_s(EMT())
    mlip = harmonic_frequency_per_s(CommitteeCalculator(model))
    assert mlip == pytest.approx(oracle, rel=0.02)


# --- chirality ----------------------------------------------------------------------


def chiral_pair(hand_a, hand_b, rng=None, distance_a=2.4):
    """Two pyramidal centres (C with H, N, O substituents at 1.0, 1.1, 1.2 Å) facing each
    other along z; ``hand`` = ±1 picks a unit's enantiomer (a reflection through a plane
    containing the axis). With a 3 Å cutoff no atom sees the other unit except the two
    centres, which see only each other: every distance and angle any atom sees is the
    same for RR and RS, only the relative handedness differs."""
    rng = rng or np.random.default_rng(0)
    positions, symbols = [], []
    for centre_z, pointing, hand in ((0.0, -1.0, hand_a), (distance_a, 1.0, hand_b)):
        positions.append([0.0, 0.0, centre_z])
        symbols.append("C")
        for k, (element, bond) in enumerate((("H", 1.0), ("N", 1.1), ("O", 1.2))):
            bond += rng.normal(scale=0.01)
            azimuth = hand * (2 * np.pi * k / 3 + rng.normal(scale=0.02))
            polar = np.deg2rad(60.0 + rng.normal(scale=1.0))
            positions.append(
                [
                    bond * np.sin(polar) * np.cos(azimuth),
                    bond * np.sin(polar) * np.sin(azimuth),
                    centre_z + pointing * bond * np.cos(polar),
                ]
            )
            symbols.append(element)
    atoms = Atoms(symbols, positions=positions)
    atoms.rotate(rng.normal(size=3), rng.normal(size=3), center="COP")
    return atoms


def descriptor_of(num_chiral):
    return Descriptor(
        (1, 6, 7, 8), 8, 3.0, r_min_a=0.8, angular_cutoff_a=3.0, num_chiral=num_chiral
    )


def test_chiral_descriptor_flips_sign_under_reflection_and_energy_does_not():
    descriptor = descriptor_of(num_chiral=3)
    molecule = chiral_pair(1, 1, np.random.default_rng(1))
    mirror = molecule.copy()
    mirror.positions[:, 1] *= -1
    volumes = descriptor.signed_volumes(pair_batch([molecule], descriptor))
    mirrored = descriptor.signed_volumes(pair_batch([mirror], descriptor))
    assert volumes.abs().max() > 1e-3
    torch.testing.assert_close(mirrored, -volumes, rtol=1e-10, atol=1e-12)
    torch.manual_seed(0)
    features = descriptor.features(pair_batch([molecule], descriptor))
    mean, std = features.mean(0).expand(4, -1), features.std(0).clamp_min(1e-3).expand(4, -1)
    committee = Committee(descriptor, 4, [16], mean, std, torch.zeros(4), 0.5)
    energies = [CommitteeCalculator(committee).get_potential_energy(m) for m in (molecule, mirror)]
    assert abs(energies[0] - energies[1]) < 1e-6


def test_only_the_chiral_channel_distinguishes_diastereomers():
    rr, rs = chiral_pair(1, 1), chiral_pair(1, -1)
    achiral = descriptor_of(num_chiral=0)
    with torch.no_grad():
        features_rr = achiral.features(pair_batch([rr], achiral))
        features_rs = achiral.features(pair_batch([rs], achiral))
    torch.testing.assert_close(features_rr, features_rs, rtol=0, atol=1e-10)
    chiral = descriptor_of(num_chiral=3)
    like, unlike = (chiral.evaluate(pair_batch([a], chiral)) for a in (rr, rs))
    torch.testing.assert_close(like.chiral.abs(), unlike.chiral.abs())  # each unit alone
    products = [v.chiral[:, None, :] * v.neighbour_chiral for v in (like, unlike)]
    assert (products[0] - products[1]).abs().max() > 0.1 * products[0].abs().max()


def diastereomer_frames(count, seed, coupling_ev=0.1):
    """Random, slightly distorted pairs of each handedness, with an energy +J for like
    and -J for unlike handedness (a diastereomeric interaction) and no forces."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        hand_a, hand_b = rng.choice([-1, 1], size=2)
        atoms = chiral_pair(hand_a, hand_b, rng)
        energy = coupling_ev * hand_a * hand_b
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=np.zeros((8, 3)))
        frames.append(atoms)
    return frames


def test_a_model_with_the_chiral_channel_fits_diastereomer_energies_one_without_cannot():
    """The achiral model sees (nearly) identical descriptors for like and unlike pairs,
    so its best fit is the mean, an RMSE of J; the chiral one must get below J/5."""
    train, test = diastereomer_frames(200, 0), diastereomer_frames(60, 1)
    settings = TRAINING.replace(force_weight=0.0, energy_weight=100.0, hidden_layers=(16,))
    errors = {}
    for num_chiral in (0, 2):
        descriptor = {
            "num_radial": 6,
            "cutoff_a": 3.0,
            "angular_cutoff_a": 3.0,
            "num_chiral": num_chiral,
        }
        model, _ = train_committee(train, descriptor, settings, seed=2)
        errors[num_chiral] = evaluate_model(model, test)["committee_energy_rmse_ev_per_atom"] * 8
    assert errors[0] > 0.8 * 0.1
    assert errors[2] < 0.2 * 0.1


# --- orientation near a surface ----------------------------------------------------------


def gold_dimer_on_aluminium(count, seed):
    """An Au2 molecule over a slightly disordered Al(100) slab at random heights, places
    and orientations (tilted at most ~60 degrees out of the surface plane)."""
    rng = np.random.default_rng(seed)
    structures = []
    for _ in range(count):
        slab = fcc100("Al", (3, 3, 2), vacuum=6.0)
        bond = rng.normal(size=3) * [1.0, 1.0, 0.5]
        bond *= rng.uniform(2.4, 2.8) / np.linalg.norm(bond)
        centre = slab.positions[slab.get_tags() == 1].mean(0)
        centre += [*rng.uniform(-1.4, 1.4, 2), rng.uniform(2.0, 2.8)]
        slab.positions += rng.normal(scale=0.05, size=slab.positions.shape)
        slab += Atoms("Au2", positions=[centre - bond / 2, centre + bond / 2])
        structures.append(slab)
    return labelled(structures, EMT())


def molecule_torque(forces, positions):
    """Torque about the centre of the (homonuclear) molecule, eV."""
    centre = positions.mean(0)
    return np.cross(positions - centre, forces).sum(0)


def test_torque_on_a_molecule_near_a_surface_matches_the_oracle():
    """The torque on Au2 over Al(100), from the last two atoms' forces, on held-out
    geometries: its RMSE must stay below 10% of the spread of the oracle's torques
    (the committee reaches ~1.5%; the margin covers other seeds)."""
    descriptor = {"num_radial": 10, "cutoff_a": 4.5}
    model, _ = train_committee(gold_dimer_on_aluminium(200, 6), descriptor, TRAINING, seed=7)
    test = gold_dimer_on_aluminium(40, 8)
    predictions = ModelPredictions.of(model, test)
    mlip_forces = predictions.forces.mean(0).numpy().reshape(len(test), -1, 3)
    oracle, mlip = [], []
    for frame, forces in zip(test, mlip_forces, strict=True):
        positions = frame.positions[-2:]
        oracle.append(molecule_torque(frame.get_forces()[-2:], positions))
        mlip.append(molecule_torque(forces[-2:], positions))
    oracle, mlip = np.array(oracle), np.array(mlip)
    assert np.sqrt(np.mean((mlip - oracle) ** 2)) < 0.1 * oracle.std()


# --- uncertainty -------------------------------------------------------------------------


def test_committee_disagreement_and_gp_variance_rank_the_true_force_errors():
    """Trained on dimers between 2.0 and 2.4 Å, tested from 1.85 to 2.7 Å (in and out of
    the data): each model's uncertainty must rank the atoms' true force errors with a
    Spearman correlation above 0.5."""
    train = copper_dimers(80, 9, 2.0, 2.4)
    test = copper_dimers(80, 10, 1.85, 2.7)
    descriptor = {"num_radial": 10, "cutoff_a": 4.0}
    committee, _ = train_committee(train, descriptor, TRAINING, seed=11)
    gp_settings = {
        "inducing_atoms": 60,
        "length_scale": None,
        "energy_noise_ev_per_atom": 0.002,
        "force_noise_ev_a": 0.02,
    }
    gaussian_process = fit_gaussian_process(train, descriptor, gp_settings, seed=12)
    for model in (committee, gaussian_process):
        predictions = ModelPredictions.of(model, test)
        rho = spearmanr(predictions.uncertainty, predictions.atom_force_errors).statistic
        assert rho > 0.5, model.kind
