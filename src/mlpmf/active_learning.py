"""Active learning: committee MD that asks the oracle where the committee disagrees.

One iteration is explore -> select -> label -> retrain (exploration, the quiet-round
test and the selection live in :mod:`mlpmf.exploration`):

1. **Explore**: replicas restrained along the CV (the umbrella windows, so the whole CV
   range is visited) run Langevin MD on the committee's mean force, all in one batched
   system. Every ``check_every`` steps each replica's committee disagreement is
   measured — the largest difference between any two members' forces on any atom. A
   replica whose disagreement exceeds the lower trust level (the trigger) pauses
   there: that frame is a candidate. Above the upper trust level a frame reached by MD
   is no longer trusted (the committee has driven it somewhere unphysical): the
   replica goes back to its last checked frame below the trigger, and the frame is not
   labelled. A replica's starting frame (built from the input structure, or labelled
   in the previous iteration) is checked first and labelled whenever it is above the
   trigger.
2. **Select** up to ``frames_per_iteration`` candidates, the most uncertain first.
3. **Label** them with the oracle (:class:`mlpmf.robust.RobustOracle`: retried with
   safer settings, failures recorded and skipped).
4. **Retrain** the committee on the enlarged dataset, warm-started from its weights,
   and recalibrate its trust levels (:func:`mlpmf.trustlevels.trust_levels`), unless
   the config fixes them, on frames it was not trained on: the held-out test frames
   and the retraining's validation frames, which include labels from the regions
   active learning has reached (the test frames alone cover only the initial data).

Paused replicas continue from where they stopped under the retrained committee. The
loop stops after a quiet round, or after ``max_iterations``: a round is quiet when no
frame reached the upper level and, in every replica, at most ``converged_fraction`` of
its checked frames lie above the trigger (DP-GEN's convergence rule, its
``conv_accuracy``; with 0 a single frame above the trigger keeps the loop going; a
committee's noise has tails, so over a long enough run some frame always exceeds any
finite trigger). A quiet round is
extended until every replica has run ``confirm_steps`` (by default as long as a window
runs, equilibration included), and must stay quiet all along: a window must not meet
what exploration never saw; at its end each replica's share is also taken over the
checks it made (a replica paused at a candidate in every sub-round makes few). The
frames a quiet round found above the trigger are not labelled: the committee that
passed is the one the windows use.
Both disagreement metrics are reported: the pairwise one that triggers, and DP-GEN's
(the largest per-atom norm of the members' force standard deviation, which for two
members is half the pairwise difference).
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from mlpmf.calculator import BatchedCommittee
from mlpmf.checkpoint import Checkpoint
from mlpmf.dynamics import (
    Bias,
    LangevinSettings,
    fixed_atom_mask,
    walled,
)
from mlpmf.exploration import Candidate, Replica, explore, is_quiet, select
from mlpmf.models import Committee
from mlpmf.pathcv import UpperWall
from mlpmf.placement import move_to_window, nearest_positions
from mlpmf.robust import RobustOracle
from mlpmf.settings import ActiveLearningSettings, CommitteeSettings
from mlpmf.training import train_committee
from mlpmf.trustlevels import TrustLevels, calibrated_trust

log = logging.getLogger(__name__)


def label(
    candidates: Sequence[Candidate],
    oracle: RobustOracle,
    iteration: int,
    ceiling_ev: float = np.inf,
):
    """Oracle labels of ``candidates``: the labelled frames and one log row per call.
    A frame whose oracle energy lies above ``ceiling_ev`` is logged as ``strained`` and
    not returned: the committee drove it (or a replica's start was turned) into a
    geometry no thermal trajectory reaches, and one such frame, tens of eV above the
    rest, takes over the energy loss and spoils the retrained committee everywhere."""
    frames, rows = [], []
    for candidate in candidates:
        labelled = oracle.label(candidate.atoms)
        row = {
            "iteration": iteration,
            "replica": candidate.replica,
            "step": candidate.step,
            "cv": candidate.cv,
            "disagreement_ev_a": candidate.disagreement_ev_a,
            "dpgen_deviation_ev_a": candidate.dpgen_deviation_ev_a,
            "energy_ev": np.nan,
            "max_force_ev_a": np.nan,
            "status": "failed",
            "seconds": oracle.last_seconds,
        }
        if labelled is not None:
            energy, forces = labelled
            frame = candidate.atoms.copy()
            frame.calc = SinglePointCalculator(frame, energy=energy, forces=forces)
            strained = energy > ceiling_ev
            if not strained:
                frames.append(frame)
            row.update(
                energy_ev=energy,
                max_force_ev_a=float(np.linalg.norm(forces, axis=1).max()),
                status="strained" if strained else "labelled",
            )
        rows.append(row)
    return frames, rows


@dataclass
class ActiveLearningResult:
    committee: Committee
    frames: list[Atoms]  # the final training set
    oracle_log: list[dict]  # one row per oracle call
    iterations: list[dict]  # one row per iteration
    trace: list[dict]  # every disagreement check
    converged: bool
    trust: TrustLevels | None = None  # of the final committee


@dataclass(frozen=True)
class LearningData:
    """The committee's data: the ``frames`` it trains on, ``held_out`` frames (never
    trained on) that calibrate its trust levels, never below their fraction of
    ``force_scale_ev_a`` (:func:`mlpmf.trustlevels.thermal_force_scale`), and, with
    ``max_energy_above_minimum_ev`` (the reference data's own filter), how far above the
    lowest frame a label may lie and still be trained on."""

    frames: Sequence[Atoms]
    held_out: Sequence[Atoms]
    force_scale_ev_a: float = 0.0
    max_energy_above_minimum_ev: float | None = None


@dataclass(frozen=True)
class ExplorationWindows:
    """Where the replicas explore: one per umbrella window (``biases``) of ``structure``,
    Langevin MD ``md``; with ``exchange_every`` > 0 exchanging configurations within
    their set as the windows will; ``sets`` (one per bias) the set of
    ``umbrella.repeats`` each belongs to, whose start frames are the r-th structurally
    distinct within ``start_thermal_energy_kj_mol`` (kT) of the nearest."""

    structure: Atoms
    biases: Sequence[Bias]
    md: LangevinSettings
    exchange_every: int = 0
    sets: Sequence[int] | None = None
    start_thermal_energy_kj_mol: float | None = None
    wall: UpperWall | None = None  # on a path's distance z, as in the windows


@dataclass(frozen=True)
class Retraining:
    """How the committee retrains on new labels: the descriptor's settings, the
    committee's training settings (its epochs replaced by ``retrain_epochs``) and the
    device."""

    descriptor_settings: Mapping
    committee_settings: CommitteeSettings
    device: str = "cpu"


def run_active_learning(
    committee: Committee,
    data: LearningData,
    windows: ExplorationWindows,
    oracle: RobustOracle,
    settings: ActiveLearningSettings,
    retraining: Retraining,
    seed: int,
    checkpoint: Checkpoint | None = None,
) -> ActiveLearningResult:
    """Iterate explore -> select -> label -> retrain (module docstring).

    The replicas (``windows``) start where their windows will: from the training frame
    nearest each centre (an equilibrated geometry; the structure when none fits), moved
    onto the centre; in set r > 0 of ``umbrella.repeats`` from the r-th structurally
    distinct frame within kT of it (:func:`mlpmf.placement.nearest_positions`), so that
    exploration meets the slow states every set of windows starts in; with replica
    exchange (:func:`mlpmf.exploration.exchange_within_sets`) exploration meets what
    exchange brings into a window. The held-out frames of ``data`` calibrate the trust
    levels; labels above its energy ceiling are not trained on (:func:`label`), and
    their replicas go back to their last trusted frame. With ``checkpoint``, the whole
    state is saved after every iteration and a rerun continues after the last saved one
    when its fingerprint matches (:mod:`mlpmf.checkpoint`). All randomness derives from
    ``seed``.
    """
    structure, biases, md = windows.structure, windows.biases, windows.md
    frames, held_out, force_scale_ev_a = data.frames, data.held_out, data.force_scale_ev_a
    max_energy_above_minimum_ev = data.max_energy_above_minimum_ev
    exchange_every, sets = windows.exchange_every, windows.sets
    descriptor_settings, committee_settings, device = (
        retraining.descriptor_settings,
        retraining.committee_settings,
        retraining.device,
    )
    seeds = np.random.SeedSequence(seed)
    replica_seeds, retrain_seed = seeds.spawn(2)
    replicas = []
    sets = [0] * len(biases) if sets is None else [int(r) for r in sets]
    starts = nearest_positions(
        biases, structure.positions, structure.numbers, frames, sets,
        windows.start_thermal_energy_kj_mol,
    )  # fmt: skip
    children = replica_seeds.spawn(len(biases))
    for k, (bias, child, start) in enumerate(zip(biases, children, starts, strict=True)):
        atoms = structure.copy()
        atoms.positions = move_to_window(
            bias, start, numbers=atoms.numbers, movable=~fixed_atom_mask(atoms)
        )
        rng = np.random.default_rng(child)
        trusted = (atoms.positions.copy(), np.zeros_like(atoms.positions))
        replicas.append(Replica(k, atoms, bias, rng, *trusted, group=sets[k]))
    frames = list(frames)
    result = ActiveLearningResult(committee, frames, [], [], [], converged=False)
    result.trust = calibrated_trust(committee, held_out, settings.trust, force_scale_ev_a)
    ceiling_ev = np.inf
    if max_energy_above_minimum_ev is not None and frames:
        lowest = min(frame.get_potential_energy() for frame in frames)
        ceiling_ev = lowest + max_energy_above_minimum_ev
    retrain_seeds = retrain_seed.generate_state(max(settings.max_iterations, 1))
    retraining = committee_settings.replace(epochs=settings.retrain_epochs)
    first, step = 1, 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        result, replicas, first = saved["result"], saved["replicas"], saved["iteration"] + 1
        frames, step = result.frames, saved["step"]
        log.info("resuming active learning after iteration %d", saved["iteration"])
        if result.converged:
            return result
    for iteration in range(first, settings.max_iterations + 1):
        trust = result.trust

        def round_from(first_step, trust=trust, iteration=iteration):
            return explore(
                walled(BatchedCommittee(result.committee), windows.wall), replicas, md,
                settings, trust, iteration, first_step, exchange_every=exchange_every,
            )  # fmt: skip

        round_ = round_from(step)
        step += settings.steps_per_iteration
        steps_run = settings.steps_per_iteration
        while is_quiet(round_, settings) and steps_run < settings.confirm_steps:
            # confirm: a quiet round counts only once the replicas have run as long as
            # a window will, so rare excursions (slow side-chain or backbone moves)
            # that a short round misses are found here rather than in the windows
            for candidate in round_.candidates:
                replicas[candidate.replica].offered = True  # seen: move on
            more = round_from(step)
            step += settings.steps_per_iteration
            steps_run += settings.steps_per_iteration
            round_.md_steps += more.md_steps
            round_.candidates += more.candidates
            round_.untrusted += more.untrusted
            round_.trace += more.trace
        result.trace += round_.trace
        result.converged = is_quiet(round_, settings, complete=True)
        count = 0 if result.converged else settings.frames_per_iteration
        chosen = select(round_.candidates, count)
        new_frames, rows = label(chosen, oracle, iteration, ceiling_ev)
        for candidate, row in zip(chosen, rows, strict=True):
            replicas[candidate.replica].offered = True
            if row["status"] == "strained":
                replicas[candidate.replica].go_back()
        result.oracle_log += rows
        summary = {
            "iteration": iteration,
            "md_steps": round_.md_steps,
            "trigger_ev_a": trust.lower_ev_a,
            "upper_ev_a": trust.upper_ev_a,
            "candidates": len(round_.candidates),
            "checks": len(round_.trace),
            "untrusted": round_.untrusted,
            "labelled": len(new_frames),
            "strained": sum(row["status"] == "strained" for row in rows),
            "failed": sum(row["status"] == "failed" for row in rows),
            "max_disagreement_ev_a": max(
                (t["disagreement_ev_a"] for t in round_.trace), default=0.0
            ),
            "training_frames": len(frames) + len(new_frames),
        }
        result.iterations.append(summary)
        log.info("active learning iteration %d: %s", iteration, summary)
        frames += new_frames
        result.frames = frames
        if new_frames:
            result.committee, history = train_committee(
                frames, descriptor_settings, retraining, int(retrain_seeds[iteration - 1]),
                device, initial=result.committee,
            )  # fmt: skip
            unseen = [*held_out, *(frames[i] for i in history["validation_frames"])]
            result.trust = calibrated_trust(
                result.committee, unseen, settings.trust, force_scale_ev_a
            )
        if checkpoint is not None:
            checkpoint.save(
                {"result": result, "replicas": replicas, "iteration": iteration, "step": step}
            )
        if result.converged:
            break
    return result
