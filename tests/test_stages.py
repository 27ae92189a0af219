"""The workflow's stages as library calls (mlpmf.stages): files in, files out, with the
physics each adds to the estimators checked on windows whose PMF is known exactly."""

import json

import numpy as np
import pandas as pd
import pytest
from ase import Atoms

from mlpmf.errorbudget import ModelCalibration, calibration_of_table
from mlpmf.settings import BasinSettings, ColvarSettings, FreeEnergySettings
from mlpmf.stages.active_learning import learning_summary
from mlpmf.stages.diagnostics import DiagnosticsSettings, diagnostics, noise_limit
from mlpmf.stages.estimate_pmf import EstimateSettings, estimate_pmf
from mlpmf.stages.rates import (
    RateSettings,
    nearest_reference_path,
    rates,
    with_error_budget,
    with_model_spread,
)
from mlpmf.units import ev_to_kj_mol
from tests.test_estimators import GRID, KAPPA, TEMPERATURE_K, double_well
from tests.test_estimators import exact_umbrella_samples as exact_samples

CENTERS = np.linspace(-1.2, 1.2, 13)
EDGES = np.linspace(-1.2, 1.2, 25)
TILT_EV_A = 0.01  # the oracle's energy minus the model's: a tilt along the CV, eV/Å
MEMBER_TILT_EV_A = 0.005  # two members: the mean's energy +- this tilt


def write_windows(folder, sets_of_samples, oracle_every=5):
    """Window files as umbrella_window writes them (CV, disagreement, two members'
    energy offsets, oracle offsets on every ``oracle_every``-th row), and windows.csv
    with one set of ``umbrella.repeats`` per entry of ``sets_of_samples``."""
    rows, files = [], []
    for repeat, samples in enumerate(sets_of_samples):
        for center, cv in zip(CENTERS, samples, strict=True):
            k = len(files)
            oracle = np.full(len(cv), np.nan)
            oracle[::oracle_every] = TILT_EV_A * cv[::oracle_every]
            table = pd.DataFrame({
                "time_fs": 10.0 * np.arange(1, len(cv) + 1), "cv": cv,
                "max_force_disagreement_ev_a": np.full(len(cv), 0.05),
                "member_energy_00_ev": MEMBER_TILT_EV_A * cv,
                "member_energy_01_ev": -MEMBER_TILT_EV_A * cv,
                "oracle_energy_offset_ev": oracle,
            })  # fmt: skip
            files.append(str(folder / f"window_{k:03d}.csv"))
            table.to_csv(files[-1], index=False)
            rows.append({"window": k, "center": center, "spring_constant": KAPPA, "repeat": repeat})
    (folder / "windows.csv").write_text(pd.DataFrame(rows).to_csv(index=False))
    return str(folder / "windows.csv"), files


def settings(estimator="mbar"):
    return EstimateSettings(estimator, FreeEnergySettings(), TEMPERATURE_K, tuple(EDGES), None, 5)


def outputs(folder, name):
    return {key: folder / f"{name}_{key}.{ext}" for key, ext in
            [("pmf", "csv"), ("bootstrap", "npy"), ("members", "npy")]}  # fmt: skip


def shifted_rms(difference, where):
    """RMS of a profile difference after the constant that best removes it."""
    d = difference[where]
    return float(np.sqrt(np.mean((d - d.mean()) ** 2)))


@pytest.fixture(scope="module")
def one_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one_set")
    samples = exact_samples(double_well, GRID, CENTERS, KAPPA, 3000, np.random.default_rng(1))
    return folder, *write_windows(folder, [samples])


def test_the_estimate_stage_adds_the_model_band_and_the_oracles_pmf(one_set):
    """The PMF is the exact one within its errors; the members (potentials tilted by
    +-b x from the mean) give PMFs tilted by +-b x, and the oracle (tilted by a x) the
    PMF tilted by a x: reweighting recovers a known difference of potentials."""
    folder, windows, files = one_set
    files_out = outputs(folder, "mbar")
    table = estimate_pmf(windows, files, settings(), files_out)
    cv, free = table["cv"].to_numpy(), table["free_energy_kj_mol"].to_numpy()
    filled = np.isfinite(free)
    error = table["uncertainty_kj_mol"].to_numpy()
    assert shifted_rms(free - double_well(cv), filled) < 3 * np.median(error[filled]) + 0.05
    members = np.load(files_out["members"])
    assert members.shape == (2, len(cv))
    tilt = ev_to_kj_mol(MEMBER_TILT_EV_A) * cv
    assert shifted_rms(members[0] - members.mean(0) - tilt, filled) < 0.1
    assert shifted_rms(members[1] - members.mean(0) + tilt, filled) < 0.1
    np.testing.assert_allclose(
        table["total_uncertainty_kj_mol"], np.hypot(error, table["model_uncertainty_kj_mol"])
    )
    # the oracle's tilt a = 2b: its correction scatters sqrt(a^2 / 2b^2) = sqrt(2) times
    # the two members' spread (sqrt(2) b |x|), and the model band takes that factor
    calibration = calibration_of_table(table)
    assert calibration.scale == pytest.approx(np.sqrt(2), rel=0.1)
    np.testing.assert_allclose(
        table["model_uncertainty_kj_mol"], calibration.scale * table["member_spread_kj_mol"]
    )
    oracle = table["free_energy_oracle_kj_mol"].to_numpy()
    expected = free + ev_to_kj_mol(TILT_EV_A) * cv  # exp(-beta a x) reweighting: + a x
    assert shifted_rms(oracle - expected, filled) < 0.15
    written = pd.read_csv(files_out["pmf"])
    assert list(written.columns[:3]) == ["cv", "free_energy_kj_mol", "uncertainty_kj_mol"]
    assert np.load(files_out["bootstrap"]).shape[1] == len(cv)

    wham = estimate_pmf(windows, files, settings("wham"), outputs(folder, "wham"))
    assert "model_uncertainty_kj_mol" not in wham and "free_energy_oracle_kj_mol" not in wham
    assert np.load(outputs(folder, "wham")["members"]).shape == (0, len(cv))
    assert shifted_rms(wham["free_energy_kj_mol"].to_numpy() - free, filled) < 0.2


def test_independent_sets_that_disagree_widen_the_error_bars(tmp_path):
    """Two sets of windows on surfaces 4 kJ/mol/Å apart in tilt (a slow motion the CV
    does not drive): the pooled PMF's error bars grow by the sets' scatter, the
    estimator's own kept beside them; sets that agree keep them (scale 1)."""
    rng = np.random.default_rng(2)

    def tilted(x):
        return double_well(x) + 4.0 * x

    same = [exact_samples(double_well, GRID, CENTERS, KAPPA, 1500, rng) for _ in range(2)]
    other = exact_samples(tilted, GRID, CENTERS, KAPPA, 1500, rng)
    for name, sets, wider in (("same", same, False), ("apart", [same[0], other], True)):
        folder = tmp_path / name
        folder.mkdir()
        windows, files = write_windows(folder, sets)
        table = estimate_pmf(windows, files, settings(), outputs(folder, "mbar"))
        ratio = table["uncertainty_kj_mol"] / table["estimator_uncertainty_kj_mol"]
        ratio = ratio[np.isfinite(ratio)]
        assert np.allclose(ratio, ratio.iloc[0])  # one factor for every bin
        assert (ratio.iloc[0] > 1.5) == wider, (name, ratio.iloc[0])


def test_the_diagnostics_stage_warns_where_sets_disagree_and_not_where_they_agree(tmp_path):
    rng = np.random.default_rng(3)
    agree = [exact_samples(double_well, GRID, CENTERS, KAPPA, 1500, rng) for _ in range(2)]
    apart = [agree[0], exact_samples(lambda x: double_well(x) + 4.0 * x, GRID, CENTERS, KAPPA,
                                     1500, rng)]  # fmt: skip
    found = {}
    for name, sets in (("agree", agree), ("apart", apart)):
        folder = tmp_path / name
        folder.mkdir()
        windows, files = write_windows(folder, sets)
        check = DiagnosticsSettings(FreeEnergySettings(), TEMPERATURE_K, tuple(EDGES), None)
        paths = {"summary": folder / "diagnostics.json", "plot": folder / "diagnostics.png"}
        found[name] = diagnostics(windows, files, check, None, paths)
        assert json.loads(paths["summary"].read_text()) == json.loads(json.dumps(found[name]))
        assert paths["plot"].stat().st_size > 0
    assert found["agree"]["repeats"] == 2 and found["agree"]["repeats_error_scale"] < 1.5
    assert not any("independent sets" in w for w in found["agree"]["warnings"])
    assert found["apart"]["repeats_error_scale"] > 1.5
    assert any("independent sets" in w for w in found["apart"]["warnings"])
    assert found["agree"]["minimum_neighbour_overlap"] > 0.03  # windows 0.2 Å apart overlap
    assert found["agree"]["largest_force_disagreement_ev_a_per_window"] == [0.05] * 26
    # the family-wise noise limits the docstring quotes
    assert noise_limit(50) == pytest.approx(3.7, abs=0.05)
    assert noise_limit(600) == pytest.approx(4.3, abs=0.05)


def test_the_members_barrier_spread_is_their_standard_deviation_in_quadrature(tmp_path):
    """Members whose barriers are 10, 11 and 12 kJ/mol: model uncertainty 1 kJ/mol
    (their standard deviation), twice that where the oracle checks measured twice the
    spread; the budget's total is hypot(statistical, model); one member adds nothing."""
    cv = np.linspace(-1.0, 1.0, 41)
    table = pd.DataFrame({"cv": cv, "free_energy_kj_mol": 0.0, "uncertainty_kj_mol": 0.0})
    members = np.array([h * np.cos(np.pi * cv) ** 2 for h in (10.0, 11.0, 12.0)])

    def analyse(member_table):
        free = member_table["free_energy_kj_mol"].to_numpy()
        barrier = float(free.max() - free.min())
        return {"barrier_kj_mol": barrier, "rate_constant_per_s": np.exp(-barrier / 2.5)}

    result = {"barrier_kj_mol": 11.0, "barrier_uncertainty_kj_mol": 0.75}
    rows = with_model_spread(result, table, members, analyse)
    assert result["member_barriers_kj_mol"] == pytest.approx([10.0, 11.0, 12.0])
    assert result["barrier_model_uncertainty_kj_mol"] == pytest.approx(1.0)
    assert result["model_log_rate_uncertainty"] == pytest.approx(1.0 / 2.5)
    assert result["model_calibration"] is None
    assert rows == [("MBAR, committee members' spread", 11.0, pytest.approx(1.0))]
    assert with_model_spread({}, table, members[:1], analyse) == []

    calibration = ModelCalibration(2.0, 1.0, 0.5, 0.1, 40)
    calibrated = {"barrier_kj_mol": 11.0, "barrier_uncertainty_kj_mol": 0.75}
    rows = with_model_spread(calibrated, table, members, analyse, calibration)
    assert calibrated["barrier_model_uncertainty_kj_mol"] == pytest.approx(2.0)
    assert calibrated["barrier_member_spread_kj_mol"] == pytest.approx(1.0)
    assert calibrated["model_calibration"]["scale"] == 2.0
    assert rows[0][0] == "MBAR, committee members' spread x 2.00"

    calibrated["rate_constant_per_s"] = 1e6
    flux = {"kappa": 0.5, "kappa_uncertainty": 0.05}
    with_error_budget(calibrated, 0.3, flux)
    assert calibrated["barrier_total_uncertainty_kj_mol"] == pytest.approx(np.hypot(0.75, 2.0))
    parts = calibrated["log_rate_uncertainty"]
    assert parts["model"] == pytest.approx(2 * 0.4) and parts["recrossing"] == pytest.approx(0.1)
    assert parts["total"] == pytest.approx(np.sqrt(0.3**2 + 0.8**2 + 0.1**2))
    low, high = calibrated["rate_constant_total_interval_per_s"]
    assert np.log(high / 1e6) == pytest.approx(1.96 * parts["total"], rel=1e-3)
    assert np.log(1e6 / low) == pytest.approx(np.log(high / 1e6))
    assert "model_log_rate_uncertainty" not in calibrated


def test_a_reference_path_counts_only_near_this_paths_top():
    paths = [{"transition_state_cv": 0.0, "barrier_kj_mol": 20.0},
             {"transition_state_cv": 170.0, "barrier_kj_mol": 30.0}]  # fmt: skip
    assert nearest_reference_path({"transition_state_cv": -175.0}, paths, 360.0) == paths[1]
    assert nearest_reference_path({"transition_state_cv": 90.0}, paths, 360.0) is None
    assert nearest_reference_path({"transition_state_cv": 0.0}, [], 360.0) is None


def test_the_rates_stage_writes_the_barrier_of_a_known_profile(tmp_path):
    """A symmetric double well 10 kJ/mol high along a bond: the barrier is 10 kJ/mol by
    both estimators, with the reference file's barrier beside it and the trust verdict."""
    cv = np.linspace(2.5, 4.0, 61)
    free = 10.0 * (((cv - 3.25) / 0.45) ** 2 - 1) ** 2
    table = pd.DataFrame({"cv": cv, "free_energy_kj_mol": free, "uncertainty_kj_mol": 0.1})
    table.to_csv(tmp_path / "pmf.csv", index=False)
    replicas = free + np.random.default_rng(4).normal(0, 0.1, (50, len(cv)))
    np.save(tmp_path / "replicas.npy", replicas)
    np.save(tmp_path / "members.npy", np.empty((0, len(cv))))
    Atoms("Ar2", positions=[[0, 0, 0], [2.8, 0, 0]]).write(tmp_path / "dimer.xyz")
    (tmp_path / "trust.json").write_text(
        json.dumps({"trusted": True, "untrusted_windows": [], "untrusted_centers": []})
    )
    (tmp_path / "reference.json").write_text(json.dumps({"barrier_kj_mol": 9.5, "method": "NEB"}))
    inputs = {
        "structure": tmp_path / "dimer.xyz", "mbar": tmp_path / "pmf.csv",
        "wham": tmp_path / "pmf.csv", "mbar_bootstrap": tmp_path / "replicas.npy",
        "wham_bootstrap": tmp_path / "replicas.npy", "mbar_members": tmp_path / "members.npy",
        "trust": tmp_path / "trust.json", "reference": tmp_path / "reference.json",
    }  # fmt: skip
    rate_settings = RateSettings(
        300.0, ColvarSettings("distance", (0, 1)), BasinSettings((2.5, 3.25), (3.25, 4.0)), 0.01
    )
    files = {"rates": tmp_path / "rates.json", "barriers": tmp_path / "barriers.csv"}
    result = rates(inputs, rate_settings, files)
    assert result["barrier_kj_mol"] == pytest.approx(10.0, abs=0.05)
    assert result["wham_barrier_kj_mol"] == result["barrier_kj_mol"]
    assert result["reference_barrier_kj_mol"] == 9.5 and result["trusted"] is True
    assert result["rate_constant_per_s"] > 0 and "member_barriers_kj_mol" not in result
    barriers = pd.read_csv(files["barriers"])
    assert barriers["method"].tolist() == ["MBAR", "WHAM", "NEB"]
    assert json.loads(files["rates"].read_text())["barrier_kj_mol"] == result["barrier_kj_mol"]
    # no committee: the budget is the statistical part alone, kappa's not measured
    parts = result["log_rate_uncertainty"]
    assert parts["model"] is None and parts["recrossing"] is None
    assert parts["total"] == pytest.approx(parts["statistical"]) and parts["total"] > 0

    # the oracle's own PMF as the reference: the same profile lies 0 sigma away, one
    # whose barrier is 3 kJ/mol higher (its errors as small) lies far outside the interval
    for shift, covered in ((0.0, True), (3.0, False)):
        reference = table.assign(free_energy_kj_mol=free * (1 + shift / 10.0))
        reference.to_csv(tmp_path / "reference_pmf.csv", index=False)
        inputs["reference_pmf"] = tmp_path / "reference_pmf.csv"
        against = rates(inputs, rate_settings, files)["reference_pmf"]
        assert against["barrier_kj_mol"] == pytest.approx(10.0 + shift, abs=0.05)
        assert against["covered"] is covered
        assert abs(against["barrier_z"]) < 0.1 if covered else against["barrier_z"] < -5
    # a reference that does not reach the product basin gives no comparison, and no error
    table[table["cv"] < 3.2].to_csv(tmp_path / "reference_pmf.csv", index=False)
    assert "reference_pmf" not in rates(inputs, rate_settings, files)


def test_the_learning_summary_counts_calls_by_outcome_per_md_step():
    from mlpmf.active_learning import ActiveLearningResult
    from mlpmf.trustlevels import TrustLevels

    calls = [{"status": s, "seconds": 0.5} for s in ["labelled"] * 3 + ["strained", "failed"]]
    result = ActiveLearningResult(
        committee=None, frames=[None] * 13, oracle_log=calls,
        iterations=[{"md_steps": 600}, {"md_steps": 400}], trace=[], converged=False,
        trust=TrustLevels(0.1, 0.3, True, 0.05, 0.02),
    )  # fmt: skip
    summary = learning_summary(result, max_iterations=2, initial_frames=10)
    assert summary["labelled_frames"] == 3 and summary["strained_frames"] == 1
    assert summary["failed_oracle_calls"] == 1 and summary["oracle_calls"] == 5
    assert summary["oracle_calls_per_md_step"] == pytest.approx(5 / 1000)
    assert summary["oracle_time_s"] == pytest.approx(2.5)
    assert summary["committee_md_steps"] == 1000 and not summary["converged"]
    assert (summary["initial_training_frames"], summary["final_training_frames"]) == (10, 13)
    assert summary["trust_levels"] == result.trust.to_dict()


def test_the_shots_restraint_and_friction_default_to_the_windows():
    """Unless transmission says otherwise, the shots run at the windows' friction and
    are held on the surface by ten times the stiffest window's spring."""
    import dataclasses

    from mlpmf.settings import (
        OracleSettings,
        SystemSettings,
        TransmissionSettings,
        WindowSettings,
    )
    from mlpmf.stages.transmission import FluxSettings

    flux = FluxSettings(
        TransmissionSettings(), WindowSettings(friction_per_fs=0.02), SystemSettings(),
        ColvarSettings(), BasinSettings((0, 1), (2, 3)), 300.0, "committee", OracleSettings(),
        None, (100.0, 250.0, 150.0), 1,
    )  # fmt: skip
    assert flux.restraint_kj_mol == 2500.0 and flux.shot_friction_per_fs == 0.02
    own = dataclasses.replace(
        flux, transmission=TransmissionSettings(friction_per_fs=0.001, restraint_kj_mol=900.0)
    )
    assert own.restraint_kj_mol == 900.0 and own.shot_friction_per_fs == 0.001


def test_the_trust_gate_stops_an_untrusted_run_only_when_the_study_does_not_accept_it(
    tmp_path, caplog
):
    from mlpmf.stages.check_trust import trust_gate

    trust, output = tmp_path / "free_energy" / "trust.json", tmp_path / "accepted.json"
    trust.parent.mkdir()
    for accepted in (True, False):
        document = {"trusted": False, "accepted": accepted, "reason": "window 003 strayed"}
        trust.write_text(json.dumps(document))
        if accepted:
            trust_gate(str(trust), "Å", str(output))
            assert json.loads(output.read_text()) == {"trusted": False, "accepted": True}
            continue
        output.unlink()
        with pytest.raises(SystemExit) as stop:
            trust_gate(str(trust), "Å", str(output))
        assert stop.value.code == 1 and not output.exists()
        message = caplog.text  # also on the terminal: Snakemake shows a failed job's stderr
        assert "window 003 strayed" in message and "What to do" in message


def test_a_window_series_comes_from_its_batch_and_a_missing_window_is_named(tmp_path):
    from mlpmf.stages.windows import window_series, window_table

    batch = tmp_path / "batch_000.csv"
    pd.DataFrame({"window": [0, 0, 1], "step": [0, 5, 0], "cv": [1.0, 1.1, 2.0]}).to_csv(
        batch, index=False
    )
    rows = window_series(str(batch), 0, str(tmp_path / "window_000.csv"))
    assert rows["cv"].tolist() == [1.0, 1.1] and "window" not in rows
    with pytest.raises(SystemExit):
        window_series(str(batch), 7, str(tmp_path / "window_007.csv"))
    grid = {"center": [1.0, 2.0], "spring_constant": [5.0, 5.0]}
    table = window_table(grid, None, str(tmp_path / "windows.csv"))
    assert table["window"].tolist() == [0, 1] and table["center"].tolist() == [1.0, 2.0]


def test_the_ledger_counts_the_windows_md_and_their_oracle_checks(tmp_path):
    from mlpmf.settings import WindowSettings
    from mlpmf.stages.oracle_ledger import ledger

    pd.DataFrame({"window": range(4), "center": range(4)}).to_csv(tmp_path / "w.csv")
    (tmp_path / "oracle.json").write_text(json.dumps({"oracle_calls": 100, "seconds": 2.0}))
    inputs = {"windows": tmp_path / "w.csv", "reference": tmp_path / "oracle.json"}
    umbrella = WindowSettings(steps=1000, equilibration_steps=200, oracle_every=250)
    result = ledger(inputs, umbrella, str(tmp_path / "ledger.json"))
    assert result["oracle_driven_calls"] >= 4 * 1200
    assert result["oracle_calls"] == 100 + 4 * 4  # the reference data, 4 checks a window
