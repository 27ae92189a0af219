import numpy as np
import pytest

from mlpmf.rates import barrier_and_rate
from mlpmf.units import kt_kj_mol

AVOGADRO = 6.02214076e23
AMU_KG = 1.66053906660e-27


def test_tst_rate_of_a_harmonic_well_is_attempt_frequency_times_boltzmann_factor():
    """Harmonic reactant well, cusp barrier: k_TST = omega / (2 pi) exp(-dF/kT)."""
    temperature = 300.0
    kappa = 200.0  # kJ/mol/Å^2
    mass = 40.0  # amu
    x = np.linspace(-2.0, 2.0, 40001)
    pmf = 0.5 * kappa * (np.abs(x) - 1.0) ** 2  # wells at -1 and 1, cusp at 0
    result = barrier_and_rate(x, pmf, np.zeros_like(x), temperature, [-1.5, -0.5], [0.5, 1.5], mass)
    barrier = 0.5 * kappa
    omega = np.sqrt(kappa * 1e3 / AVOGADRO / 1e-20 / (mass * AMU_KG))  # 1/s
    expected = omega / (2 * np.pi) * np.exp(-barrier / kt_kj_mol(temperature))
    assert result["barrier_kj_mol"] == pytest.approx(barrier, rel=1e-6)
    assert result["transition_state_cv"] == pytest.approx(0.0, abs=1e-3)
    assert result["rate_constant_per_s"] == pytest.approx(expected, rel=1e-3)


def test_barrier_uncertainty_combines_both_points():
    x = np.linspace(0.0, 3.0, 31)
    pmf = 10.0 * np.sin(np.pi * x / 2.0) ** 2
    error = np.full_like(x, 0.3)
    result = barrier_and_rate(x, pmf, error, 300.0, [-0.1, 0.5], [1.5, 2.5], 10.0)
    assert result["barrier_kj_mol"] == pytest.approx(10.0, abs=1e-9)
    assert result["barrier_uncertainty_kj_mol"] == pytest.approx(0.3 * np.sqrt(2))
    assert result["reaction_free_energy_kj_mol"] == pytest.approx(0.0, abs=1e-9)


def test_interval_without_data_is_named():
    x = np.linspace(0.0, 1.0, 11)
    pmf = np.where(x < 0.5, np.nan, x)
    with pytest.raises(ValueError, match="rates.reactant"):
        barrier_and_rate(x, pmf, np.zeros_like(x), 300.0, [0.0, 0.3], [0.8, 1.0], 1.0)
