import numpy as np
import pytest

from mlpmf.rates import Profile, barrier_and_rate
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
    result = barrier_and_rate(
        Profile(x, pmf, np.zeros_like(x)), temperature, [-1.5, -0.5], [0.5, 1.5], mass
    )
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
    result = barrier_and_rate(Profile(x, pmf, error), 300.0, [-0.1, 0.5], [1.5, 2.5], 10.0)
    assert result["barrier_kj_mol"] == pytest.approx(10.0, abs=1e-9)
    assert result["barrier_uncertainty_kj_mol"] == pytest.approx(0.3 * np.sqrt(2))
    assert result["reaction_free_energy_kj_mol"] == pytest.approx(0.0, abs=1e-9)


def test_interval_without_data_is_named():
    x = np.linspace(0.0, 1.0, 11)
    pmf = np.where(x < 0.5, np.nan, x)
    with pytest.raises(ValueError, match="rates.reactant"):
        barrier_and_rate(Profile(x, pmf, np.zeros_like(x)), 300.0, [0.0, 0.3], [0.8, 1.0], 1.0)


def test_kramers_transmission_limits():
    from mlpmf.tst import kramers_transmission

    curvature, mass = 100.0, 20.0  # kJ/mol/Å^2, amu
    omega_per_s = np.sqrt(curvature * 1e3 / AVOGADRO / 1e-20 / (mass * AMU_KG))
    omega_per_fs = omega_per_s * 1e-15
    assert kramers_transmission(1e-9, curvature, mass) == pytest.approx(1.0, abs=1e-6)
    assert kramers_transmission(2 * omega_per_fs, curvature, mass) == pytest.approx(
        np.sqrt(2) - 1, rel=1e-6
    )
    # strong friction: kappa -> omega_b / gamma
    assert kramers_transmission(100 * omega_per_fs, curvature, mass) == pytest.approx(
        0.01, rel=1e-3
    )


def test_barrier_curvature_of_a_parabolic_top_and_kramers_rate():
    x = np.linspace(-2.0, 2.0, 401)
    pmf = np.where(np.abs(x) < 0.5, 30.0 - 0.5 * 80.0 * x**2, 0.5 * 80.0 * (np.abs(x) - 1.0) ** 2)
    result = barrier_and_rate(
        Profile(x, pmf, np.zeros_like(x)),
        300.0,
        [-1.5, -0.6],
        [0.6, 1.5],
        12.0,
        friction_per_fs=0.01,
    )
    assert result["barrier_curvature_kj_mol"] == pytest.approx(80.0, rel=1e-3)
    assert 0 < result["kramers_transmission"] < 1
    assert result["kramers_rate_constant_per_s"] == pytest.approx(
        result["kramers_transmission"] * result["rate_constant_per_s"]
    )


def test_bootstrap_replicas_give_barrier_and_rate_errors():
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 3.0, 61)
    pmf = 10.0 * np.sin(np.pi * x / 2.0) ** 2
    replicas = pmf * (1.0 + 0.05 * rng.normal(size=(200, 1)))  # barrier error 0.5 kJ/mol
    result = barrier_and_rate(
        Profile(x, pmf, np.full_like(x, 0.5), replicas), 300.0, [0.0, 0.5], [1.5, 2.5], 10.0
    )
    assert "bootstrap" in result["uncertainty_method"]
    assert result["barrier_uncertainty_kj_mol"] == pytest.approx(0.5, rel=0.15)
    low, high = result["rate_constant_interval_per_s"]
    assert low < result["rate_constant_per_s"] < high


def test_periodic_path_barriers_find_both_ways_round_the_circle():
    """A symmetric torsion profile 12.5 cos(phi) + 9.14 cos(2 phi), with skew minima at
    +-110 deg, a trans barrier of 8 and a cis barrier of 33 kJ/mol: from +phi to -phi
    one path crosses 0, the other 180, and each reports its own barrier."""
    from mlpmf.rates import periodic_path_barriers

    phi = np.arange(-177.5, 180.0, 5.0)
    radians = np.radians(phi)
    free = 12.5 * np.cos(radians) + 9.14 * np.cos(2 * radians)
    free = free - free.min()
    paths = periodic_path_barriers(phi, free, [60, 180], [-180, -60])
    tops = sorted(abs(p["transition_state_cv"]) for p in paths)
    assert tops[0] == pytest.approx(2.5, abs=2.6)  # cis, at the bin next to 0
    assert tops[1] == pytest.approx(177.5, abs=2.6)  # trans, at the bin next to 180
    heights = {round(abs(p["transition_state_cv"])) < 90: p["barrier_kj_mol"] for p in paths}
    start = free[(phi >= 60)].min()
    assert heights[True] == pytest.approx(free[np.abs(phi) < 5].max() - start)
    assert heights[False] == pytest.approx(free[np.abs(phi) > 175].max() - start)


def test_periodic_paths_are_parallel_channels_with_their_own_tst_rates():
    """Each way round the circle is a channel: its TST rate is the flux over its own top
    divided by the reactant basin's weight, the basin being the arc between the two
    tops (here it wraps round +-180 deg when the reactant sits at trans). Checked
    against the integrals done by quadrature on the analytic profile."""
    from scipy.integrate import quad

    from mlpmf.rates import periodic_path_barriers
    from mlpmf.units import ase_rate_to_per_s, kt_ev

    temperature, mass = 300.0, 2.0e-3  # K; amu Å^2 per deg^2
    kt = kt_kj_mol(temperature)

    def profile(phi):  # skew minima at +-110, trans top 8, cis top 33 kJ/mol
        radians = np.radians(phi)
        return 12.5 * np.cos(radians) + 9.14 * np.cos(2 * radians)

    width = 0.05
    phi = np.arange(-180 + width / 2, 180, width)
    free = profile(phi) - profile(phi).min()
    shift = profile(phi).min()
    paths = periodic_path_barriers(phi, free, [60, 175], [-175, -60], None, temperature, mass)
    cis, trans = sorted(paths, key=lambda p: abs(p["transition_state_cv"]))
    basin = quad(lambda x: np.exp(-(profile(x) - shift) / kt), 0.0, 180.0)[0]
    velocity = np.sqrt(kt_ev(temperature) / (2 * np.pi * mass))
    for path, top in ((cis, 0.0), (trans, 180.0)):
        expected = ase_rate_to_per_s(velocity * np.exp(-(profile(top) - shift) / kt) / basin)
        assert path["rate_constant_per_s"] == pytest.approx(expected, rel=2e-3)
    assert trans["rate_constant_per_s"] / cis["rate_constant_per_s"] == pytest.approx(
        np.exp((cis["barrier_kj_mol"] - trans["barrier_kj_mol"]) / kt), rel=1e-9
    )
    # a reactant at trans: its basin wraps round the period boundary
    flipped = profile(phi + 180.0)
    flipped = flipped - flipped.min()
    around = periodic_path_barriers(phi, flipped, [-80, -20], [20, 80], None, temperature, mass)
    wrapped = quad(lambda x: np.exp(-(profile(x + 180.0) - shift) / kt), -180.0, 0.0)[0]
    top = max(around, key=lambda p: p["barrier_kj_mol"])  # over the cis top, now at 180
    expected = ase_rate_to_per_s(velocity * np.exp(-(profile(0.0) - shift) / kt) / wrapped)
    assert top["rate_constant_per_s"] == pytest.approx(expected, rel=2e-3)


def test_periodic_path_rates_carry_bootstrap_errors():
    from mlpmf.rates import periodic_path_barriers

    rng = np.random.default_rng(1)
    phi = np.arange(-177.5, 180.0, 5.0)
    free = 12.5 * np.cos(np.radians(phi)) + 9.14 * np.cos(2 * np.radians(phi))
    free -= free.min()
    replicas = free * (1.0 + 0.03 * rng.normal(size=(300, 1)))  # 3% on every barrier
    paths = periodic_path_barriers(phi, free, [60, 180], [-180, -60], replicas, 300.0, 1e-3)
    for path in paths:
        error = path["barrier_uncertainty_kj_mol"]
        assert error == pytest.approx(0.03 * path["barrier_kj_mol"], rel=0.15)
        low, high = path["rate_constant_interval_per_s"]
        assert low < path["rate_constant_per_s"] < high


def test_compare_profiles_ignores_a_constant_shift_and_counts_only_common_bins():
    from mlpmf.diagnostics import compare_profiles

    cv = np.linspace(0, 1, 11)
    profile = np.sin(3 * cv)
    shifted = profile + 7.0
    shifted[3] = np.nan
    result = compare_profiles(cv, shifted, np.full(11, 0.1), cv, profile)
    assert result["bins_compared"] == 10
    assert result["rms_difference_kj_mol"] == pytest.approx(0.0, abs=1e-12)
    bumped = profile.copy()
    bumped[5] += 1.0
    result = compare_profiles(cv, bumped, np.full(11, 0.5), cv, profile)
    assert result["max_abs_difference_kj_mol"] == pytest.approx(1.0 - 1.0 / 11)


def test_compare_profiles_restricted_to_low_bins_and_its_noise_floor():
    """Only bins where the reference is below the level count; two profiles that differ
    by draws of their own errors show an RMS near the expected floor and chi2 near 1."""
    from mlpmf.diagnostics import compare_profiles

    cv = np.linspace(-180, 180, 73)
    reference = 20.0 * (1 - np.cos(np.radians(cv)))  # 0 ... 40 kJ/mol
    wrong_on_top = reference + np.where(reference > 30, 5.0, 0.0)
    high = compare_profiles(cv, wrong_on_top, np.full(73, 0.1), cv, reference)
    low = compare_profiles(
        cv, wrong_on_top, np.full(73, 0.1), cv, reference, reference_below_kj_mol=30.0
    )
    assert low["bins_compared"] == np.count_nonzero(reference < 30.0) < high["bins_compared"]
    assert high["rms_difference_kj_mol"] > 1.0
    assert low["rms_difference_kj_mol"] == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(3)
    errors, reference_errors = np.full(73, 0.6), np.full(73, 0.8)
    noisy = reference + rng.normal(0, errors) + rng.normal(0, reference_errors)
    result = compare_profiles(cv, noisy, errors, cv, reference, reference_errors)
    assert result["expected_rms_kj_mol"] == pytest.approx(1.0)
    # 73 bins: the RMS of 73 unit-variance draws is within ~0.1 of 1 (1 sigma ~ 1/sqrt(146))
    assert result["rms_difference_kj_mol"] == pytest.approx(1.0, abs=0.25)
    assert result["chi2_per_bin"] == pytest.approx(1.0, abs=0.5)


def test_compare_profiles_counts_the_model_spread_into_the_coverage():
    """A committee PMF off the reference by model error (1 kJ/mol per bin, 10x its
    statistical error) fails two-sigma coverage on statistical bars and passes once the
    model's spread (the right size) is added; the total-to-statistical ratio is ~10."""
    from mlpmf.diagnostics import compare_profiles

    rng = np.random.default_rng(3)
    cv = np.linspace(0, 1, 400)
    reference = np.sin(3 * cv)
    committee = reference + rng.normal(0, 1.0, cv.size) + rng.normal(0, 0.1, cv.size)
    statistical = np.full(cv.size, 0.1)
    result = compare_profiles(
        cv, committee, statistical, cv, reference, model_uncertainty_kj_mol=np.full(cv.size, 1.0)
    )
    assert result["within_two_sigma_fraction"] < 0.3
    assert 0.9 < result["within_two_sigma_with_model_fraction"] < 0.99  # 95% expected
    # at the stated 95%: 400 bins pin the share to about 1 point
    assert result["covered_fraction"] == pytest.approx(0.95, abs=0.035)
    assert result["confidence"] == 0.95
    assert result["chi2_per_bin_with_model"] == pytest.approx(1.0, abs=0.2)
    assert result["total_to_statistical_uncertainty_median"] == pytest.approx(
        np.hypot(1, 0.1) / 0.1
    )


def skew_torsion(phi):
    """Skew minima at +-110 deg, a trans top of 8 and a cis top of 33 kJ/mol."""
    radians = np.radians(phi)
    free = 12.5 * np.cos(radians) + 9.14 * np.cos(2 * radians)
    return free - free.min()


def test_on_a_periodic_cv_the_headline_is_the_dominant_path_and_the_total_rate():
    """Basins joined both ways round: the headline barrier is the lower way's (trans),
    not the one between the basins' bins (cis), and the rate sums both channels, each
    carrying its own barrier and Kramers factor at the friction asked for."""
    from mlpmf.rates import periodic_path_barriers

    phi = np.arange(-179.5, 180.0, 1.0)
    free = skew_torsion(phi)
    mass = 2.0e-3
    rates = barrier_and_rate(
        Profile(phi, free, np.zeros_like(phi), None, 360.0),
        300.0,
        [60, 175],
        [-175, -60],
        mass,
        friction_per_fs=0.01,
    )
    paths = periodic_path_barriers(phi, free, [60, 175], [-175, -60], None, 300.0, mass)
    trans = min(paths, key=lambda path: path["barrier_kj_mol"])
    assert rates["barrier_kj_mol"] == pytest.approx(trans["barrier_kj_mol"])
    assert abs(rates["transition_state_cv"]) > 170
    assert rates["paths"][rates["dominant_path"]]["transition_state_cv"] == pytest.approx(
        rates["transition_state_cv"]
    )
    assert rates["rate_constant_per_s"] == pytest.approx(
        sum(p["rate_constant_per_s"] for p in paths)
    )
    assert rates["kramers_friction_per_fs"] == 0.01
    for path in rates["paths"]:
        assert 0 < path["kramers_transmission"] < 1
    assert rates["kramers_rate_constant_per_s"] == pytest.approx(
        sum(p["kramers_transmission"] * p["rate_constant_per_s"] for p in rates["paths"])
    )


def test_periodic_headline_errors_come_from_the_same_path_in_every_replica():
    rng = np.random.default_rng(2)
    phi = np.arange(-177.5, 180.0, 5.0)
    free = skew_torsion(phi)
    replicas = free * (1.0 + 0.03 * rng.normal(size=(300, 1)))
    rates = barrier_and_rate(
        Profile(phi, free, np.zeros_like(phi), replicas, 360.0), 300.0, [60, 180], [-180, -60], 1e-3
    )
    dominant = rates["paths"][rates["dominant_path"]]
    assert rates["barrier_uncertainty_kj_mol"] == dominant["barrier_uncertainty_kj_mol"]
    assert dominant["barrier_uncertainty_kj_mol"] == pytest.approx(
        0.03 * dominant["barrier_kj_mol"], rel=0.15
    )
    low, high = rates["rate_constant_interval_per_s"]
    assert low < rates["rate_constant_per_s"] < high


def test_the_transmission_coefficient_names_its_friction_and_corrects_its_own_path():
    from mlpmf.transmission import with_transmission

    phi = np.arange(-179.5, 180.0, 1.0)
    rates = barrier_and_rate(
        Profile(phi, skew_torsion(phi), np.full_like(phi, 0.2), None, 360.0),
        300.0,
        [60, 175],
        [-175, -60],
        2e-3,
    )
    flux = {"kappa": 0.5, "kappa_uncertainty": 0.05, "friction_per_fs": 0.002}
    corrected = with_transmission(rates, flux)
    first = rates["dominant_path"]
    dominant, other = (rates["paths"][k]["rate_constant_per_s"] for k in (first, 1 - first))
    assert corrected["rate_constant_per_s"] == pytest.approx(0.5 * dominant + other)
    assert corrected["tst_rate_constant_per_s"] == rates["rate_constant_per_s"]
    assert corrected["kappa_friction_per_fs"] == 0.002
    x = np.linspace(0.0, 3.0, 301)
    line = barrier_and_rate(
        Profile(x, 10.0 * np.sin(np.pi * x / 2.0) ** 2, np.full_like(x, 0.2)),
        300.0,
        [0.0, 0.5],
        [1.5, 2.5],
        10.0,
    )
    assert with_transmission(line, flux)["rate_constant_per_s"] == pytest.approx(
        0.5 * line["rate_constant_per_s"]
    )
