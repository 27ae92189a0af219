"""The whole Snakemake workflow on the double_well_bond study, whose PMF is exact.

Accuracy bounds: with ~1000-2000 independent samples per window the MBAR standard
error is ~0.1 kT per bin, so 0.3 kT RMS (oracle) leaves a 3-sigma margin; the committee
adds its fitting error, bounded at 0.5 kT RMS.
"""

import json

import numpy as np
import pandas as pd
import pytest
from ase import Atoms

from mlpmf.analytic import double_well_exact_pmf
from mlpmf.rates import Profile, barrier_and_rate
from mlpmf.units import ev_to_kj_mol, kt_kj_mol
from tests.workflow_helpers import double_well_study, run_snakemake

pytestmark = pytest.mark.workflow
KT = kt_kj_mol(300.0)


def exact_pmf(r):
    return double_well_exact_pmf(r, 300.0, 0.15, 3.2, 0.45)


def exact_barrier():
    r = np.linspace(2.5, 3.9, 140001)
    pmf = exact_pmf(r)
    start = np.argmin(np.where(r <= 3.0, pmf, np.inf))
    end = np.argmin(np.where(r >= 3.4, pmf, np.inf))
    return pmf[start:end].max() - pmf[start]


def rms_error_kt(table, column="free_energy_kj_mol"):
    error = table[column] - exact_pmf(table["cv"].to_numpy())
    return float(np.sqrt(np.mean((error - error.mean()) ** 2)) / KT)


def oracle_study_config():
    """The double-well study, recording its own CV as an unbiased observable too, with
    the reactive-flux transmission coefficient."""
    config = double_well_study()
    bins = config["free_energy"]["bins"]
    config["observables"] = {"bond": {"kind": "distance", "atoms": [0, 1], "bins": bins}}
    config["transmission"] = {"enabled": True, "shots": 48, "shot_length_fs": 400.0}
    return config


@pytest.fixture(scope="module")
def oracle_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("oracle")
    result = run_snakemake(workdir, oracle_study_config())
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir / "results" / "double_well_bond", result


def test_oracle_study_writes_every_output(oracle_study):
    results, run = oracle_study
    windows = pd.read_csv(results / "umbrella/windows.csv")
    assert list(windows.columns) == ["window", "center", "spring_constant"]
    assert len(windows) == 17
    for k in windows["window"]:
        series = pd.read_csv(results / f"umbrella/window_{k:03d}.csv")
        assert len(series) == 20000
    for name in ("pmf_wham.csv", "pmf_mbar.csv"):
        table = pd.read_csv(results / "free_energy" / name)
        columns = ["cv", "free_energy_kj_mol", "uncertainty_kj_mol", "trusted"]
        assert list(table.columns) == columns
        assert table["trusted"].all()  # the oracle drives the windows
    # the oracle is the reference itself: no model band (no member PMFs, no model spread)
    assert np.load(results / "free_energy/pmf_mbar_members.npy").size == 0
    rates = json.loads((results / "free_energy/rates.json").read_text())
    for key in (
        "temperature_k",
        "barrier_kj_mol",
        "barrier_uncertainty_kj_mol",
        "rate_constant_per_s",
        "method",
    ):
        assert key in rates
    assert "barrier_model_uncertainty_kj_mol" not in rates
    diagnostics = json.loads((results / "free_energy/diagnostics.json").read_text())
    assert diagnostics["minimum_neighbour_overlap"] > 0.03
    assert diagnostics["warnings"] == []
    for plot in ("pmf.png", "window_histograms.png", "diagnostics.png"):
        assert (results / "plots" / plot).stat().st_size > 10_000
    assert "free_energy/pmf_mbar.csv" in run.stdout


def test_oracle_pmf_and_barrier_match_exact(oracle_study):
    results, _ = oracle_study
    for estimator in ("mbar", "wham"):
        table = pd.read_csv(results / f"free_energy/pmf_{estimator}.csv")
        assert rms_error_kt(table) < 0.3
    rates = json.loads((results / "free_energy/rates.json").read_text())
    assert abs(rates["barrier_kj_mol"] - exact_barrier()) < 1.0
    assert 0.0 < rates["barrier_uncertainty_kj_mol"] < 1.0
    assert rates["transition_state_cv"] == pytest.approx(3.2, abs=0.06)


def test_reweighting_the_cv_itself_reproduces_the_mbar_pmf(oracle_study):
    results, _ = oracle_study
    mbar_pmf = pd.read_csv(results / "free_energy/pmf_mbar.csv")
    reweighted = pd.read_csv(results / "free_energy/pmf_observable_bond.csv")
    np.testing.assert_allclose(reweighted["observable"], mbar_pmf["cv"])
    np.testing.assert_allclose(
        reweighted["free_energy_kj_mol"], mbar_pmf["free_energy_kj_mol"], atol=1e-3 * KT
    )
    two_d = pd.read_csv(results / "free_energy/pmf2d_bond.csv")
    off_diagonal = ~np.isclose(two_d["cv"], two_d["observable"])
    assert two_d["free_energy_kj_mol"][off_diagonal].isna().all()
    assert (results / "plots/pmf2d_bond.png").exists()


def test_oracle_rate_matches_exact_transition_state_theory(oracle_study):
    results, _ = oracle_study
    rates = json.loads((results / "free_energy/rates.json").read_text())
    r = np.linspace(2.45, 3.95, 150001)
    reduced_mass = 39.948 / 2
    exact = barrier_and_rate(
        Profile(r, exact_pmf(r), np.zeros_like(r)), 300.0, [2.5, 3.0], [3.4, 3.9], reduced_mass
    )
    assert rates["effective_mass_amu"] == pytest.approx(reduced_mass, rel=1e-3)
    deviation = abs(rates["tst_rate_constant_per_s"] - exact["rate_constant_per_s"])
    assert deviation < 2 * rates["tst_rate_constant_uncertainty_per_s"]
    assert 0 < rates["kramers_transmission"] < 1


def test_reactive_flux_transmission_multiplies_the_tst_rate(oracle_study):
    """kappa from shots off the barrier top: below 1 (the dimer recrosses), and at this
    low friction (0.01/fs, near the energy-diffusion turnover) no higher than Kramers'
    spatial-diffusion value, which neglects the slow energy exchange that makes
    trajectories come back."""
    results, _ = oracle_study
    rates = json.loads((results / "free_energy/rates.json").read_text())
    flux = json.loads((results / "free_energy/transmission.json").read_text())
    kappa, error = rates["kappa"], rates["kappa_uncertainty"]
    assert (kappa, error) == (flux["kappa"], flux["kappa_uncertainty"])
    assert flux["dividing_surface_cv"] == rates["transition_state_cv"]
    assert flux["kappa_t"][0] == pytest.approx(1.0, abs=1e-12) and 0.0 < error < 0.1
    assert 0.3 < kappa < 1.0 - 2 * error
    assert kappa < rates["kramers_transmission"] + 3 * error
    assert rates["rate_constant_per_s"] == pytest.approx(kappa * rates["tst_rate_constant_per_s"])
    low, high = rates["rate_constant_interval_per_s"]
    assert low < rates["rate_constant_per_s"] < high
    assert (results / "plots/transmission.png").stat().st_size > 10_000


def test_adaptive_windows_close_a_gap_and_match_the_evenly_dense_study(oracle_study, tmp_path):
    """Started with no window between 3.0 and 3.4 Å (no sample in common across the
    barrier), adaptive placement inserts windows there (a checkpoint per round) until
    every neighbour overlap passes; the PMF then agrees with the evenly dense study's
    within their combined errors (chi2 per bin below 2: 60 bins give chi2/bin a spread
    of ~0.2 for calibrated errors, neighbouring bins being correlated doubles it) and
    with the exact PMF as well as the dense study does. A rerun plans nothing."""
    config = double_well_study()
    centers = [2.4, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0, 3.4, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0]
    config["umbrella"].update(
        centers=centers, windows_per_job=7, adaptive={"enabled": True, "max_rounds": 3}
    )
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-4000:]
    results = tmp_path / "results" / "double_well_bond"
    windows = pd.read_csv(results / "umbrella/windows.csv")
    added = windows[windows["round"] > 0]
    assert len(added) >= 1 and added["center"].between(3.0, 3.4, inclusive="neither").all()
    assert added["reason"].str.contains("overlap").all()
    assert (windows["round"] == 0).sum() == len(centers)
    diagnostics = json.loads((results / "free_energy/diagnostics.json").read_text())
    assert diagnostics["minimum_neighbour_overlap"] >= 0.03
    assert not [w for w in diagnostics["warnings"] if "overlap" in w]
    adaptive = pd.read_csv(results / "free_energy/pmf_mbar.csv")
    dense = pd.read_csv(oracle_study[0] / "free_energy/pmf_mbar.csv")
    both = adaptive["free_energy_kj_mol"].notna() & dense["free_energy_kj_mol"].notna()
    difference = (adaptive["free_energy_kj_mol"] - dense["free_energy_kj_mol"])[both]
    variance = (adaptive["uncertainty_kj_mol"] ** 2 + dense["uncertainty_kj_mol"] ** 2)[both]
    chi2 = np.mean((difference - difference.mean()) ** 2 / variance)
    assert both.sum() >= 55 and chi2 < 2.0
    assert rms_error_kt(adaptive) < 0.3
    again = run_snakemake(tmp_path, config, "--dry-run")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_independent_sets_of_windows_add_to_the_first_and_test_its_error_bars(
    oracle_study, tmp_path
):
    """umbrella.repeats: 2 runs every centre twice (each half as long: the same cost);
    the first set keeps the seeds, jobs and so the trajectories of the study without
    repeats (as far as they go), the second differs. The two
    sets' PMFs agree within their errors (no motion the bond does not see: chi2 per bin
    ~1, below 2.5 for 60 correlated bins), so the pooled PMF's error bars stay the
    estimator's and it matches the exact PMF."""
    config = oracle_study_config()
    config["transmission"] = {"enabled": False}
    config["umbrella"].update(repeats=2, steps=config["umbrella"]["steps"] // 2)  # same cost
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-4000:]
    results = tmp_path / "results" / "double_well_bond"
    windows = pd.read_csv(results / "umbrella/windows.csv")
    single = len(pd.read_csv(oracle_study[0] / "umbrella/windows.csv"))
    assert len(windows) == 2 * single
    assert windows["repeat"].tolist() == [0] * single + [1] * single
    assert np.allclose(windows["center"][:single], windows["center"][single:])
    for k in (0, single - 1):
        first = pd.read_csv(results / f"umbrella/window_{k:03d}.csv")
        alone = pd.read_csv(oracle_study[0] / f"umbrella/window_{k:03d}.csv")
        twin = pd.read_csv(results / f"umbrella/window_{k + single:03d}.csv")
        assert first["cv"].equals(alone["cv"].iloc[: len(first)])  # the same trajectory
        assert not first["cv"].equals(twin["cv"])
    diagnostics = json.loads((results / "free_energy/diagnostics.json").read_text())
    assert diagnostics["repeats"] == 2 and diagnostics["repeats_chi2_per_bin"] < 2.5
    table = pd.read_csv(results / "free_energy/pmf_mbar.csv")
    scale = diagnostics["repeats_error_scale"]
    filled = table["uncertainty_kj_mol"].notna()
    assert np.allclose(
        table["uncertainty_kj_mol"][filled], scale * table["estimator_uncertainty_kj_mol"][filled]
    )
    assert rms_error_kt(table) < 0.3


def test_report_is_built(oracle_study, tmp_path):
    results, _ = oracle_study
    workdir = results.parents[1]
    report = workdir / "report.html"
    run = run_snakemake(workdir, oracle_study_config(), "--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    assert report.stat().st_size > 50_000
    rates = json.loads((results / "free_energy/rates.json").read_text())
    text = report.read_text()  # the front page, JSON-escaped
    assert f"barrier {rates['barrier_kj_mol']:.1f} \\u00b1" in text
    # the rate of the dynamics first, with the friction its kappa belongs to
    assert f"Rate constant {rates['rate_constant_per_s']:.3g} 1/s" in text
    assert f"at the shots' friction {rates['kappa_friction_per_fs']:g}/fs" in text


def test_committee_study_pmf_matches_exact(tmp_path):
    """The committee's PMF is the oracle's, although a softer double well (a third of
    the barrier, 4 kT lower) explores for the reference data: the oracle labels the
    explored frames, once each, and the ledger counts its calls. The oracle labels every
    10th recorded window frame too, and the PMF reweighted to it is the exact one."""
    config = double_well_study(potential="committee")
    config["umbrella"].update(steps=8000, windows_per_job=17, oracle_every=20)  # one job
    config["dataset"] = {"explorer": {"kind": "double_well_bond", "barrier_ev": 0.05}}
    config["active_learning"] = {"max_iterations": 0}  # the reference data alone
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-4000:]
    results = tmp_path / "results" / "double_well_bond"
    reference = json.loads((results / "dataset/oracle.json").read_text())
    assert reference["explorer"] == "double_well_bond"
    assert reference["oracle_calls"] == reference["frames_sampled"]  # one call per frame
    assert reference["explorer_calls"] > 10 * reference["oracle_calls"]  # MD ran on it
    ledger = json.loads((results / "oracle_ledger.json").read_text())
    assert ledger["oracle_calls"] == reference["oracle_calls"] + 17 * 400  # + window checks
    assert ledger["committee_md_steps"] == {"umbrella_windows": 17 * (8000 + 1000)}
    metrics = json.loads((results / "model/metrics.json").read_text())
    assert len(metrics["members"]) == 4
    assert metrics["force_rmse_over_reference_std"] < 0.1
    series = pd.read_csv(results / "umbrella/window_008.csv")
    assert series["max_force_disagreement_ev_a"].notna().all()
    labelled = np.flatnonzero(series["oracle_energy_offset_ev"].notna())
    np.testing.assert_array_equal(labelled, np.arange(9, len(series), 10))
    assert series["oracle_force_rmse_ev_a"].iloc[labelled].between(0, 0.3).all()  # eV/Å
    table = pd.read_csv(results / "free_energy/pmf_mbar.csv")
    assert rms_error_kt(table) < 0.5
    # the model's share of the error: each member's PMF by reweighting, their spread
    assert list(table.columns[:4]) == ["cv", "free_energy_kj_mol", "uncertainty_kj_mol", "trusted"]
    visited = table["free_energy_kj_mol"].notna()
    assert (table.loc[visited, "model_uncertainty_kj_mol"] >= 0).all()
    total = np.hypot(table["uncertainty_kj_mol"], table["model_uncertainty_kj_mol"])
    np.testing.assert_allclose(table["total_uncertainty_kj_mol"], total)
    # the committee's energy error in the windows is small: reweighting moves little
    assert rms_error_kt(table, "free_energy_oracle_kj_mol") < 0.5
    reweighted = table["free_energy_oracle_kj_mol"].notna()
    assert reweighted.sum() >= visited.sum() - 2  # an edge bin may hold no oracle row
    assert (table.loc[reweighted, "oracle_effective_samples"] >= 1).all()
    assert np.nanmax(table["oracle_correction_kj_mol"]) < 2 * KT
    rates = json.loads((results / "free_energy/rates.json").read_text())
    assert len(rates["member_barriers_kj_mol"]) == 4
    assert rates["barrier_total_uncertainty_kj_mol"] >= rates["barrier_uncertainty_kj_mol"]
    trust = json.loads((results / "free_energy/trust.json").read_text())
    assert trust["trusted"], trust  # trained on both basins: every window in its data


def test_any_ase_calculator_drives_an_oracle_study_with_replica_exchange(tmp_path):
    """ASE's own Lennard-Jones calculator as the oracle of an Ar dimer, windows in one
    job exchanging configurations: the PMF along the bond is V(r) - 2 kT ln r."""
    from ase.calculators.lj import LennardJones

    lj = {"sigma": 3.4, "epsilon": 0.03, "rc": 12.0}
    config = double_well_study(
        oracle={"kind": "ase", "calculator": "ase.calculators.lj:LennardJones", "parameters": lj},
        rates={"reactant": [3.6, 4.1], "product": [4.6, 4.95]},
    )
    config["umbrella"].update(centers={"start": 3.4, "stop": 5.0, "num": 9},
                              spring_constant_kj_mol=200.0, steps=8000, windows_per_job=9,
                              exchange_every=20)  # fmt: skip
    config["free_energy"]["bins"] = {"start": 3.45, "stop": 4.95, "num": 30}
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-4000:]
    results = tmp_path / "results" / "double_well_bond"
    log = (tmp_path / "logs/umbrella_window/double_well_bond/000.log").read_text()
    assert "exchange 3.4 <-> 3.6:" in log  # the windows of the job did exchange
    table = pd.read_csv(results / "free_energy/pmf_mbar.csv")
    calculator = LennardJones(**lj)
    potential = []
    for r in table["cv"]:
        dimer = Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]])
        dimer.calc = calculator
        potential.append(dimer.get_potential_energy())
    exact = ev_to_kj_mol(np.array(potential)) - 2 * KT * np.log(table["cv"])
    error = table["free_energy_kj_mol"] - exact
    assert np.sqrt(np.mean((error - error.mean()) ** 2)) < 0.3 * KT


def test_external_ase_calculators_drive_the_windows_as_a_committee(tmp_path):
    """potential: ase with two Lennard-Jones calculators (epsilon 4% apart): the windows
    run on their mean, whose PMF is exact, and record their force disagreement, which
    for a dimer is |F_1(r) - F_2(r)| on each atom."""
    from ase.calculators.lj import LennardJones

    members = [{"sigma": 3.4, "epsilon": eps, "rc": 12.0} for eps in (0.03, 0.0312)]
    config = double_well_study(
        potential="ase",
        external_potential=[
            {"calculator": "ase.calculators.lj:LennardJones", "parameters": p} for p in members
        ],
        rates={"reactant": [3.6, 4.1], "product": [4.6, 4.95]},
    )
    config["umbrella"].update(
        centers={"start": 3.4, "stop": 5.0, "num": 9}, spring_constant_kj_mol=200.0, steps=8000,
        windows_per_job=9,
    )  # fmt: skip
    config["free_energy"]["bins"] = {"start": 3.45, "stop": 4.95, "num": 30}
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-4000:]
    results = tmp_path / "results" / "double_well_bond"
    assert not (results / "model").exists()  # nothing trained

    def lj(r, parameters):
        dimer = Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]])
        dimer.calc = LennardJones(**parameters)
        return dimer.get_potential_energy(), dimer.get_forces()[1, 0]

    series = pd.read_csv(results / "umbrella/window_004.csv").iloc[:50]
    expected = [abs(lj(r, members[0])[1] - lj(r, members[1])[1]) for r in series["cv"]]
    np.testing.assert_allclose(series["max_force_disagreement_ev_a"], expected, rtol=1e-6)
    table = pd.read_csv(results / "free_energy/pmf_mbar.csv")
    mean = [0.5 * (lj(r, members[0])[0] + lj(r, members[1])[0]) for r in table["cv"]]
    exact = ev_to_kj_mol(np.array(mean)) - 2 * KT * np.log(table["cv"])
    error = table["free_energy_kj_mol"] - exact
    assert np.sqrt(np.mean((error - error.mean()) ** 2)) < 0.3 * KT
