"""Reference data: the restrained scan walks outwards and equilibrates before it
records, and strained frames are dropped and counted."""

import math

import numpy as np
import pytest
from ase.build import molecule
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from mlpmf.colvars import Dihedral, periodic_difference
from mlpmf.sampling import (
    BARRIER_ALLOWANCE_KT,
    automatic_energy_threshold_kt,
    drop_high_energy_frames,
    sample_reference,
    scan_order,
)
from mlpmf.settings import DatasetSettings
from mlpmf.units import kt_kj_mol


def test_the_scan_walks_outwards_from_the_start_in_both_directions():
    centers = list(np.arange(-180.0, 180.0, 15.0))
    up, down = scan_order(-92.0, centers, 360.0)
    assert up[0] == -90.0 and down[0] == -105.0
    for chain in (up, down):  # every move along a chain is one scan step
        steps = np.abs(periodic_difference(np.diff(chain), 0.0, 360.0))
        np.testing.assert_allclose(steps, 15.0)
    assert sorted(up + down) == sorted(centers)
    assert scan_order(2.0, [1.0, 2.5, 3.0], None) == [[2.5, 3.0], [1.0]]


def _arrivals(chain, start, period):
    """(centre, +1 arriving from below / -1 from above) for every point of ``chain``."""
    previous = [start] + chain[:-1]
    pairs = zip(chain, previous, strict=True)
    return {(c, int(np.sign(periodic_difference(c, p, period)))) for c, p in pairs}


@pytest.mark.parametrize(
    "start, centers, period",
    [
        (-92.0, list(np.arange(-180.0, 180.0, 15.0)), 360.0),  # phi of alanine
        (15.0, list(np.arange(-180.0, 180.0, 30.0)), 360.0),  # start between centres
        (2.6, list(np.linspace(1.0, 4.0, 7)), None),  # a distance, start inside
        (0.5, list(np.linspace(1.0, 4.0, 7)), None),  # start below every centre
    ],
)
def test_a_scan_both_ways_reaches_every_centre_from_both_sides_one_step_at_a_time(
    start, centers, period
):
    """There and back: one chain from the input structure, every move one scan step,
    every centre reached once coming up and once coming down except the turning points
    (a periodic CV's one, a distance's ends), so an orthogonal degree of freedom that
    lags behind the CV is recorded on both of its branches."""
    (chain,) = scan_order(start, centers, period, both_ways=True)
    spacing = abs(centers[1] - centers[0])
    first_move = abs(periodic_difference(chain[0], start, period))
    assert first_move <= spacing + 1e-9  # the first point is next to the structure
    moves = np.abs(periodic_difference(np.array(chain[1:]), np.array(chain[:-1]), period))
    np.testing.assert_allclose(moves, spacing)
    arrivals = _arrivals(chain, start, period)
    missing = {(c, d) for c in centers for d in (1, -1)} - arrivals
    if period is not None:
        assert len(missing) == 1 and len(chain) == 2 * len(centers) - 1
    else:  # the ends are only reached from inside
        assert missing <= {(centers[0], 1), (centers[-1], -1)} and len(missing) >= 1
    assert scan_order(start, centers, period, both_ways=False) != [chain]


def test_frames_far_above_the_lowest_energy_are_dropped_and_counted():
    frames = []
    for energy in (0.0, 0.3, 5.0, 0.9):
        atoms = molecule("H2O")
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=np.zeros((3, 3)))
        frames.append(atoms)
    kept, dropped = drop_high_energy_frames(frames, 1.0)
    assert dropped == 1 and [f.get_potential_energy() for f in kept] == [0.0, 0.3, 0.9]


def test_the_automatic_threshold_is_the_thermal_tail_plus_room_for_barriers():
    """22 atoms (60 internal degrees of freedom) sampled at up to 450 K, kT at 300 K:
    mean 30 kT_s, standard deviation sqrt(30) kT_s, so 30 + 6 sqrt(30) at 450 K."""
    structure = molecule("CH3CH2OH")  # 9 atoms: 21 internal degrees of freedom
    settings = DatasetSettings(md_temperature_k=450.0, scan_temperature_k=400.0)
    threshold = automatic_energy_threshold_kt(structure, settings, 300.0)
    expected = (10.5 + 6 * math.sqrt(10.5)) * 1.5 + BARRIER_ALLOWANCE_KT
    assert threshold == pytest.approx(expected)


def test_scan_points_start_relaxed_and_record_near_their_centre():
    """Ethanol's C-C-O-H torsion on EMT: each point turns the hydroxyl hydrogen from the
    previous point's last frame, relaxes and equilibrates under the restraint, then
    records frames close to its centre; no frame is strained enough to be dropped."""
    structure = molecule("CH3CH2OH")
    cv = Dihedral((1, 0, 2, 8))  # C-C-O-H in ASE's ethanol
    assert structure.get_chemical_symbols()[8] == "H"
    settings = DatasetSettings(
        md_steps=20, scan_points=4, scan_relax_steps=20, scan_equilibration_steps=40,
        scan_steps_per_point=40, scan_temperature_k=300.0, scan_spring_constant_kj_mol=0.2,
        timestep_fs=0.5, record_every=10,
    )  # fmt: skip
    centers = [-120.0, -30.0, 60.0, 150.0]
    data = sample_reference(
        structure, EMT(), cv, centers, settings, np.random.default_rng(0), 300.0
    )
    assert data.sampled == 2 + 4 * 4 and data.dropped_high_energy == 0
    scan = data.frames[2:]
    width = math.sqrt(kt_kj_mol(300.0) / 0.2)  # deg: the restraint's thermal width, 3.5
    for frame in scan:
        offsets = np.abs(periodic_difference(cv.value(frame.positions), np.array(centers), 360.0))
        assert offsets.min() < 5 * width
    energies = np.array([f.get_potential_energy() for f in data.frames])
    assert energies.max() - energies.min() < data.energy_threshold_ev


def test_an_explorer_drives_and_the_oracle_labels_only_the_recorded_frames():
    """Explore cheap, label expensive: EMT drives the MD and the scan of ethanol, GFN2-xTB
    labels the recorded frames afterwards. The oracle is called once per recorded frame
    (not per MD step), and every frame carries the oracle's own energy and forces."""
    from mlpmf.oracles import make_robust_oracle

    xtb = {"kind": "xtb", "method": "GFN2-xTB", "charge": 0, "multiplicity": 1,
           "electronic_temperature_k": 300.0, "max_iterations": 250}  # fmt: skip
    oracle, explorer = make_robust_oracle(xtb), make_robust_oracle({"kind": "emt"})
    structure = molecule("CH3CH2OH")
    settings = DatasetSettings(
        md_steps=40, scan_points=2, scan_relax_steps=5, scan_equilibration_steps=10,
        scan_steps_per_point=20, scan_temperature_k=300.0, scan_spring_constant_kj_mol=0.2,
        timestep_fs=0.5, record_every=10, max_energy_above_minimum_kt=1e6,
    )  # fmt: skip
    data = sample_reference(
        structure, oracle.as_calculator(), Dihedral((1, 0, 2, 8)), [-60.0, 60.0], settings,
        np.random.default_rng(0), 300.0, explorer=explorer.as_calculator(),
    )  # fmt: skip
    recorded = 4 + 2 * 2
    assert data.sampled == len(data.frames) == recorded and data.label_failures == 0
    assert oracle.calls == recorded
    assert explorer.calls > 40 + 2 * (10 + 20)  # every MD step, plus the relaxations
    check = make_robust_oracle(xtb)
    emt = EMT()
    for frame in data.frames:
        energy, forces = check.label(frame)
        assert frame.get_potential_energy() == pytest.approx(energy, abs=1e-8)
        np.testing.assert_allclose(frame.get_forces(), forces, atol=1e-8)
        assert abs(emt.get_potential_energy(frame.copy()) - energy) > 1.0  # not EMT's
