"""The error budget (mlpmf.errorbudget): the oracle checks calibrate the committee's
band so that the total covers the oracle's answer at the stated confidence, and the
parts of a rate's error combine in ln k."""

import numpy as np
import pytest

from mlpmf.errorbudget import (
    CONFIDENCE,
    MIN_BINS,
    Z,
    barrier_interval,
    calibration_of_table,
    model_calibration,
    rate_interval,
    rate_z_score,
)


def test_the_stated_confidence_is_the_normal_quantile_of_z():
    from scipy.stats import norm

    assert norm.cdf(Z) - norm.cdf(-Z) == pytest.approx(CONFIDENCE, abs=1e-12)


def test_the_calibration_measures_the_corrections_scatter_beyond_its_noise():
    """400 bins: the oracle correction scatters by 1.0 kJ/mol (plus its own noise 0.3,
    which it states) where the members spread by 0.5: the factor is 2 within three of
    its standard errors (the variance of 400 draws: 7%, the factor's 3.5%)."""
    rng = np.random.default_rng(3)
    bins = 400
    noise = np.full(bins, 0.3)
    correction = 5.0 + rng.normal(0, 1.0, bins) + rng.normal(0, 0.3, bins)  # any offset
    calibration = model_calibration(correction, noise, np.full(bins, 0.5))
    assert calibration.scale == pytest.approx(2.0, rel=0.11)
    assert calibration.measured_rms_kj_mol == pytest.approx(1.0, rel=0.11)
    assert calibration.noise_rms_kj_mol == pytest.approx(0.3)
    assert calibration.bins == bins


def test_a_committee_that_overstates_its_error_is_not_narrowed():
    rng = np.random.default_rng(4)
    correction = rng.normal(0, 0.2, 100)
    calibration = model_calibration(correction, np.full(100, 0.2), np.full(100, 1.0))
    assert calibration.scale == 1.0


def test_bins_with_few_labelled_frames_or_unknown_values_are_left_out():
    correction = np.array([0.0, 10.0, np.nan, 0.1, -0.1, 0.05])
    rows = np.array([50, 2, 50, 50, 50, 50])  # the 10 kJ/mol outlier rests on 2 frames
    calibration = model_calibration(correction, np.full(6, 0.05), np.full(6, 0.1), rows)
    assert calibration.bins == 4 and calibration.scale < 1.5
    assert model_calibration(correction[: MIN_BINS - 1], np.ones(2), np.ones(2)) is None
    assert model_calibration(np.zeros(5), np.ones(5), np.zeros(5)) is None  # one member
    assert calibration_of_table({"oracle_correction_kj_mol": correction}) is None


def smooth_error(rng, cv, amplitude):
    """A model error that varies smoothly along the CV (a few random Fourier terms)."""
    error = sum(
        rng.normal() * np.sin(k * np.pi * cv + rng.uniform(0, 2 * np.pi)) for k in range(1, 5)
    )
    return amplitude * error / np.sqrt(4 / 2)


def test_the_calibrated_band_covers_the_oracles_pmf_at_the_stated_confidence():
    """300 synthetic committee studies: the committee's PMF is the oracle's plus a smooth
    model error (1 kJ/mol RMS) plus statistical noise (0.3, stated); its members spread by
    only 0.25 kJ/mol. The oracle checks see the model error with their own noise (0.2,
    stated). The members' band leaves half the bins uncovered; calibrated by the checks,
    the total band covers the oracle's PMF in at least 95% of bins (less 2 points: the
    bins of one study are correlated, so 300 studies pin the mean to about 1 point)."""
    rng = np.random.default_rng(11)
    cv = np.linspace(0, 1, 40)
    statistical, spread, noise = 0.3, np.full(len(cv), 0.25), np.full(len(cv), 0.2)
    covered, covered_by_spread = [], []
    for _ in range(300):
        error = smooth_error(rng, cv, 1.0)
        committee = error + rng.normal(0, statistical, len(cv))  # the oracle's PMF is 0
        correction = -error + rng.normal(0, 0.2, len(cv))
        calibration = model_calibration(correction, noise, spread)
        for band, out in ((calibration.scale * spread, covered), (spread, covered_by_spread)):
            total = np.hypot(statistical, band)
            weight = 1 / total**2
            shifted = committee - np.sum(weight * committee) / np.sum(weight)
            out.append(np.mean(np.abs(shifted) <= Z * total))
    assert CONFIDENCE - 0.02 <= np.mean(covered) <= 0.99  # measured: 0.975
    assert np.mean(covered_by_spread) < 0.7


def test_the_rates_parts_add_in_quadrature_in_ln_k():
    budget = rate_interval(1e5, {"statistical": 0.3, "model": 0.4, "recrossing": None})
    assert budget["log_rate_uncertainty"]["total"] == pytest.approx(0.5)
    low, high = budget["rate_constant_total_interval_per_s"]
    assert np.sqrt(low * high) == pytest.approx(1e5)
    assert np.log(high / low) == pytest.approx(2 * Z * 0.5)
    assert budget["log_rate_uncertainty"]["recrossing"] is None
    interval = barrier_interval(20.0, 0.6, 0.8)
    assert interval["barrier_total_uncertainty_kj_mol"] == pytest.approx(1.0)
    assert interval["barrier_total_interval_kj_mol"] == pytest.approx([20 - Z, 20 + Z])
    assert barrier_interval(20.0, 0.6, None)["barrier_total_uncertainty_kj_mol"] == 0.6
    assert rate_z_score(np.e, 0.6, 1.0, 0.8) == pytest.approx(1.0)


def test_the_front_page_states_the_budget_and_where_the_model_part_comes_from():
    from mlpmf.report import budget_headline

    rates = {
        "confidence": 0.95,
        "barrier_total_interval_kj_mol": [18.0, 22.0],
        "rate_constant_total_interval_per_s": [1e5, 1e7],
        "log_rate_uncertainty": {"statistical": 0.5, "model": 0.9, "recrossing": None},
        "barrier_model_uncertainty_kj_mol": 1.2,
        "model_calibration": {"scale": 1.8, "measured_rms_kj_mol": 0.9, "bins": 40,
                              "spread_rms_kj_mol": 0.5},
        "reference_pmf": {"barrier_kj_mol": 21.0, "barrier_uncertainty_kj_mol": 0.5,
                          "barrier_z": -0.9, "tst_rate_constant_per_s": 2e5,
                          "tst_rate_z": 1.1, "covered": True},
    }  # fmt: skip
    budget, reference = budget_headline(rates)
    assert "barrier 18.0 to 22.0 kJ/mol" in budget and "1e+05 to 1e+07 1/s" in budget
    assert "statistical x/ 1.65" in budget and "x/ 2.46 from the members' spread x 1.80" in budget
    assert "recrossing not measured" in budget
    assert "0.9 combined standard deviations" in reference and "within the 95%" in reference
    rates.pop("reference_pmf")
    rates["model_calibration"] = None
    assert "uncalibrated" in budget_headline(rates)[0]
    del rates["barrier_model_uncertainty_kj_mol"]
    rates["log_rate_uncertainty"].update(model=None, recrossing=0.1)
    (oracle_driven,) = budget_headline(rates)
    assert "model none (the oracle drove" in oracle_driven and "x/ 1.11 (kappa's" in oracle_driven
    assert budget_headline({"barrier_kj_mol": 3.0}) == []
