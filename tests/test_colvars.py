import numpy as np
import pytest
from ase.data import atomic_masses, atomic_numbers

from mlpmf.colvars import (
    Angle,
    Dihedral,
    Distance,
    Position,
    SignedVolume,
    effective_mass_amu,
    periodic_difference,
    rational_switch,
)
from mlpmf.cvsettings import make_colvar
from mlpmf.placement import move_to_value

POSITIONS = np.random.default_rng(3).normal(scale=2.0, size=(5, 3))


def numeric_gradient(cv, positions, step=1e-6):
    gradient = np.zeros_like(positions)
    for a in range(len(positions)):
        for d in range(3):
            plus, minus = positions.copy(), positions.copy()
            plus[a, d] += step
            minus[a, d] -= step
            gradient[a, d] = (cv.value(plus) - cv.value(minus)) / (2 * step)
    return gradient


@pytest.mark.parametrize(
    "cv",
    [
        Distance((0, 3)),
        Distance((4, 1)),
        Position((2,), "x"),
        Position((0,), "z"),
        Angle((0, 1, 2)),
        Angle((4, 2, 3)),
        Dihedral((0, 1, 2, 3)),
        Dihedral((4, 3, 1, 0)),
        SignedVolume((0, 1, 2, 3)),
        SignedVolume((2, 4, 0, 1)),
        make_colvar({"kind": "difference_of_distances", "atoms": [0, 1, 1, 2]}),
        make_colvar(
            {
                "kind": "linear_combination",
                "atoms": [0, 1, 2, 3, 4, 0],
                "coefficients": [0.5, -2.0, 1.5],
            }
        ),  # fmt: skip
        make_colvar(
            {
                "kind": "coordination_number",
                "atoms": [0],
                "other_atoms": [1, 2, 3, 4],
                "switching": {"r0_a": 2.5},
            }
        ),  # fmt: skip
        make_colvar(
            {
                "kind": "coordination_number",
                "atoms": [0, 1, 2, 3, 4],
                "switching": {"r0_a": 2.0, "d0_a": 0.5, "n": 8, "m": 14},
            }
        ),  # fmt: skip
        Distance((0, 3), cell=((3.0, 0, 0), (0.4, 3.5, 0), (0, 0, 40.0)), pbc=(True, True, False)),
    ],
    ids=repr,
)
def test_gradient_matches_finite_differences(cv):
    np.testing.assert_allclose(cv.gradient(POSITIONS), numeric_gradient(cv, POSITIONS), atol=1e-8)


ALL_KINDS = [
    Distance((0, 3)),
    Distance((1, 4), cell=((3.0, 0, 0), (0, 3.0, 0), (0, 0, 3.0)), pbc=(True, True, True)),
    make_colvar({"kind": "linear_combination", "atoms": [0, 1, 1, 2], "coefficients": [1, -1]}),
    make_colvar({"kind": "coordination_number", "atoms": [0, 1, 2, 3, 4]}),
    Position((2,), "y"),
    Angle((4, 2, 3)),
    Dihedral((4, 3, 1, 0)),
    SignedVolume((2, 4, 0, 1)),
]


@pytest.mark.parametrize("cv", ALL_KINDS, ids=repr)
def test_a_batch_of_structures_gives_each_the_bits_it_gets_alone(cv):
    """Replicas are biased in one vectorised pass: each must see exactly the value and
    gradient it would alone, or a window would follow another trajectory in a batch."""
    stack = np.random.default_rng(5).normal(scale=2.0, size=(2, 7, 5, 3))
    values, gradients = cv.values(stack), cv.gradients(stack)
    assert values.shape == (2, 7) and gradients.shape == stack.shape
    for index in np.ndindex(2, 7):
        assert values[index] == cv.value(stack[index])
        assert np.array_equal(gradients[index], cv.gradient(stack[index]))
    one = cv.value(POSITIONS)
    assert isinstance(one, float) and cv.gradient(POSITIONS).shape == POSITIONS.shape


@pytest.mark.parametrize(
    ("cv", "target"),
    [
        (Distance((0, 3)), 1.234),
        (Position((2,), "y"), 1.234),
        (Angle((0, 1, 2)), 104.5),
        (Dihedral((0, 1, 2, 3)), 179.0),
        (Dihedral((0, 1, 2, 3)), -120.0),
        (SignedVolume((0, 1, 2, 3)), -2.5),
    ],
    ids=repr,
)
def test_move_to_value_reaches_target(cv, target):
    moved = move_to_value(cv, POSITIONS, target, iterations=100)
    assert periodic_difference(cv.value(moved), target, cv.period) == pytest.approx(0, abs=1e-8)


def hydrogen_peroxide(dihedral_deg):
    """H-O-O-H with the O-O bond on x and the dihedral set exactly."""
    phi = np.radians(dihedral_deg)
    return np.array(
        [
            [-0.3, 0.9, 0.0],
            [0.0, 0.0, 0.0],
            [1.45, 0.0, 0.0],
            [1.75, 0.9 * np.cos(phi), 0.9 * np.sin(phi)],
        ]
    )


def test_dihedral_follows_the_iupac_sign_and_wraps_at_180():
    cv = Dihedral((0, 1, 2, 3))
    for angle in (0.0, 60.0, 111.5, -111.5, 179.9, -179.9):
        assert cv.value(hydrogen_peroxide(angle)) == pytest.approx(angle, abs=1e-9)
    assert cv.value(hydrogen_peroxide(180.0)) == pytest.approx(-180.0, abs=1e-9)
    assert cv.period == 360.0


def test_mirror_images_have_opposite_dihedral_and_signed_volume():
    mirror = POSITIONS * [1, 1, -1]
    for cv in (Dihedral((0, 1, 2, 3)), SignedVolume((0, 1, 2, 3))):
        assert cv.value(mirror) == pytest.approx(-cv.value(POSITIONS), abs=1e-9)
    assert Angle((0, 1, 2)).value(mirror) == pytest.approx(Angle((0, 1, 2)).value(POSITIONS))


def test_periodic_difference_wraps_into_half_period():
    np.testing.assert_allclose(
        periodic_difference([170.0, -170.0, 10.0], -170.0, 360.0), [-20.0, 0.0, -180.0]
    )
    assert periodic_difference(3.0, 1.0, None) == 2.0


def test_effective_mass_is_reduced_mass_for_distance_and_mass_for_position():
    masses = [atomic_masses[atomic_numbers[s]] for s in ("H", "O", "Au", "C", "N")]
    reduced = masses[0] * masses[3] / (masses[0] + masses[3])
    assert effective_mass_amu(Distance((0, 3)), POSITIONS, masses) == pytest.approx(reduced)
    assert effective_mass_amu(Position((2,), "x"), POSITIONS, masses) == pytest.approx(masses[2])


@pytest.mark.parametrize(
    ("kind", "atoms", "needed"),
    [
        ("distance", [0], 2),
        ("distance", [1, 1], 2),
        ("angle", [0, 1], 3),
        ("dihedral", [0, 1, 2], 4),
        ("dihedral", [0, 1, 2, 2], 4),
        ("signed_volume", [0, 1, 2], 4),
    ],
)
def test_factory_rejects_wrong_or_repeated_atoms(kind, atoms, needed):
    with pytest.raises(ValueError, match=f"collective_variable.atoms: {kind} needs {needed}"):
        make_colvar({"kind": kind, "atoms": atoms})


@pytest.mark.parametrize("target", [60.0, 170.0, -120.0])
def test_a_torsion_is_set_by_turning_its_fragment_rigidly(target):
    """Alanine dipeptide's phi: the Newton steps alone move only the four dihedral
    atoms and stretch bonds by tenths of an Å; turning the fragment beyond the N-CA
    bond keeps every bond length (and every distance within each side) exact."""
    from ase.io import read

    from tests.workflow_helpers import REPO

    atoms = read(REPO / "resources/alanine_dipeptide/L.xyz")
    phi = Dihedral((1, 3, 4, 6))
    moved = move_to_value(phi, atoms.positions, target, numbers=atoms.numbers)
    assert phi.value(moved) == pytest.approx(target, abs=1e-8)
    before = np.linalg.norm(atoms.positions[:, None] - atoms.positions[None], axis=-1)
    after = np.linalg.norm(moved[:, None] - moved[None], axis=-1)
    bonds = before < 1.7
    assert np.abs(after - before)[bonds].max() < 1e-9
    strained = move_to_value(phi, atoms.positions, target)
    strained_after = np.linalg.norm(strained[:, None] - strained[None], axis=-1)
    assert np.abs(strained_after - before)[bonds].max() > 0.05  # what the rigid turn avoids
    fixed = np.zeros(len(atoms), dtype=bool)
    fixed[15] = True  # a hydrogen of the turning fragment held fixed: no rigid turn
    pinned = move_to_value(phi, atoms.positions, target, numbers=atoms.numbers, movable=~fixed)
    np.testing.assert_array_equal(pinned[15], atoms.positions[15])
    assert phi.value(pinned) == pytest.approx(target, abs=1e-8)


@pytest.mark.parametrize("n, m", [(6, 12), (6, 10), (8, 14), (4, 6)])
def test_the_switching_function_is_plumeds_rational_one(n, m):
    """s(r) = (1 - x^n) / (1 - x^m), x = (r - d0) / r0, 1 below d0, n/m at x = 1 (the
    0/0 point, approached smoothly), and the slope equals the difference quotient."""
    r0, d0 = 1.2, 0.3
    r = np.array([0.1, 0.3, 0.9, 1.5 - 1e-9, 1.5, 1.5 + 1e-9, 2.1, 6.0])
    x = (r - d0) / r0
    with np.errstate(invalid="ignore", divide="ignore"):
        plain = (1 - x**n) / (1 - x**m)
    expected = np.where(r <= d0, 1.0, np.where(np.abs(x - 1) < 1e-6, n / m, plain))
    value, slope = rational_switch(r, r0, d0, n, m)
    np.testing.assert_allclose(value, expected, rtol=1e-7, atol=1e-12)
    step = 1e-6
    for point in (0.9, 1.5, 1.5 + 3e-7, 2.1, 6.0):
        up, down = rational_switch(np.array([point + step, point - step]), r0, d0, n, m)[0]
        assert slope[0] == 0.0
        np.testing.assert_allclose(
            rational_switch(np.array([point]), r0, d0, n, m)[1][0], (up - down) / (2 * step),
            rtol=1e-5, atol=1e-9,
        )  # fmt: skip
    # PLUMED's default m = 0 means 2n, where s = 1 / (1 + x^n) exactly
    default = make_colvar({"kind": "coordination_number", "atoms": [0, 1]})
    assert (default.n, default.m, default.r0_a) == (6, 12, 1.5)


def test_coordination_counts_neighbours_on_known_geometries():
    """An octahedron of six atoms round a centre at r0 gives 6 x 1/2; at 2 r0 each
    contributes 1 / (1 + 2^6); pairs within one group are counted once."""
    r0 = 2.0
    octahedron = np.vstack([[0.0, 0.0, 0.0], r0 * np.vstack([np.eye(3), -np.eye(3)])])
    centre = make_colvar({"kind": "coordination_number", "atoms": [0],
                          "other_atoms": list(range(1, 7)), "switching": {"r0_a": r0}})  # fmt: skip
    assert centre.value(octahedron) == pytest.approx(3.0, abs=1e-12)
    assert centre.value(2 * octahedron) == pytest.approx(6 / 65, rel=1e-12)
    within = make_colvar({"kind": "coordination_number", "atoms": list(range(7)),
                          "switching": {"r0_a": r0}})  # fmt: skip
    distances = np.linalg.norm(octahedron[:, None] - octahedron[None], axis=-1)
    pairs = distances[np.triu_indices(7, 1)] / r0
    assert within.value(octahedron) == pytest.approx(np.sum(1 / (1 + pairs**6)), rel=1e-12)
    overlapping = make_colvar({"kind": "coordination_number", "atoms": [0, 1],
                               "other_atoms": [0, 1, 2], "switching": {"r0_a": r0}})  # fmt: skip
    expected = sum(
        1 / (1 + (distances[i, j] / r0) ** 6) for i in (0, 1) for j in (0, 1, 2) if i != j
    )
    assert overlapping.value(octahedron) == pytest.approx(expected, rel=1e-12)


def test_a_difference_of_distances_follows_a_proton_across():
    """D-H...A on a line: d(D,H) - d(H,A) is -1 Å with H near D, 0 midway, +1 near A."""
    cv = make_colvar({"kind": "difference_of_distances", "atoms": [0, 1, 1, 2]})
    for h, expected in ((1.0, -1.0), (1.5, 0.0), (2.0, 1.0)):
        line = np.array([[0.0, 0, 0], [h, 0, 0], [3.0, 0, 0]])
        assert cv.value(line) == pytest.approx(expected, abs=1e-12)
    assert cv.unit == "Å" and cv.period is None


def test_minimum_image_distance_crosses_the_cell_boundary():
    from ase import Atoms

    box = Atoms("Ar2", positions=[[0.2, 5.0, 5.0], [9.7, 5.0, 5.0]], cell=[10, 10, 10], pbc=True)
    near = make_colvar({"kind": "distance", "atoms": [0, 1], "minimum_image": True}, box)
    assert near.value(box.positions) == pytest.approx(0.5, abs=1e-12)
    assert near.value(box.positions) == pytest.approx(box.get_distance(0, 1, mic=True))
    np.testing.assert_allclose(
        near.gradient(box.positions)[1], [-1.0, 0, 0], atol=1e-12
    )  # image at -0.3
    assert make_colvar({"kind": "distance", "atoms": [0, 1]}).value(box.positions) == 9.5
    slab = box.copy()
    slab.pbc = (True, True, False)
    slab.positions[1] = [0.3, 5.0, 9.9]
    across = make_colvar({"kind": "distance", "atoms": [0, 1], "minimum_image": True}, slab)
    assert across.value(slab.positions) == pytest.approx(np.hypot(0.1, 4.9))  # z not wrapped
    with pytest.raises(ValueError, match="minimum_image: needs a structure with a periodic"):
        make_colvar({"kind": "distance", "atoms": [0, 1], "minimum_image": True}, Atoms("Ar2"))


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"kind": "difference_of_distances", "atoms": [0, 1, 2]}, "needs 4 atoms"),
        ({"kind": "linear_combination", "atoms": [0, 1, 2], "coefficients": [1]}, "in pairs"),
        ({"kind": "linear_combination", "atoms": [0, 1], "coefficients": [1, 2]}, "one coeff"),
        ({"kind": "linear_combination", "atoms": [0, 0], "coefficients": [1]}, "with itself"),
        ({"kind": "coordination_number", "atoms": [0]}, "second group"),
        ({"kind": "coordination_number", "atoms": [0], "other_atoms": [0]}, "no pair"),
        ({"kind": "coordination_number", "atoms": [0, 1], "switching": {"r0_a": 0}}, "r0_a > 0"),
        ({"kind": "coordination_number", "atoms": [0, 0, 1]}, "repeated atoms"),
    ],
)
def test_combined_and_coordination_cvs_reject_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        make_colvar(settings)


def test_start_frames_by_rank_give_each_set_of_windows_its_own_nearby_structure():
    """Window k of set r (umbrella.repeats) starts from the frame r places further from
    its centre than the nearest one: set 0 from the nearest, the sets from different
    equilibrated structures, the farthest frame when there are fewer than r + 1;
    frames of another system are skipped."""
    from ase import Atoms

    from mlpmf.dynamics import UmbrellaBias
    from mlpmf.placement import nearest_positions

    lengths = [1.0, 1.35, 1.2, 1.6]
    frames = [Atoms("H2", positions=[[0, 0, 0], [0, 0, d]]) for d in lengths]
    frames.insert(1, Atoms("He2", positions=[[0, 0, 0], [0, 0, 1.25]]))  # another system
    cv = Distance((0, 1))
    biases = [UmbrellaBias(cv, 1.25, 100.0)] * 4 + [UmbrellaBias(cv, 0.9, 100.0)]
    reference = frames[0].positions + 5.0
    starts = nearest_positions(biases, reference, frames[0].numbers, frames, [0, 1, 2, 9, 1])
    picked = [float(cv.value(p)) for p in starts]
    assert picked == pytest.approx([1.2, 1.35, 1.0, 1.6, 1.2])
    alone = nearest_positions(biases, reference, frames[0].numbers, frames)
    assert [float(cv.value(p)) for p in alone] == pytest.approx([1.2] * 4 + [1.0])
    nothing = nearest_positions(biases[:1], reference, np.array([8, 8]), frames, [1])
    np.testing.assert_allclose(nothing[0], reference)
    with pytest.raises(ValueError, match="2 ranks for 1 biases"):
        nearest_positions(biases[:1], reference, frames[0].numbers, frames, [0, 1])


def test_sets_of_windows_start_in_distinct_slow_states_within_kt_of_the_centre():
    """With kT given, set 1 starts from the frame within kT of the window's lowest bias
    that differs most in structure (a hidden coordinate in its other basin), not from the
    next-nearest frame of the same basin; a frame of the other basin outside kT is never
    taken; without kT, the (r+1)-th nearest as before."""
    from ase import Atoms

    from mlpmf.dynamics import UmbrellaBias
    from mlpmf.placement import nearest_positions

    def frame(cv_value, hidden):  # atoms 0-1 carry the CV, 2-3 a slow hidden bond
        return Atoms("H4", positions=[[0, 0, 0], [0, 0, cv_value], [5, 0, 0], [5, 0, hidden]])

    cv = Distance((0, 1))
    kappa = 100.0  # kJ/mol/A^2: kT (2.49 kJ/mol) spans |d - c| < 0.22 A
    frames = [frame(1.20, 1.0), frame(1.21, 1.02), frame(1.22, 0.98), frame(1.35, 2.0)]
    frames.append(frame(1.60, 2.5))  # the other basin's farthest, but 8 kT up
    biases = [UmbrellaBias(cv, 1.2, kappa)] * 3
    kt = 2.494
    first = frames[0]
    starts = nearest_positions(biases, first.positions, first.numbers, frames, [0, 1, 2], kt)
    hidden = [float(np.linalg.norm(p[3] - p[2])) for p in starts]
    assert hidden == pytest.approx([1.0, 2.0, 0.98])  # nearest, other basin, then farthest left
    assert [float(cv.value(p)) for p in starts] == pytest.approx([1.20, 1.35, 1.22])
    plain = nearest_positions(biases, frames[0].positions, frames[0].numbers, frames, [0, 1, 2])
    assert [float(cv.value(p)) for p in plain] == pytest.approx([1.20, 1.21, 1.22])
