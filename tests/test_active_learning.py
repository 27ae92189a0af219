"""Quantum-chemistry oracles with retries, and the active-learning loop."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from ase import Atoms
from ase.build import molecule
from ase.calculators.calculator import CalculationFailed

from mlpmf.active_learning import (
    ExplorationWindows,
    LearningData,
    Retraining,
    label,
    run_active_learning,
)
from mlpmf.analytic import DoubleWellBond
from mlpmf.colvars import Distance
from mlpmf.dynamics import LangevinSettings, UmbrellaBias
from mlpmf.evaluation import evaluate_model
from mlpmf.exploration import Candidate
from mlpmf.oracles import make_oracle, make_robust_oracle
from mlpmf.robust import RobustOracle
from mlpmf.settings import ActiveLearningSettings, TrustSettings
from tests.conftest import finite_difference_forces
from tests.test_committee import DESCRIPTOR, SETTINGS, labelled_dimers

PYSCF = {
    "kind": "pyscf",
    "method": "hf",
    "basis": "sto-3g",
    "functional": "pbe",
    "charge": 0,
    "multiplicity": 1,
    "max_iterations": 50,
}
XTB = {
    "kind": "xtb",
    "method": "GFN2-xTB",
    "charge": 0,
    "multiplicity": 1,
    "electronic_temperature_k": 300.0,
    "max_iterations": 250,
}


@pytest.mark.parametrize("settings", [XTB, PYSCF], ids=["xtb", "pyscf"])
def test_quantum_oracle_forces_are_minus_its_energy_gradient(settings):
    water = molecule("H2O")
    water.rattle(0.05, seed=1)
    water.calc = make_oracle(settings)
    forces = water.get_forces()
    numeric = finite_difference_forces(water, lambda a: a.get_potential_energy(), step=1e-4)
    np.testing.assert_allclose(forces, numeric, atol=2e-4)
    assert np.abs(forces).max() > 0.1


def test_an_unconverged_scf_is_retried_with_safer_settings_and_gives_the_same_answer():
    """One SCF cycle cannot converge; the retry (more cycles, level shift, second-order
    solver) converges to the same energy as a normal call."""
    water = molecule("H2O")
    starved = make_robust_oracle({**PYSCF, "max_iterations": 1})
    energy, forces = starved.label(water)
    assert starved.retries == 1 and starved.failures == 0
    reference = make_robust_oracle(PYSCF)
    expected_energy, expected_forces = reference.label(water)
    assert reference.retries == 0
    assert energy == pytest.approx(expected_energy, abs=1e-6)
    np.testing.assert_allclose(forces, expected_forces, atol=1e-4)


class FailsBeyond(DoubleWellBond):
    """The double-well oracle, made to fail (as an SCF would) for long bonds."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        if atoms is not None and atoms.get_distance(0, 1) > 3.7:
            raise CalculationFailed("injected failure: bond beyond 3.7 Å")
        super().calculate(atoms, properties, system_changes or ["positions"])


def test_a_failing_oracle_call_is_recorded_and_skipped():
    oracle = RobustOracle([FailsBeyond(), FailsBeyond()])
    assert oracle.label(Atoms("Ar2", positions=[[0, 0, 0], [3.9, 0, 0]])) is None
    assert oracle.label(Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]])) is not None
    summary = oracle.summary()
    assert summary["oracle_calls"] == 2 and summary["oracle_failures"] == 1
    assert "injected failure" in summary["oracle_failure_messages"][0]


def test_a_strained_label_is_logged_and_not_trained_on():
    """A frame far above the reference data's energies (a clash the committee drove into)
    is logged as strained and kept out of the training set; one at a thermal energy is
    labelled (the ceiling is the reference data's own filter, dataset/oracle.json)."""
    oracle = RobustOracle([DoubleWellBond()])
    bonds = {"thermal": 2.9, "clash": 1.2}
    energies = {}
    candidates = []
    for replica, bond in enumerate(bonds.values()):
        atoms = Atoms("Ar2", positions=[[0, 0, 0], [bond, 0, 0]])
        energies[bond] = oracle.label(atoms)[0]
        candidates.append(Candidate(replica, 0, bond, 1.0, 1.0, atoms))
    assert energies[1.2] - energies[2.9] > 1.0  # eV: the clash lies far above
    ceiling = energies[2.9] + 0.5
    frames, rows = label(candidates, oracle, 1, ceiling)
    assert [row["status"] for row in rows] == ["labelled", "strained"]
    assert len(frames) == 1 and frames[0].get_distance(0, 1) == pytest.approx(2.9)
    assert rows[1]["energy_ev"] == pytest.approx(energies[1.2])  # the call is still logged
    assert [row["status"] for row in label(candidates, oracle, 1)[1]] == ["labelled"] * 2


@pytest.fixture(scope="module")
def active_learning_run():
    """A committee trained on one basin of the double well (bonds 2.5-3.0 Å), refined
    by active learning over windows spanning both basins, with failures injected
    beyond 3.7 Å."""
    from mlpmf.training import train_committee

    one_basin = [f for f in labelled_dimers(200, 0) if f.get_distance(0, 1) < 3.0][:80]
    committee, _ = train_committee(one_basin, DESCRIPTOR, SETTINGS, seed=1)
    cv = Distance((0, 1))
    biases = [UmbrellaBias(cv, c, 400.0) for c in np.linspace(2.6, 3.8, 7)]
    settings = ActiveLearningSettings(
        max_iterations=6,
        frames_per_iteration=7,
        steps_per_iteration=600,
        check_every=20,
        retrain_epochs=40,
        trust=TrustSettings(lower_ev_a=0.1, upper_ev_a=5.0),
    )
    oracle = RobustOracle([FailsBeyond()])
    result = run_active_learning(
        committee,
        LearningData(one_basin, labelled_dimers(20, 11)),
        ExplorationWindows(
            Atoms("Ar2", positions=[[0, 0, 0], [2.8, 0, 0]]),
            biases,
            LangevinSettings(300.0, 2.0, 0.01),
        ),
        oracle,
        settings,
        Retraining(DESCRIPTOR, SETTINGS),
        seed=3,
    )
    return result, oracle, one_basin, committee


def test_active_learning_labels_the_unseen_basin_and_learns_it(active_learning_run):
    """The labels reach beyond the barrier, and there the refined committee's forces are
    several times closer to the oracle's than the initial committee's."""
    result, _, one_basin, initial = active_learning_run
    log = pd.DataFrame(result.oracle_log)
    labelled = log[log["status"] == "labelled"]
    assert labelled["cv"].max() > 3.2  # beyond the barrier, never in the initial data
    assert len(result.frames) == len(one_basin) + len(labelled)
    far = [f for f in labelled_dimers(300, 7) if 3.2 < f.get_distance(0, 1) < 3.7]
    before = evaluate_model(initial, far)["committee_force_rmse_ev_a"]
    after = evaluate_model(result.committee, far)["committee_force_rmse_ev_a"]
    assert after < 0.3 * before
    md_steps = pd.DataFrame(result.iterations)["md_steps"].sum()
    assert len(log) < 0.01 * md_steps  # the oracle saw under 1% of the committee's steps


def test_both_disagreement_metrics_are_logged_and_consistent(active_learning_run):
    """For M members, DP-GEN's deviation sigma = sqrt(<|F_m - <F>|^2>) and the largest
    pairwise difference D obey D/M <= sigma <= D (sigma^2 is the mean of all pairwise
    squared differences over 2 M^2, which holds the largest pair twice)."""
    result = active_learning_run[0]
    trace = pd.DataFrame(result.trace)
    assert (trace["dpgen_deviation_ev_a"] <= trace["disagreement_ev_a"] + 1e-12).all()
    assert (trace["dpgen_deviation_ev_a"] >= trace["disagreement_ev_a"] / 4 - 1e-12).all()


def test_injected_oracle_failures_are_counted_and_the_run_completes(active_learning_run):
    result, oracle = active_learning_run[:2]
    log = pd.DataFrame(result.oracle_log)
    failed = log[log["status"] == "failed"]
    assert len(failed) == oracle.failures
    assert (failed["cv"] > 3.7).all() and (log.loc[log["status"] == "labelled", "cv"] <= 3.7).all()
    assert np.isnan(failed["energy_ev"]).all()


def test_a_quiet_round_ends_the_loop_only_after_confirm_steps():
    """A committee trained on both basins: nothing triggers, so the first round is
    extended until every replica has run confirm_steps, and the loop ends converged
    without an oracle call. Two sets of windows (umbrella.repeats), exchanging within
    each: a replica per window of every set, each set from its own start frames."""
    from mlpmf.training import train_committee

    committee, _ = train_committee(labelled_dimers(160, 2), DESCRIPTOR, SETTINGS, seed=4)
    cv = Distance((0, 1))
    biases = [UmbrellaBias(cv, c, 400.0) for c in np.linspace(2.7, 3.7, 4)] * 2
    settings = ActiveLearningSettings(
        max_iterations=3,
        steps_per_iteration=100,
        check_every=20,
        confirm_steps=500,
        trust=TrustSettings(lower_ev_a=5.0, upper_ev_a=50.0),  # nothing can trigger
    )
    windows = ExplorationWindows(
        Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]]), biases,
        LangevinSettings(300.0, 2.0, 0.01), exchange_every=10, sets=[0] * 4 + [1] * 4,
        start_thermal_energy_kj_mol=2.494,
    )  # fmt: skip
    result = run_active_learning(
        committee, LearningData(labelled_dimers(160, 2), labelled_dimers(20, 3)), windows,
        RobustOracle([DoubleWellBond()]), settings, Retraining(DESCRIPTOR, SETTINGS), seed=5,
    )  # fmt: skip
    assert result.converged and result.oracle_log == []
    assert len(result.iterations) == 1
    assert result.iterations[0]["md_steps"] == 8 * 500


def test_a_round_is_quiet_with_rare_candidates_in_every_replica_and_none_above_upper():
    """DP-GEN's rule, per replica as windows are judged: at most converged_fraction of a
    replica's checks above the trigger (0: none), and no frame above the upper level. A
    replica that keeps meeting candidates is not hidden by quiet ones, nor by the checks
    it was planned to make but did not, paused at its candidates."""
    from types import SimpleNamespace

    from mlpmf.exploration import ExplorationRound, is_quiet

    checks = [{"replica": k % 4, "step": k} for k in range(400)]  # 100 checks each

    def found(*replicas):
        return [SimpleNamespace(replica=r) for r in replicas]

    settings = ActiveLearningSettings(converged_fraction=0.01, steps_per_iteration=100)
    assert is_quiet(ExplorationRound(trace=checks, candidates=found(0, 1, 2, 3)), settings)
    assert not is_quiet(ExplorationRound(trace=checks, candidates=found(0, 0)), settings)
    few_checks = [c for c in checks if c["replica"] != 3] + checks[3:40:4]  # 10 for 3
    assert not is_quiet(ExplorationRound(trace=few_checks, candidates=found(3)), settings)
    assert not is_quiet(ExplorationRound(trace=[], candidates=found(2)), settings)
    assert not is_quiet(ExplorationRound(trace=checks, untrusted=1), settings)
    longer = dataclasses.replace(settings, confirm_steps=4000, check_every=20)  # 200 checks
    assert is_quiet(ExplorationRound(trace=few_checks, candidates=found(3)), longer)
    assert not is_quiet(ExplorationRound(trace=checks, candidates=found(3, 3, 3)), longer)
    # a replica paused by a candidate in every sub-round makes few checks: 2 of its 10
    # are 20%, not 1% of the 200 it was planned to make; early in a round (not complete)
    # that is not yet a verdict, at its end it is
    paused = ExplorationRound(trace=few_checks, candidates=found(3, 3))
    assert is_quiet(paused, longer) and not is_quiet(paused, longer, complete=True)
    assert is_quiet(ExplorationRound(trace=checks, candidates=found(0, 1, 2, 3)), longer, True)
    strict = ActiveLearningSettings(converged_fraction=0.0)
    assert is_quiet(ExplorationRound(trace=checks), strict)
    assert not is_quiet(ExplorationRound(trace=checks, candidates=found(1)), strict)


def test_replicas_exchange_with_neighbours_of_their_own_set_of_windows_only():
    """Exploration with umbrella.repeats: two sets of windows at the same centres. Swaps
    pair neighbours in centre within one set, never the twins of two sets (a swap that
    would always be accepted and mix the sets the windows keep apart), and move the
    states they swap; a single set exchanges exactly as the windows' ReplicaExchange."""
    from mlpmf.exploration import Replica, exchange_within_sets
    from mlpmf.umbrella import ReplicaExchange

    cv = Distance((0, 1))
    centers = np.array([1.0, 1.1, 1.2, 1.3])

    def replicas(sets, seed):
        rngs = np.random.default_rng(seed).spawn(len(sets) * len(centers))
        made = []
        for k, (group, center) in enumerate((g, c) for g in sets for c in centers):
            atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, center + 0.03 * (-1) ** k]])
            bias = UmbrellaBias(cv, float(center), 50.0)  # neighbours swap ~80% of tries
            zero = np.zeros((2, 3))
            made.append(Replica(k, atoms, bias, rngs[k], atoms.positions.copy(), zero, group=group))
        return made

    two = replicas([0, 1], seed=3)
    exchange = exchange_within_sets(two, 300.0, 10, first_step=0)
    pairs = []
    for step in range(10, 410, 10):
        positions = [r.atoms.positions.copy() for r in two]
        before = [p.copy() for p in positions]
        swapped = exchange(step, positions, [0] * 8, [0] * 8)
        for i, j in zip(swapped[::2], swapped[1::2], strict=True):
            pairs.append((i, j))
            assert two[i].group == two[j].group
            assert abs(two[i].bias.center - two[j].bias.center) == pytest.approx(0.1)
            np.testing.assert_array_equal(positions[i], before[j])
    assert len(pairs) > 40 and {two[i].group for i, _ in pairs} == {0, 1}

    one, alone = replicas([0], seed=4), replicas([0], seed=4)
    grouped = exchange_within_sets(one, 300.0, 10, first_step=0)
    plain = ReplicaExchange([r.bias for r in alone], [r.rng for r in alone], 300.0, 10)
    for step in range(10, 410, 10):
        state = [[r.atoms.positions.copy() for r in one], [0] * 4, [0] * 4]
        assert grouped(step, *state) == plain(step, *[list(s) for s in state])
    assert exchange_within_sets(one[:1], 300.0, 10, first_step=0) is None


class DiesAtCall(DoubleWellBond):
    """The double-well oracle, killed (as a job is) at its ``kill_at``-th call."""

    def __init__(self, kill_at: int, **kwargs):
        super().__init__(**kwargs)
        self.kill_at, self.calls = kill_at, 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        self.calls += 1
        if self.calls == self.kill_at:
            raise KeyboardInterrupt
        super().calculate(atoms, properties, system_changes or ["positions"])


def test_killed_active_learning_resumes_from_its_checkpoint_to_the_same_committee(tmp_path):
    """Killed in its second iteration's labelling, a rerun continues after the first
    (saved) iteration and ends where the uninterrupted run ends: the same iterations,
    labels and committee weights, bit for bit. Another fingerprint starts over."""
    from mlpmf.checkpoint import Checkpoint
    from mlpmf.training import train_committee

    one_basin = [f for f in labelled_dimers(120, 0) if f.get_distance(0, 1) < 3.0][:40]
    committee, _ = train_committee(one_basin, DESCRIPTOR, SETTINGS.replace(epochs=30), seed=1)
    settings = ActiveLearningSettings(
        max_iterations=3, frames_per_iteration=3, steps_per_iteration=300, check_every=20,
        retrain_epochs=10, trust=TrustSettings(lower_ev_a=0.1, upper_ev_a=5.0),
    )  # fmt: skip

    def run(oracle, checkpoint=None):
        windows = ExplorationWindows(
            Atoms("Ar2", positions=[[0, 0, 0], [2.8, 0, 0]]),
            [UmbrellaBias(Distance((0, 1)), c, 400.0) for c in np.linspace(2.6, 3.6, 4)],
            LangevinSettings(300.0, 2.0, 0.01),
        )
        return run_active_learning(
            committee, LearningData(one_basin, labelled_dimers(10, 11)), windows,
            RobustOracle([oracle]), settings, Retraining(DESCRIPTOR, SETTINGS), seed=3,
            checkpoint=checkpoint,
        )  # fmt: skip

    uninterrupted = run(DoubleWellBond())
    first_labels = uninterrupted.iterations[0]["labelled"]
    assert len(uninterrupted.iterations) >= 2 and first_labels > 0
    checkpoint = Checkpoint(tmp_path / "active_learning.pt", "same settings")
    with pytest.raises(KeyboardInterrupt):
        run(DiesAtCall(first_labels + 1), checkpoint)  # the second iteration's first label
    assert checkpoint.load()["iteration"] == 1
    counting = DiesAtCall(kill_at=0)  # never killed: counts the rerun's oracle calls
    resumed = run(counting, checkpoint)
    assert counting.calls == len(uninterrupted.oracle_log) - first_labels  # from iteration 2
    assert resumed.iterations == uninterrupted.iterations
    timeless = lambda log: [{**row, "seconds": 0} for row in log]  # noqa: E731
    assert timeless(resumed.oracle_log) == timeless(uninterrupted.oracle_log)
    for name, value in uninterrupted.committee.state_dict().items():
        np.testing.assert_array_equal(resumed.committee.state_dict()[name], value)
    assert Checkpoint(checkpoint.path, "other settings").load() is None


def test_exploration_feels_the_wall_the_windows_feel():
    """A wall (here on the bond, as on a path's z) holds the exploring replicas as it
    holds the windows: the replica restrained at 3.7 Å by 400 kJ/mol/Å² sits where the
    wall above 3.3 Å (2000 kJ/mol/Å²) balances its window, 3.367 Å, within 4 of its
    thermal widths sqrt(kT / 2400 kJ/mol/Å²) = 0.032 Å (its mean within 1.5)."""
    from mlpmf.pathcv import UpperWall
    from mlpmf.training import train_committee

    committee, _ = train_committee(labelled_dimers(160, 2), DESCRIPTOR, SETTINGS, seed=4)
    cv = Distance((0, 1))
    settings = ActiveLearningSettings(
        max_iterations=1, steps_per_iteration=400, check_every=20, confirm_steps=400,
        trust=TrustSettings(lower_ev_a=5.0, upper_ev_a=50.0),  # nothing can trigger
    )  # fmt: skip
    traces = {}
    for wall in (None, UpperWall(cv, 3.3, 2000.0)):
        windows = ExplorationWindows(
            Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]]),
            [UmbrellaBias(cv, c, 400.0) for c in (2.8, 3.7)],
            LangevinSettings(300.0, 2.0, 0.01), wall=wall,
        )  # fmt: skip
        result = run_active_learning(
            committee, LearningData(labelled_dimers(160, 2), labelled_dimers(20, 3)),
            windows, RobustOracle([DoubleWellBond()]), settings,
            Retraining(DESCRIPTOR, SETTINGS), seed=5,
        )  # fmt: skip
        trace = pd.DataFrame(result.trace)
        traces[wall is None] = trace[trace["replica"] == 1]["cv"].to_numpy()[5:]
    free, walled = traces[True], traces[False]
    assert free.mean() > 3.55  # the window's own place
    balance, width = (400.0 * 3.7 + 2000.0 * 3.3) / 2400.0, np.sqrt(2.494 / 2400.0)
    assert abs(walled.mean() - balance) < 1.5 * width and walled.max() < balance + 4 * width
