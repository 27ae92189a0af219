"""Trust levels and the untrusted verdict: a committee that extrapolates in the windows
must end in an error that names the windows, never in a PMF reported as sound."""

import json

import numpy as np
import pandas as pd
import pytest

from mlpmf.settings import TrustSettings
from mlpmf.trust import (
    describe,
    judge_oracle_checks,
    judge_windows,
    read_verdicts,
    summary,
    untrusted_bins,
    window_oracle_offsets,
    with_second_cv,
)
from mlpmf.trustlevels import trust_levels
from mlpmf.units import kt_ev, kt_kj_mol
from tests.workflow_helpers import double_well_study, run_snakemake


def test_trust_levels_are_calibrated_above_the_held_out_noise_and_explicit_values_win():
    noise = np.random.default_rng(0).gamma(4.0, 0.05, size=400)  # per-frame disagreement
    calibrated = trust_levels(noise, TrustSettings(percentile=95.0, factor=2.0, upper_factor=3.0))
    assert calibrated.calibrated
    assert calibrated.lower_ev_a == pytest.approx(2.0 * np.percentile(noise, 95))
    assert calibrated.upper_ev_a == pytest.approx(3.0 * calibrated.lower_ev_a)
    assert np.mean(noise > calibrated.lower_ev_a) < 0.001
    floored = trust_levels(noise, TrustSettings(), force_scale_ev_a=4.0)  # cold held-out data
    assert floored.lower_ev_a == pytest.approx(2.0) and floored.force_floor_ev_a == 2.0
    fixed = trust_levels(noise, TrustSettings(lower_ev_a=0.7))
    assert not fixed.calibrated and fixed.lower_ev_a == 0.7
    assert fixed.upper_ev_a == pytest.approx(2.1)


def test_the_thermal_force_scale_grows_as_the_square_root_of_temperature():
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    from mlpmf.trustlevels import thermal_force_scale

    frame = Atoms("H2", positions=[[0, 0, 0], [0.8, 0, 0]])
    frame.calc = SinglePointCalculator(frame, energy=0.0, forces=[[1, 2, 2], [-1, -2, -2]])
    assert thermal_force_scale([frame], 300.0, 300.0) == pytest.approx(np.sqrt(3.0))
    assert thermal_force_scale([frame], 300.0, 100.0) == pytest.approx(3.0)


def test_a_window_is_untrusted_above_the_upper_level_or_often_above_the_lower():
    rng = np.random.default_rng(1)
    cv = [rng.normal(c, 0.1, 1000) for c in (1.0, 2.0, 3.0)]
    calm = rng.uniform(0.0, 0.4, 1000)
    rare = calm.copy()
    rare[:50] = 0.8  # 5% of frames above the lower level, none above the upper
    often = calm.copy()
    often[:150] = 0.8  # 15% above the lower level
    spike = calm.copy()
    spike[10] = 2.0  # one frame above the upper level
    verdicts = judge_windows([1.0, 2.0, 3.0], cv, [rare, often, calm], 0.5, 1.5)
    assert [v.trusted for v in verdicts] == [True, False, True]
    assert not judge_windows([1.0], cv[:1], [spike], 0.5, 1.5)[0].trusted
    bins = np.linspace(0.5, 3.5, 31)
    mask = untrusted_bins(bins, verdicts)
    assert mask[np.abs(bins - 2.0) < 0.15].all() and not mask[np.abs(bins - 2.0) > 0.4].any()
    document = summary(verdicts, 0.5, 1.5)
    assert not document["trusted"] and document["untrusted_windows"] == [1]
    assert "window 001 (centre 2" in describe(document)


def test_the_oracles_checks_give_each_windows_free_energy_offset_and_flag_a_wrong_one():
    """Window k's oracle-minus-model free energy is -kT ln <exp(-beta Delta)>: for
    Gaussian Delta (mean mu, std sigma) exactly mu - sigma^2 / 2kT. Five windows with
    the model off by a constant (harmless: a PMF is known up to one), one with it 0.8 kT
    higher on average but scattered by 1 kT (net +0.3 kT: within the tolerance of 1 kT),
    one 2 kT off (flagged): 1,600 independent rows each, so the offsets' standard
    errors are ~0.03 kT and the estimates lie within 4 of them."""
    rng = np.random.default_rng(7)
    kt = kt_ev(300.0)
    shape = [(0.05, 0.1)] * 5 + [(0.05 + 0.8, 1.0), (0.05 - 2.0, 0.1)]  # (mu, sigma) in kT
    deltas = [rng.normal(mu * kt, sigma * kt, 1600) for mu, sigma in shape]
    deltas[0][::7] = np.nan  # where the oracle failed: left out
    offsets, errors = window_oracle_offsets(deltas, 300.0)
    expected = np.array([mu - sigma**2 / 2 for mu, sigma in shape]) - (0.05 - 0.005)
    assert np.all(np.abs(offsets / kt_kj_mol(300.0) - expected) < 4 * errors / kt_kj_mol(300.0))
    assert np.all(errors < 0.05 * kt_kj_mol(300.0))
    cv = [rng.normal(c, 0.1, 100) for c in range(7)]
    verdicts = judge_windows(range(7), cv, [np.full(100, np.nan)] * 7, np.inf, np.inf)
    judged = judge_oracle_checks(verdicts, deltas, 300.0, kt_kj_mol(300.0))
    assert [v.oracle_agrees for v in judged] == [True] * 6 + [False]
    assert [v.trusted for v in judged] == [True] * 6 + [False]
    assert all(v.within_trust_levels for v in judged)
    document = summary(judged, None, None, kt_kj_mol(300.0))
    assert document["untrusted_windows"] == [6]
    message = describe(document)
    assert "oracle's checks" in message and "window 006 (centre 6: -5.0" in message
    assert "trust levels" not in message  # no committee: nothing about its levels
    json.dumps(document, allow_nan=False)  # valid JSON: no NaN
    scattered = judge_oracle_checks(verdicts, [d[:3] for d in deltas], 300.0, kt_kj_mol(300.0))
    assert all(v.trusted for v in scattered[:6])  # 3 rows: too few to judge a 1-kT scatter


def test_untrusted_bins_wrap_round_a_periodic_cv():
    samples = np.random.default_rng(2).normal(175.0, 6.0, 2000)
    cv = [(samples + 180.0) % 360.0 - 180.0]  # as a dihedral is recorded: [-180, 180)
    verdict = judge_windows([175.0], cv, [np.full(2000, 9.0)], 0.5, 1.5, period=360.0)
    mask = untrusted_bins(np.arange(-177.5, 180.0, 5.0), verdict, period=360.0)
    covered = np.arange(-177.5, 180.0, 5.0)[mask]
    assert 177.5 in covered and -177.5 in covered and 0 < mask.sum() < 10


def test_a_2d_window_leaves_untrusted_only_the_bins_it_sampled_in_both_cvs():
    """A 2D window at (phi, psi) = (-60, 175) marks its own corner of the surface, across
    the psi seam, and not the rest of its phi column (the basins at other psi)."""
    rng = np.random.default_rng(3)
    phi = [rng.normal(-60.0, 6.0, 2000)]
    psi = [(rng.normal(175.0, 6.0, 2000) + 180.0) % 360.0 - 180.0]
    verdicts = judge_windows([-60.0], phi, [np.full(2000, 9.0)], 0.5, 1.5, period=360.0)
    verdicts = with_second_cv(verdicts, [175.0], psi, 360.0)
    grid = np.arange(-175.0, 180.0, 10.0)
    x, y = np.meshgrid(grid, grid, indexing="ij")
    mask = untrusted_bins(x.ravel(), verdicts, 360.0, y.ravel(), 360.0).reshape(x.shape)
    assert mask[grid == -65.0][0][grid == 175.0] and mask[grid == -55.0][0][grid == -175.0]
    assert not mask[grid == -65.0][0][np.abs(grid) < 150].any()  # the rest of the column
    assert 0 < mask.sum() < 12
    assert untrusted_bins(grid, verdicts, 360.0)[grid == -65.0].all()  # projection: all psi
    document = summary(verdicts, 0.5, 1.5)
    assert "centre (-60, 175)" in describe(document)
    assert summary(read_verdicts(json.loads(json.dumps(document))), 0.5, 1.5) == document


def one_basin_committee_study():
    """The double well with reference data from the left basin only (cold MD, no scan)
    and no active learning: in the right-hand windows the committee extrapolates."""
    config = double_well_study(potential="committee")
    config["dataset"] = {"md_temperature_k": 150.0, "md_steps": 1500, "scan_points": 0}
    config["committee"] = {"hidden_layers": [16, 16], "epochs": 60, "batch_size": 8}
    config["descriptor"] = {"num_angular_sections": 0}
    config["active_learning"] = {"max_iterations": 0}  # on by default: off here
    config["umbrella"].update(
        centers={"start": 2.6, "stop": 3.8, "num": 7},
        steps=1500,
        equilibration_steps=200,
        windows_per_job=7,
    )
    config["free_energy"] = {
        "bins": {"start": 2.65, "stop": 3.75, "num": 22},
        "bootstrap_samples": 10,
    }
    config["rates"] = {"reactant": [2.65, 3.0], "product": [3.4, 3.75]}
    return config


@pytest.mark.workflow
def test_a_committee_that_extrapolates_in_the_windows_ends_in_the_untrusted_error(tmp_path):
    config = one_basin_committee_study()
    run = run_snakemake(tmp_path, config)
    assert run.returncode != 0
    assert "UNTRUSTED" in run.stderr and "accept_untrusted" in run.stderr
    results = tmp_path / "results" / "double_well_bond"
    trust = json.loads((results / "free_energy/trust.json").read_text())
    assert not trust["trusted"]
    assert {3.4, 3.6, 3.8} <= set(trust["untrusted_centers"])  # the basin it never saw
    largest = {w["center"]: w["max_disagreement_ev_a"] for w in trust["windows"]}
    assert largest[2.8] < 0.2 * min(largest[c] for c in (3.4, 3.6, 3.8))  # its own basin
    pmf = pd.read_csv(results / "free_energy/pmf_mbar.csv")
    assert list(pmf.columns[:3]) == ["cv", "free_energy_kj_mol", "uncertainty_kj_mol"]
    assert not pmf.loc[pmf["cv"] > 3.5, "trusted"].any()
    rates = json.loads((results / "free_energy/rates.json").read_text())
    assert rates["trusted"] is False and rates["untrusted_windows"] == trust["untrusted_windows"]
    assert not (results / "free_energy/trust_accepted.json").exists()
    report = tmp_path / "report.html"
    built = run_snakemake(tmp_path, config, "--report", str(report))
    assert built.returncode == 0, built.stderr[-3000:]
    front = report.read_text(errors="ignore")  # the front page: verdict, windows, advice
    assert "UNTRUSTED" in front and "window 004" in front and "What to do" in front

    config["accept_untrusted"] = True
    accepted = run_snakemake(tmp_path, config)
    assert accepted.returncode == 0, accepted.stderr[-3000:]
    verdict = json.loads((results / "free_energy/trust_accepted.json").read_text())
    assert verdict == {"trusted": False, "accepted": True}


def test_a_window_that_flies_apart_is_named_with_its_centre_step_and_atoms():
    """A committee pulled apart by a bias: the MD stops with the step, the replica and
    the isolated atoms, and the message names the window and says what to do."""
    import torch
    from ase import Atoms

    from mlpmf.calculator import BatchedCommittee
    from mlpmf.colvars import Distance
    from mlpmf.descriptors import Descriptor
    from mlpmf.dynamics import LangevinSettings, SimulationError, UmbrellaBias, integrate
    from mlpmf.models import Committee
    from mlpmf.trust import window_failure_message

    descriptor = Descriptor((18,), 6, 5.0, num_angular_sections=0)
    committee = Committee(
        descriptor, 2, [4], torch.zeros(1, 6), torch.ones(1, 6), torch.zeros(1), 0.01
    )
    dimers = [Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]]) for _ in range(2)]
    biases = [UmbrellaBias(Distance((0, 1)), c, 5000.0) for c in (3.0, 9.0)]
    rngs = [np.random.default_rng(k) for k in range(2)]
    with pytest.raises(SimulationError) as caught:
        integrate(dimers, LangevinSettings(300.0, 2.0, 0.01), 2000, rngs, biases,
                  BatchedCommittee(committee))  # fmt: skip
    error = caught.value
    assert error.replica == 1 and error.atoms == [0, 1] and 0 < error.step < 2000
    windows = [{"window": "004", "center": 3.0}, {"window": "005", "center": 9.0}]
    message = window_failure_message(error, windows, "committee", "Å")
    assert f"window 005 (centre 9 Å) stopped at MD step {error.step}, atoms 0, 1" in message
    assert "active learning" in message and "Traceback" not in message
