import numpy as np
import pytest
from ase import Atoms

from mlpmf.analytic import DoubleWellBond
from mlpmf.colvars import Angle, Dihedral, Distance, Position
from mlpmf.dynamics import GridBias, LangevinSettings, UmbrellaBias, bias_forces, run_langevin
from mlpmf.oracles import make_oracle
from mlpmf.settings import WindowSettings
from mlpmf.timeseries import decorrelate
from mlpmf.umbrella import WindowRecording, run_umbrella_window, run_umbrella_windows
from mlpmf.units import ev_to_kj_mol, kt_kj_mol


def test_umbrella_window_samples_the_biased_boltzmann_distribution():
    """A restrained dimer in the double well: MD mean and variance of r vs quadrature of
    r^2 exp(-(V + U)/kT); tolerance 4 standard errors of the decorrelated mean."""
    dimer = Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]])
    dimer.calc = DoubleWellBond(barrier_ev=0.15, r_mid=3.2, half_width=0.45)
    bias = UmbrellaBias(Distance((0, 1)), 3.1, 400.0)
    window = WindowSettings(40000, 1000, timestep_fs=2.0, friction_per_fs=0.02, record_every=1)
    rng = np.random.default_rng(4)
    series = run_umbrella_window(dimer, bias, window, 300.0, rng)["cv"]

    r = np.linspace(2.0, 4.5, 20001)
    potential = ev_to_kj_mol(0.15 * (((r - 3.2) / 0.45) ** 2 - 1) ** 2)
    weight = r**2 * np.exp(-(potential + 0.5 * 400.0 * (r - 3.1) ** 2) / kt_kj_mol(300.0))
    mean = np.sum(r * weight) / np.sum(weight)
    std = np.sqrt(np.sum((r - mean) ** 2 * weight) / np.sum(weight))
    independent = decorrelate(series)
    standard_error = std / np.sqrt(len(independent))
    assert abs(series.mean() - mean) < 4 * standard_error
    assert series.std() == pytest.approx(std, rel=0.08)


def test_fixed_atoms_do_not_move(adatom_slab):
    adatom_slab.calc = make_oracle({"kind": "emt"})
    fixed = adatom_slab.get_tags() == 3
    before = adatom_slab.positions.copy()
    run_langevin(adatom_slab, LangevinSettings(500.0, 2.0, 0.01), 50, np.random.default_rng(0))
    np.testing.assert_array_equal(adatom_slab.positions[fixed], before[fixed])
    assert np.abs(adatom_slab.positions[~fixed] - before[~fixed]).max() > 1e-3


def test_batched_windows_follow_the_same_trajectories_as_single_windows():
    """Same seeds: a window gives the same series alone (ASE calculator) or in a batch of
    four (one committee forward pass per step), to floating-point tolerance."""
    import torch

    from mlpmf.calculator import BatchedCommittee, CommitteeCalculator
    from mlpmf.descriptors import Descriptor
    from mlpmf.models import Committee

    torch.manual_seed(0)
    descriptor = Descriptor((18,), 8, 5.0, num_angular_sections=0)
    committee = Committee(
        descriptor, 3, [8], torch.zeros(1, 8), torch.ones(1, 8), torch.zeros(1), 0.05
    )
    window = WindowSettings(600, 100, timestep_fs=2.0, friction_per_fs=0.01, record_every=3)
    centers = [2.8, 3.0, 3.2, 3.4]
    cv = Distance((0, 1))

    def dimer():
        return Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]])

    alone = []
    for k, center in enumerate(centers):
        atoms = dimer()
        atoms.calc = CommitteeCalculator(committee)
        alone.append(
            run_umbrella_window(
                atoms, UmbrellaBias(cv, center, 500.0), window, 300.0, np.random.default_rng(k)
            )
        )  # fmt: skip
    batched = run_umbrella_windows(
        [dimer() for _ in centers],
        [UmbrellaBias(cv, c, 500.0) for c in centers],
        window,
        300.0,
        [np.random.default_rng(k) for k in range(len(centers))],
        BatchedCommittee(committee),
    )
    for single, in_batch in zip(alone, batched, strict=True):
        np.testing.assert_allclose(in_batch["cv"], single["cv"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(
            in_batch["max_force_disagreement_ev_a"],
            single["max_force_disagreement_ev_a"],
            atol=1e-9,
        )
        assert np.all(single["max_force_disagreement_ev_a"] > 0)


def double_well_dimers(n):
    dimers = []
    for _ in range(n):
        dimer = Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]])
        dimer.calc = DoubleWellBond(barrier_ev=0.15, r_mid=3.2, half_width=0.45)
        dimers.append(dimer)
    return dimers


def test_replica_exchange_keeps_every_window_in_its_biased_distribution():
    """REUS swaps configurations between neighbouring windows; each window must still
    sample exp(-(V + U_k)/kT): mean and spread within 4 standard errors of quadrature."""
    centers = [2.9, 3.05, 3.2, 3.35, 3.5]
    cv = Distance((0, 1))
    biases = [UmbrellaBias(cv, c, 400.0) for c in centers]
    window = WindowSettings(12000, 500, 2.0, 0.02, record_every=1, exchange_every=20)
    rngs = [np.random.default_rng(10 + k) for k in range(len(centers))]
    series = run_umbrella_windows(double_well_dimers(len(centers)), biases, window, 300.0, rngs)
    r = np.linspace(2.0, 4.5, 20001)
    potential = ev_to_kj_mol(0.15 * (((r - 3.2) / 0.45) ** 2 - 1) ** 2)
    for center, window in zip(centers, series, strict=True):
        weight = r**2 * np.exp(-(potential + 0.5 * 400.0 * (r - center) ** 2) / kt_kj_mol(300))
        mean = np.sum(r * weight) / np.sum(weight)
        std = np.sqrt(np.sum((r - mean) ** 2 * weight) / np.sum(weight))
        x = window["cv"]
        independent = len(decorrelate(x))  # standard errors of mean and spread: 4 of each
        assert abs(x.mean() - mean) < 4 * std / np.sqrt(independent), center
        assert abs(x.std() / std - 1) < 4 / np.sqrt(2 * independent), center


def test_replica_exchange_swaps_and_resumes_bit_for_bit(tmp_path):
    """Exchanges are accepted at a rate between 0 and 1, change the trajectories, and a
    run killed half-way resumes from its checkpoints to the uninterrupted result."""
    from mlpmf.checkpoint import Checkpoint
    from mlpmf.dynamics import own_calculators
    from mlpmf.umbrella import ReplicaExchange

    centers = [3.0, 3.1, 3.2, 3.3]
    cv = Distance((0, 1))

    def run(exchange_every, checkpoints=None, force_field=own_calculators):
        window = WindowSettings(1000, 100, 2.0, 0.02, record_every=5, exchange_every=exchange_every)
        return run_umbrella_windows(
            double_well_dimers(len(centers)), [UmbrellaBias(cv, c, 400.0) for c in centers],
            window, 300.0, [np.random.default_rng(k) for k in range(len(centers))],
            force_field, WindowRecording(checkpoints=checkpoints),
        )  # fmt: skip

    plain, exchanged = run(0), run(10)
    assert not np.array_equal(plain[1]["cv"], exchanged[1]["cv"])
    probe = ReplicaExchange([UmbrellaBias(cv, c, 400.0) for c in centers],
                            [np.random.default_rng(k) for k in range(4)], 300.0, 10)  # fmt: skip
    positions = [np.array([[0, 0, 0], [c, 0, 0]], dtype=float) for c in (3.2, 3.0, 3.2, 3.3)]
    swapped = probe(20, positions, [0, 1, 2, 3], ["a", "b", "c", "d"])
    assert swapped == [0, 1]  # downhill for both windows: always accepted; 2-3 not tried
    assert positions[0][1, 0] == 3.0 and probe.acceptance()[0] == (3.0, 3.1, 1.0)
    assert [pair[:2] for pair in probe.acceptance()] == [(3.0, 3.1), (3.2, 3.3)]  # even pairs

    calls = {"n": 0}

    def dies_once(replicas, with_disagreement):
        calls["n"] += 1
        if calls["n"] == 700:
            raise KeyboardInterrupt
        return own_calculators(replicas, with_disagreement)

    checkpoints = [Checkpoint(tmp_path / f"w{k}.pt", "same", 200) for k in range(4)]
    with pytest.raises(KeyboardInterrupt):
        run(10, checkpoints, dies_once)
    resumed = run(10, checkpoints, dies_once)
    for a, b in zip(exchanged, resumed, strict=True):
        np.testing.assert_array_equal(a["cv"], b["cv"])


def periodic_track_force_field(length: float, barrier_ev: float):
    """One atom on a ring of circumference ``length`` (its x, Å): V = barrier/2 (1 + cos 4 pi
    x / length), two barriers per turn; y and z are free."""

    def evaluate(structures, _disagreement: bool = True) -> list[dict]:
        results = []
        for atoms in structures:
            phase = 4 * np.pi * atoms.positions[0, 0] / length
            forces = np.zeros_like(atoms.positions)
            forces[0, 0] = 0.5 * barrier_ev * np.sin(phase) * 4 * np.pi / length
            results.append({"energy": 0.5 * barrier_ev * (1 + np.cos(phase)), "forces": forces})
        return results

    return evaluate


def test_windows_round_a_periodic_cv_exchange_across_its_seam():
    """Windows every 1 Å round a ring of 6 Å (a periodic CV) exchange as a ring: the last
    and the first window are neighbours across the seam and swap too, and each window
    still samples its biased distribution exp(-(V + U_k)/kT) with U on the periodic
    distance to its centre (mean and spread within 4 standard errors of quadrature).
    Windows over half the ring stay a chain; an odd ring rotates its pairs and tries every
    pair equally often."""
    from mlpmf.umbrella import ReplicaExchange

    length, centers = 6.0, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    cv, kappa = Position((0,), "x", period=length), 10.0
    window = WindowSettings(12000, 500, 2.0, 0.02, record_every=1, exchange_every=10)
    biases = [UmbrellaBias(cv, c, kappa) for c in centers]
    replicas = [Atoms("Ar", positions=[[c, 0.0, 0.0]]) for c in centers]
    series = run_umbrella_windows(
        replicas, biases, window, 300.0,
        [np.random.default_rng(30 + k) for k in range(len(centers))],
        periodic_track_force_field(length, 0.05),
    )  # fmt: skip
    d = np.linspace(-length / 2, length / 2, 6001)[:-1]
    for center, window in zip(centers, series, strict=True):
        potential = ev_to_kj_mol(0.025 * (1 + np.cos(4 * np.pi * (center + d) / length)))
        weight = np.exp(-(potential + 0.5 * kappa * d**2) / kt_kj_mol(300.0))
        mean = np.sum(d * weight) / np.sum(weight)
        std = np.sqrt(np.sum((d - mean) ** 2 * weight) / np.sum(weight))
        x = (window["cv"] - center + length / 2) % length - length / 2
        independent = len(decorrelate(x))
        assert abs(x.mean() - mean) < 4 * std / np.sqrt(independent), center
        assert abs(x.std() / std - 1) < 4 / np.sqrt(2 * independent), center

    rngs = [np.random.default_rng(k) for k in range(6)]
    ring = ReplicaExchange(biases[::-1], rngs, 300.0, 10)  # any order: sorted by centre
    half = ReplicaExchange([UmbrellaBias(cv, c, kappa) for c in (0.0, 1.0, 2.0)], rngs, 300.0, 10)
    positions = [np.array([[c, 0.0, 0.0]]) for c in centers[::-1]]
    for step in range(10, 210, 10):
        ring(step, positions, [None] * 6, [None] * 6)
        half(step, positions[:3], [None] * 3, [None] * 3)
    assert [pair[:2] for pair in ring.acceptance()][-1] == (5.0, 0.0)  # the seam
    assert ring.attempted.tolist() == [10] * 6
    assert [pair[:2] for pair in half.acceptance()] == [(0.0, 1.0), (1.0, 2.0)]
    odd = ReplicaExchange([UmbrellaBias(cv, c, kappa) for c in (0.0, 2.0, 4.0)], rngs, 300.0, 10)
    for step in range(10, 310, 10):
        odd(step, positions[:3], [None] * 3, [None] * 3)
    assert odd.attempted.tolist() == [10, 10, 10]


@pytest.mark.parametrize("exchange_every", [0, 10])
def test_more_steps_extend_windows_from_their_last_state(tmp_path, exchange_every):
    """A finished window asked for more steps runs only the extra steps and equals the
    longer run bit for bit; asked for fewer, it runs nothing and is the longer run's
    start; a window without a checkpoint runs in its own batch beside them."""
    from mlpmf.checkpoint import Checkpoint
    from mlpmf.dynamics import own_calculators

    centers = [3.0, 3.1, 3.2]
    cv = Distance((0, 1))
    calls = {"n": 0}

    def counted(replicas, with_disagreement):
        calls["n"] += 1
        return own_calculators(replicas, with_disagreement)

    def run(steps, checkpoints=None, windows=centers):
        calls["n"] = 0
        window = WindowSettings(
            steps, 100, 2.0, 0.02, record_every=5, exchange_every=exchange_every
        )
        return run_umbrella_windows(
            double_well_dimers(len(windows)), [UmbrellaBias(cv, c, 400.0) for c in windows],
            window, 300.0, [np.random.default_rng(int(10 * c)) for c in windows], counted,
            WindowRecording(checkpoints=checkpoints),
        )  # fmt: skip

    def saved(windows=centers):
        return [Checkpoint(tmp_path / f"{c}.pt", "same", 300) for c in windows]

    longer = run(1000)
    shorter = run(450, saved())
    extended = run(1000, saved())
    assert calls["n"] == 1000 - 450 + 1  # the extra steps (and one force call to restart)
    for a, b, c in zip(longer, extended, shorter, strict=True):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])
        np.testing.assert_array_equal(c["cv"], a["cv"][: len(c["cv"])])
        assert len(c["cv"]) == 450 // 5 and len(a["cv"]) == 1000 // 5

    cut = run(450, saved())
    assert calls["n"] == 0
    for a, c in zip(shorter, cut, strict=True):
        np.testing.assert_array_equal(a["cv"], c["cv"])

    added = run(1000, saved([*centers, 3.3]), [*centers, 3.3])
    assert calls["n"] == 1100 + 1  # only the new window ran (equilibration and all)
    for a, b in zip(longer, added[:3], strict=True):
        np.testing.assert_array_equal(a["cv"], b["cv"])
    assert len(added[3]["cv"]) == 200


def test_bias_forces_of_a_batch_equal_each_bias_alone():
    """Mixed CVs, centres, spring constants, unbiased replicas and molecules of two sizes
    in one call: every replica gets the forces its own bias gives it, bit for bit."""
    rng = np.random.default_rng(11)
    positions = [rng.normal(scale=1.5, size=(n, 3)) for n in (6, 6, 6, 5, 6, 5)]
    biases = [
        UmbrellaBias(Dihedral((0, 1, 2, 3)), 170.0, 0.05),
        UmbrellaBias(Dihedral((0, 1, 2, 3)), -60.0, 0.02),
        None,
        UmbrellaBias(Dihedral((0, 1, 2, 3)), 10.0, 0.05),
        UmbrellaBias(Angle((0, 1, 2)), 100.0, 0.1),
        UmbrellaBias(Distance((0, 4)), 1.2, 500.0),
    ]
    forces = bias_forces(biases, positions)
    assert forces[2] is None
    for bias, x, f in zip(biases, positions, forces, strict=True):
        if bias is not None:
            assert np.array_equal(f, bias.energy_and_forces(x)[1])


def test_md_continued_from_the_state_left_in_atoms_equals_one_run():
    """Forty steps in four runs, each continuing from what the last left in the Atoms
    (as a checkpoint stores it), equal forty in one go bit for bit: the integrator keeps
    momenta, which an Atoms stores exactly. (Kept as velocities, m * v / m differs from v
    in one carbon coordinate in seven, and benzene has eighteen.)"""
    from ase.build import molecule
    from ase.calculators.emt import EMT

    settings = LangevinSettings(300.0, 0.5, 0.01)
    runs = []
    for split in ((40,), (10, 10, 10, 10)):
        atoms = molecule("C6H6")
        atoms.calc = EMT()
        rng = np.random.default_rng(4)
        for steps in split:
            run_langevin(atoms, settings, steps, rng)
        runs.append((atoms.positions.copy(), atoms.get_momenta()))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1], runs[1][1])


def test_a_cv_that_equals_another_drives_the_same_windows():
    """A linear combination of one distance with coefficient 1, and a minimum-image
    distance in a cell far larger than the molecule, are the distance itself: the
    windows they drive follow the distance's trajectories, bit for bit for the first
    (x + 1 * d is d), to rounding for the second (through fractional coordinates)."""
    from mlpmf.colvars import LinearCombination

    big = ((50.0, 0.0, 0.0), (0.0, 50.0, 0.0), (0.0, 0.0, 50.0))
    window = WindowSettings(400, 50, 2.0, 0.02, record_every=5)
    runs = []
    for cv in (Distance((0, 1)), LinearCombination(((0, 1),), (1.0,)),
               Distance((0, 1), cell=big, pbc=(True, True, True))):  # fmt: skip
        runs.append(run_umbrella_windows(
            double_well_dimers(3), [UmbrellaBias(cv, c, 400.0) for c in (3.0, 3.2, 3.4)],
            window, 300.0, [np.random.default_rng(k) for k in range(3)],
        ))  # fmt: skip
    for a, b, c in zip(*runs, strict=True):
        np.testing.assert_array_equal(a["cv"], b["cv"])
        np.testing.assert_allclose(a["cv"], c["cv"], rtol=1e-9)


def test_a_grid_bias_restrains_both_cvs_with_the_gradient_of_its_energy():
    """2D umbrella sampling's bias: its forces are minus the gradient of its energy
    (central differences), the batched forces equal its own, and a window restrained on
    a dihedral and an angle samples both near their centres."""
    rng = np.random.default_rng(3)
    x = rng.normal(scale=1.5, size=(5, 3))
    bias = GridBias(
        (
            UmbrellaBias(Dihedral((0, 1, 2, 3)), 60.0, 0.05),
            UmbrellaBias(Angle((1, 2, 4)), 100.0, 0.1),
        )
    )
    energy, forces = bias.energy_and_forces(x)
    assert energy == pytest.approx(sum(t.energy(x) for t in bias.terms))
    numeric = np.zeros_like(x)
    for i in range(5):
        for d in range(3):
            step = np.zeros_like(x)
            step[i, d] = 1e-6
            numeric[i, d] = -(bias.energy(x + step) - bias.energy(x - step)) / 2e-6
    assert forces == pytest.approx(numeric, abs=1e-6)
    batched = bias_forces([bias, None, bias.terms[0]], [x, x, x])
    assert batched[0] == pytest.approx(forces, abs=1e-12)
    assert batched[2] == pytest.approx(bias.terms[0].energy_and_forces(x)[1], abs=1e-12)

    dimer = Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]])
    dimer.calc = DoubleWellBond(barrier_ev=0.15, r_mid=3.2, half_width=0.45)
    window = GridBias((UmbrellaBias(Distance((0, 1)), 3.3, 400.0), UmbrellaBias(
        Position((0,), "x"), 0.5, 200.0)))  # fmt: skip
    series = run_umbrella_windows(
        [dimer], [window], WindowSettings(4000, 500, 2.0, 0.02, record_every=2), 300.0,
        [np.random.default_rng(8)],
    )[0]  # fmt: skip
    assert set(series) >= {"cv", "cv_2"}
    assert abs(series["cv"].mean() - 3.3) < 0.15  # the double well pushes it out by ~0.07
    assert abs(series["cv_2"].mean() - 0.5) < 3 * np.sqrt(kt_kj_mol(300.0) / 200.0)
