import numpy as np
import pytest
from ase.data import atomic_masses, atomic_numbers

from mlpmf.colvars import (
    Distance,
    Position,
    effective_mass_amu,
    make_colvar,
    move_to_value,
    periodic_difference,
)

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
    "cv", [Distance((0, 3)), Distance((4, 1)), Position((2,), "x"), Position((0,), "z")]
)
def test_gradient_matches_finite_differences(cv):
    np.testing.assert_allclose(cv.gradient(POSITIONS), numeric_gradient(cv, POSITIONS), atol=1e-8)


@pytest.mark.parametrize("cv", [Distance((0, 3)), Position((2,), "y")])
def test_move_to_value_reaches_target(cv):
    moved = move_to_value(cv, POSITIONS, 1.234)
    assert cv.value(moved) == pytest.approx(1.234, abs=1e-9)


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


def test_factory_rejects_wrong_atom_count():
    with pytest.raises(ValueError, match="collective_variable.atoms"):
        make_colvar({"kind": "distance", "atoms": [0]})
