"""Active learning: committee MD that asks the oracle where the committee disagrees.

One iteration is explore -> select -> label -> retrain:

1. **Explore**: replicas restrained along the CV (the umbrella windows, so the whole CV
   range is visited) run Langevin MD on the committee's mean force, all in one batched
   system. Every ``check_every`` steps each replica's committee disagreement is
   measured — the largest difference between any two members' forces on any atom. A
   replica whose disagreement exceeds ``force_disagreement_ev_a`` pauses there: that
   frame is a candidate. Above ``upper_disagreement_ev_a`` a frame reached by MD is no
   longer trusted (the committee has driven it somewhere unphysical): the replica goes
   back to its last checked frame below the threshold, and the frame is not labelled.
   A replica's starting frame (built from the input structure, or labelled in the
   previous iteration) is checked first and labelled whenever it is above the trigger.
2. **Select** up to ``frames_per_iteration`` candidates, the most uncertain first.
3. **Label** them with the oracle (:class:`mlpmf.oracles.RobustOracle`: retried with
   safer settings, failures recorded and skipped).
4. **Retrain** the committee on the enlarged dataset, warm-started from its weights.

Paused replicas continue from where they stopped under the retrained committee. The
loop stops when a whole exploration round stays below the threshold, or after
``max_iterations``. Both disagreement metrics are reported: the pairwise one that
triggers, and DP-GEN's (the largest per-atom norm of the members' force standard
deviation, which for two members is half the pairwise difference).
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from mlpmf.calculator import BatchedCommittee, IsolatedAtomError
from mlpmf.colvars import move_to_value
from mlpmf.dynamics import LangevinSettings, SimulationError, UmbrellaBias, integrate
from mlpmf.io import atomic_path
from mlpmf.models import Committee
from mlpmf.oracles import RobustOracle
from mlpmf.training import train_committee

log = logging.getLogger(__name__)


@dataclass
class Replica:
    """One exploring replica: its bias, random stream and last trusted state."""

    index: int
    atoms: Atoms
    bias: UmbrellaBias
    rng: np.random.Generator
    trusted_positions: np.ndarray
    trusted_velocities: np.ndarray
    paused: bool = False
    offered: bool = False  # its current frame already went to the oracle


@dataclass
class Candidate:
    """A frame where the committee disagreed, waiting for the oracle."""

    replica: int
    step: int
    cv: float
    disagreement_ev_a: float
    dpgen_deviation_ev_a: float
    atoms: Atoms


@dataclass
class ExplorationRound:
    """What one exploration round saw."""

    md_steps: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    untrusted: int = 0  # frames above the upper threshold, sent back
    trace: list[dict] = field(default_factory=list)  # every check of every replica


def explore(
    committee: Committee,
    replicas: Sequence[Replica],
    settings: LangevinSettings,
    al_settings: Mapping,
    iteration: int,
    first_step: int,
) -> ExplorationRound:
    """Run the unpaused replicas for ``steps_per_iteration`` steps (module docstring)."""
    threshold = al_settings["force_disagreement_ev_a"]
    upper = al_settings["upper_disagreement_ev_a"] or np.inf
    check_every = al_settings["check_every"]
    evaluate = BatchedCommittee(committee)
    result = ExplorationRound()
    for replica in replicas:
        replica.paused = False
    # where each replica stands now (its constructed start, or a frame just labelled)
    # is a sound geometry: if the committee disagrees there, label it whatever the size
    active = []
    reports = evaluate([r.atoms for r in replicas], with_disagreement=True)
    for replica, report in zip(replicas, reports, strict=True):
        disagreement = float(np.max(report["force_disagreement"]))
        if disagreement > threshold and not replica.offered:
            replica.paused = True
            deviation = float(np.max(report["force_deviation"]))
            cv = replica.bias.cv.value(replica.atoms.positions)
            frame = replica.atoms.copy()
            candidate = Candidate(replica.index, first_step, cv, disagreement, deviation, frame)
            result.candidates.append(candidate)
        else:
            replica.offered = False  # it moves on
            active.append(replica)
    for chunk_start in range(0, al_settings["steps_per_iteration"], check_every):
        if not active:
            break
        try:
            integrate(
                [r.atoms for r in active],
                settings,
                check_every,
                [r.rng for r in active],
                [r.bias for r in active],
                evaluate,
                disagreement_at=lambda _step: False,
            )
        except (IsolatedAtomError, SimulationError) as error:
            # the committee blew a replica apart between checks: every replica of the
            # chunk goes back to its last trusted frame and tries again
            log.info("exploration chunk discarded: %s", error)
            result.untrusted += 1
            for replica in active:
                replica.atoms.positions = replica.trusted_positions.copy()
                replica.atoms.set_velocities(replica.trusted_velocities.copy())
            result.md_steps += check_every * len(active)
            continue
        result.md_steps += check_every * len(active)
        step = first_step + chunk_start + check_every
        reports = evaluate([r.atoms for r in active], with_disagreement=True)
        still_active = []
        for replica, report in zip(active, reports, strict=True):
            disagreement = float(np.max(report["force_disagreement"]))
            deviation = float(np.max(report["force_deviation"]))
            cv = replica.bias.cv.value(replica.atoms.positions)
            result.trace.append(
                {
                    "iteration": iteration,
                    "replica": replica.index,
                    "step": step,
                    "cv": cv,
                    "disagreement_ev_a": disagreement,
                    "dpgen_deviation_ev_a": deviation,
                }
            )
            if disagreement > upper:
                result.untrusted += 1
                replica.atoms.positions = replica.trusted_positions.copy()
                replica.atoms.set_velocities(replica.trusted_velocities.copy())
                still_active.append(replica)
            elif disagreement > threshold:
                replica.paused = True
                frame = replica.atoms.copy()
                candidate = Candidate(replica.index, step, cv, disagreement, deviation, frame)
                result.candidates.append(candidate)
            else:
                replica.trusted_positions = replica.atoms.positions.copy()
                replica.trusted_velocities = replica.atoms.get_velocities().copy()
                still_active.append(replica)
        active = still_active
    return result


def select(candidates: Sequence[Candidate], count: int) -> list[Candidate]:
    """The ``count`` most uncertain candidates, at most one per replica while replicas
    remain, so that the labels spread over the CV range."""
    ranked = sorted(candidates, key=lambda c: -c.disagreement_ev_a)
    chosen, seen = [], set()
    for candidate in ranked:
        if candidate.replica not in seen and len(chosen) < count:
            chosen.append(candidate)
            seen.add(candidate.replica)
    for candidate in ranked:
        if len(chosen) >= count:
            break
        if candidate not in chosen:
            chosen.append(candidate)
    return chosen


def label(candidates: Sequence[Candidate], oracle: RobustOracle, iteration: int):
    """Oracle labels of ``candidates``: the labelled frames and one log row per call."""
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
        }
        if labelled is not None:
            energy, forces = labelled
            frame = candidate.atoms.copy()
            frame.calc = SinglePointCalculator(frame, energy=energy, forces=forces)
            frames.append(frame)
            row.update(
                energy_ev=energy,
                max_force_ev_a=float(np.linalg.norm(forces, axis=1).max()),
                status="labelled",
            )
        rows.append(row)
    return frames, rows


def retrain(
    committee: Committee,
    frames: Sequence[Atoms],
    descriptor_settings: Mapping,
    committee_settings: Mapping,
    al_settings: Mapping,
    seed: int,
    device: str,
) -> tuple[Committee, dict]:
    """The committee retrained on ``frames``, warm-started from its current weights."""
    settings = {**committee_settings, "epochs": al_settings["retrain_epochs"]}
    return train_committee(frames, descriptor_settings, settings, seed, device, initial=committee)


@dataclass
class ActiveLearningResult:
    committee: Committee
    frames: list[Atoms]  # the final training set
    oracle_log: list[dict]  # one row per oracle call
    iterations: list[dict]  # one row per iteration
    trace: list[dict]  # every disagreement check
    converged: bool


def run_active_learning(
    committee: Committee,
    frames: Sequence[Atoms],
    structure: Atoms,
    biases: Sequence[UmbrellaBias],
    oracle: RobustOracle,
    settings: LangevinSettings,
    al_settings: Mapping,
    descriptor_settings: Mapping,
    committee_settings: Mapping,
    seed: int,
    device: str = "cpu",
    checkpoint: Path | None = None,
) -> ActiveLearningResult:
    """Iterate explore -> select -> label -> retrain (module docstring).

    ``biases`` define the replicas (each starts from ``structure`` moved onto its
    centre). With ``checkpoint``, the whole state is saved after every iteration and
    a rerun continues after the last saved one (delete it to start over). All
    randomness derives from ``seed``.
    """
    seeds = np.random.SeedSequence(seed)
    replica_seeds, retrain_seed = seeds.spawn(2)
    replicas = []
    for k, (bias, child) in enumerate(zip(biases, replica_seeds.spawn(len(biases)), strict=True)):
        atoms = structure.copy()
        atoms.positions = move_to_value(bias.cv, structure.positions, bias.center)
        rng = np.random.default_rng(child)
        trusted = (atoms.positions.copy(), np.zeros_like(atoms.positions))
        replicas.append(Replica(k, atoms, bias, rng, *trusted))
    frames = list(frames)
    result = ActiveLearningResult(committee, frames, [], [], [], converged=False)
    retrain_seeds = retrain_seed.generate_state(al_settings["max_iterations"])
    first = 1
    if checkpoint is not None and Path(checkpoint).exists():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        result, replicas, first = saved["result"], saved["replicas"], saved["iteration"] + 1
        frames = result.frames
        log.info("resuming active learning after iteration %d", saved["iteration"])
        if result.converged:
            return result
    step = (first - 1) * al_settings["steps_per_iteration"]
    for iteration in range(first, al_settings["max_iterations"] + 1):
        round_ = explore(result.committee, replicas, settings, al_settings, iteration, step)
        step += al_settings["steps_per_iteration"]
        result.trace += round_.trace
        chosen = select(round_.candidates, al_settings["frames_per_iteration"])
        new_frames, rows = label(chosen, oracle, iteration)
        for candidate in chosen:
            replicas[candidate.replica].offered = True
        result.oracle_log += rows
        summary = {
            "iteration": iteration,
            "md_steps": round_.md_steps,
            "candidates": len(round_.candidates),
            "untrusted": round_.untrusted,
            "labelled": len(new_frames),
            "failed": len(rows) - len(new_frames),
            "max_disagreement_ev_a": max(
                (t["disagreement_ev_a"] for t in round_.trace), default=0.0
            ),
            "training_frames": len(frames) + len(new_frames),
        }
        result.iterations.append(summary)
        log.info("active learning iteration %d: %s", iteration, summary)
        result.converged = not round_.candidates
        frames += new_frames
        result.frames = frames
        if new_frames:
            result.committee, _ = retrain(
                result.committee, frames, descriptor_settings, committee_settings,
                al_settings, int(retrain_seeds[iteration - 1]), device,
            )  # fmt: skip
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                state = {"result": result, "replicas": replicas, "iteration": iteration}
                torch.save(state, tmp)
        if result.converged:
            break
    return result
