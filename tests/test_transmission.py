"""Reactive flux: the transmission coefficient kappa and kappa x k_TST against a rate
counted from long unbiased MD of the same dynamics.

The double-well dimer's PMF is exact (F(r) = V(r) - 2 kT ln r), so k_TST carries no
sampling error and the check is of kappa alone. Tolerance: 3 combined standard errors,
the counted rate's Poisson error (1/sqrt(transitions)) and kappa's bootstrap error.
"""

import numpy as np
import pytest
from ase import Atoms

from mlpmf.analytic import double_well_exact_pmf, double_well_force_field
from mlpmf.colvars import effective_mass_amu
from mlpmf.cvsettings import make_colvar
from mlpmf.dynamics import LangevinSettings, StepHooks, integrate
from mlpmf.rates import Profile, barrier_and_rate
from mlpmf.settings import TransmissionSettings
from mlpmf.transmission import (
    DividingSurface,
    counted_rate,
    reactive_flux,
    transmission_coefficient,
)

BARRIER_EV, R_MID, HALF_WIDTH, T = 0.08, 3.2, 0.45, 300.0


double_well = double_well_force_field(BARRIER_EV, R_MID, HALF_WIDTH)


def dimer(r):
    return Atoms("Ar2", positions=[[0.0, 0.0, 0.0], [r, 0.0, 0.0]])


def exact_tst():
    r = np.linspace(2.3, 4.1, 4001)
    pmf = double_well_exact_pmf(r, T, BARRIER_EV, R_MID, HALF_WIDTH)
    mass = effective_mass_amu(make_colvar({"kind": "distance", "atoms": [0, 1]}),
                              dimer(3.0).positions, dimer(3.0).get_masses())  # fmt: skip
    return barrier_and_rate(
        Profile(r, pmf, np.zeros_like(r)), T, [2.4, 3.0], [3.4, 4.0], mass
    ), mass


def md_rate(friction_per_fs, replicas, steps, timestep_fs=1.0):
    """The rate counted from unbiased Langevin MD started in the reactant well, each
    basin's core starting half a well width past the top."""
    distance = np.empty((replicas, steps))

    def observe(step, k, atoms, _results):
        distance[k, step - 1] = atoms.get_distance(0, 1)

    rngs = [np.random.default_rng(1000 + k) for k in range(replicas)]
    runs = [dimer(R_MID - HALF_WIDTH) for _ in range(replicas)]
    integrate(runs, LangevinSettings(T, timestep_fs, friction_per_fs), steps, rngs,
              [None] * replicas, double_well, StepHooks(observe))  # fmt: skip
    cores = [0.0, R_MID - 0.5 * HALF_WIDTH], [R_MID + 0.5 * HALF_WIDTH, 10.0]
    return counted_rate(distance[:, 1000:], *cores, timestep_fs)


def test_kappa_times_tst_matches_the_rate_counted_from_unbiased_md():
    friction = 0.1  # per fs: Kramers' moderate-friction regime, recrossings near the top
    tst, _ = exact_tst()
    surface = tst["transition_state_cv"]
    cv = make_colvar({"kind": "distance", "atoms": [0, 1]})
    settings = TransmissionSettings(enabled=True, shots=128, shot_length_fs=400.0,
                                    equilibration_steps=300)  # fmt: skip
    result = transmission_coefficient(
        [dimer(surface) for _ in range(settings.shots)], DividingSurface(cv, surface, 1.0, 8000.0),
        LangevinSettings(T, 1.0, 0.01), LangevinSettings(T, 1.0, friction),
        settings, np.random.default_rng(5), double_well,
    )  # fmt: skip
    kappa, kappa_error = result["kappa"], result["kappa_uncertainty"]
    assert result["kappa_t"][0] == pytest.approx(1.0, abs=1e-12)  # exactly 1, up to rounding
    assert 0.0 < kappa < 1.0 and 0.0 < kappa_error < 0.1
    rate, transitions = md_rate(friction, replicas=48, steps=40000)
    assert transitions > 50
    predicted = kappa * tst["rate_constant_per_s"]
    error = np.hypot(rate / np.sqrt(transitions), predicted * kappa_error / kappa)
    assert abs(rate - predicted) < 3.0 * error, (rate, predicted, error)
    # and TST alone overestimates it: recrossings are real at this friction
    assert tst["rate_constant_per_s"] - rate > 3.0 * error


def test_kappa_is_one_without_recrossings():
    """A free atom moving along x at constant energy never comes back: kappa(t) = 1."""

    def free(structures, _disagreement=True):
        return [{"forces": np.zeros((len(a), 3)), "energy": 0.0} for a in structures]

    cv = make_colvar({"kind": "position", "atoms": [0], "axis": "x"})
    settings = TransmissionSettings(enabled=True, shots=16, shot_length_fs=50.0,
                                    equilibration_steps=10)  # fmt: skip
    replicas = [Atoms("Ar", positions=[[0.3, 0.0, 0.0]]) for _ in range(settings.shots)]
    result = transmission_coefficient(
        replicas, DividingSurface(cv, 0.0, 1.0, 100.0), LangevinSettings(T, 1.0, 0.01),
        LangevinSettings(T, 1.0, 0.0), settings, np.random.default_rng(0), free,
    )  # fmt: skip
    np.testing.assert_allclose(result["kappa_t"], 1.0, atol=1e-12)
    assert result["kappa"] == pytest.approx(1.0, abs=1e-12)
    assert result["product_fraction_at_end"] == 0.5  # half the shots left each way


def test_reactive_flux_counts_a_recrossing_against_the_rate():
    """Two configurations: one crosses and commits (+flux, forward ends in the
    product), one crosses and comes back; kappa = committed flux / total flux. With the
    product on the other side, mirrored paths give the same kappa."""
    flux = np.array([1.0, 3.0])
    forward = np.array([[0.0, 0.2, 0.5], [0.0, 0.1, -0.4]])
    backward = np.array([[0.0, -0.2, -0.5], [0.0, -0.1, -0.3]])
    kappa = reactive_flux(flux, forward, backward, 0.0, 1.0).mean(axis=0)
    np.testing.assert_allclose(kappa, [1.0, 1.0, 0.25])
    mirrored = reactive_flux(-flux, -forward, -backward, 0.0, -1.0).mean(axis=0)
    np.testing.assert_allclose(mirrored, kappa)


def test_counted_rate_follows_the_last_core_visited():
    """Excursions that leave a core without reaching the other are no transitions."""
    series = [np.array([0.0, 0.5, 0.2, 0.9, 0.5, 0.1, 0.95, 0.3])]
    rate, transitions = counted_rate(series, [0.0, 0.2], [0.8, 1.0], 1.0)
    # states: R R R P P R P P: two R -> P changes in 4 steps belonging to R
    assert transitions == 2
    assert rate == pytest.approx(2 / 4e-15)
