"""Active learning: committee MD that asks the oracle where the committee disagrees.

One iteration is explore -> select -> label -> retrain:

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
3. **Label** them with the oracle (:class:`mlpmf.oracles.RobustOracle`: retried with
   safer settings, failures recorded and skipped).
4. **Retrain** the committee on the enlarged dataset, warm-started from its weights,
   and recalibrate its trust levels (:func:`mlpmf.evaluation.trust_levels`), unless
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
what exploration never saw. The frames a quiet round found above the trigger are not
labelled: the committee that passed is the one the windows use.
Both disagreement metrics are reported: the pairwise one that triggers, and DP-GEN's
(the largest per-atom norm of the members' force standard deviation, which for two
members is half the pairwise difference).
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from tqdm import tqdm

from mlpmf.calculator import BatchedCommittee
from mlpmf.colvars import move_to_value, nearest_positions
from mlpmf.config import settings_values
from mlpmf.dynamics import (
    LangevinSettings,
    SimulationError,
    UmbrellaBias,
    fixed_atom_mask,
    integrate,
)
from mlpmf.evaluation import TrustLevels, TrustSettings, calibrated_trust
from mlpmf.io import atomic_path
from mlpmf.models import Committee
from mlpmf.oracles import RobustOracle
from mlpmf.training import CommitteeSettings, train_committee
from mlpmf.umbrella import ReplicaExchange

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveLearningSettings:
    """The config's ``active_learning`` section (temperature in K)."""

    max_iterations: int = 0
    frames_per_iteration: int = 12
    steps_per_iteration: int = 2000
    confirm_steps: int = 0  # a quiet round ends the loop only after this many quiet steps
    converged_fraction: float = 0.01  # of checked frames above the trigger, in a quiet round
    check_every: int = 20
    temperature_k: float | None = None  # None: the study's
    retrain_epochs: int = 60
    trust: TrustSettings = TrustSettings()

    @classmethod
    def from_config(cls, section: Mapping) -> "ActiveLearningSettings":
        values = settings_values(cls, section, exclude=frozenset({"trust"}))
        return cls(**values, trust=TrustSettings.from_config(section))


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

    def go_back(self) -> None:
        """Return to the last trusted frame."""
        self.atoms.positions = self.trusted_positions.copy()
        self.atoms.set_velocities(self.trusted_velocities.copy())

    def trust_here(self) -> None:
        self.trusted_positions = self.atoms.positions.copy()
        self.trusted_velocities = self.atoms.get_velocities().copy()


@dataclass
class Candidate:
    """A frame where the committee disagreed, waiting for the oracle."""

    replica: int
    step: int
    cv: float
    disagreement_ev_a: float
    dpgen_deviation_ev_a: float
    atoms: Atoms

    @classmethod
    def at(cls, replica: Replica, step: int, report: Mapping) -> "Candidate":
        """The replica's current frame, with the committee's disagreement there."""
        return cls(
            replica.index,
            step,
            replica.bias.cv.value(replica.atoms.positions),
            float(np.max(report["force_disagreement"])),
            float(np.max(report["force_deviation"])),
            replica.atoms.copy(),
        )


@dataclass
class ExplorationRound:
    """What one exploration round saw."""

    md_steps: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    untrusted: int = 0  # frames above the upper level (or blown apart), sent back
    trace: list[dict] = field(default_factory=list)  # every check of every replica


def explore(
    committee: Committee,
    replicas: Sequence[Replica],
    md: LangevinSettings,
    settings: ActiveLearningSettings,
    trust: TrustLevels,
    iteration: int,
    first_step: int,
    steps: int | None = None,
    exchange_every: int = 0,
) -> ExplorationRound:
    """Run the unpaused replicas for ``steps`` (default ``steps_per_iteration``) steps
    (module docstring); with ``exchange_every``, running replicas exchange
    configurations with their running neighbours in centre every that many steps."""
    evaluate = BatchedCommittee(committee)
    result = ExplorationRound()
    for replica in replicas:
        replica.paused = False
    # where each replica stands now (its constructed start, or a frame just labelled)
    # is a sound geometry: if the committee disagrees there, label it whatever the size
    active = []
    reports = evaluate([r.atoms for r in replicas], with_disagreement=True)
    for replica, report in zip(replicas, reports, strict=True):
        if float(np.max(report["force_disagreement"])) > trust.lower_ev_a and not replica.offered:
            replica.paused = True
            result.candidates.append(Candidate.at(replica, first_step, report))
        else:
            replica.offered = False  # it moves on
            active.append(replica)
    chunks = range(0, steps or settings.steps_per_iteration, settings.check_every)
    progress = tqdm(chunks, desc=f"exploring (iteration {iteration})", mininterval=10)
    for chunk_start in progress:
        if not active:
            break
        progress.set_postfix(running=len(active), candidates=len(result.candidates), refresh=False)
        result.md_steps += settings.check_every * len(active)
        exchange = None
        if exchange_every > 0 and len(active) > 1:
            swaps = ReplicaExchange(
                [r.bias for r in active], [r.rng for r in active], md.temperature_k, exchange_every
            )

            def exchange(step, *state, offset=first_step + chunk_start, swaps=swaps):
                return swaps(offset + step, *state)

        try:
            integrate(
                [r.atoms for r in active],
                md,
                settings.check_every,
                [r.rng for r in active],
                [r.bias for r in active],
                evaluate,
                disagreement_at=lambda _step: False,
                exchange=exchange,
            )
        except SimulationError as error:
            # the committee blew a replica apart between checks: every replica of the
            # chunk goes back to its last trusted frame and tries again
            log.info("exploration chunk discarded: %s", error)
            result.untrusted += 1
            for replica in active:
                replica.go_back()
            continue
        step = first_step + chunk_start + settings.check_every
        reports = evaluate([r.atoms for r in active], with_disagreement=True)
        still_active = []
        for replica, report in zip(active, reports, strict=True):
            candidate = Candidate.at(replica, step, report)
            result.trace.append(
                {
                    "iteration": iteration,
                    "replica": replica.index,
                    "step": step,
                    "cv": candidate.cv,
                    "disagreement_ev_a": candidate.disagreement_ev_a,
                    "dpgen_deviation_ev_a": candidate.dpgen_deviation_ev_a,
                }
            )
            if candidate.disagreement_ev_a > trust.upper_ev_a:
                result.untrusted += 1
                replica.go_back()
                still_active.append(replica)
            elif candidate.disagreement_ev_a > trust.lower_ev_a:
                replica.paused = True
                result.candidates.append(candidate)
            else:
                replica.trust_here()
                still_active.append(replica)
        active = still_active
    return result


def is_quiet(round_: ExplorationRound, settings: ActiveLearningSettings) -> bool:
    """No frame above the upper level, and in every replica few enough checks above the
    trigger (module docstring). Per replica, as windows are judged (:mod:`mlpmf.trust`):
    counted over all replicas, a few replicas that keep meeting candidates (and so keep
    pausing, with few checks of their own) would drown in the quiet ones."""
    if round_.untrusted:
        return False
    checks = np.bincount([t["replica"] for t in round_.trace], minlength=1)
    found = np.bincount([c.replica for c in round_.candidates], minlength=1)
    size = max(len(checks), len(found))
    checks, found = np.pad(checks, (0, size - len(checks))), np.pad(found, (0, size - len(found)))
    # out of the checks a replica makes over the whole (extended) round: a candidate early
    # on is not yet a verdict; one that pauses a replica costs it at most one sub-round
    planned = max(settings.confirm_steps, settings.steps_per_iteration) // settings.check_every
    return bool(np.all(found <= settings.converged_fraction * np.maximum(checks, planned)))


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


@dataclass
class ActiveLearningResult:
    committee: Committee
    frames: list[Atoms]  # the final training set
    oracle_log: list[dict]  # one row per oracle call
    iterations: list[dict]  # one row per iteration
    trace: list[dict]  # every disagreement check
    converged: bool
    trust: TrustLevels | None = None  # of the final committee


def run_active_learning(
    committee: Committee,
    frames: Sequence[Atoms],
    held_out: Sequence[Atoms],
    structure: Atoms,
    biases: Sequence[UmbrellaBias],
    oracle: RobustOracle,
    md: LangevinSettings,
    settings: ActiveLearningSettings,
    descriptor_settings: Mapping,
    committee_settings: CommitteeSettings,
    seed: int,
    device: str = "cpu",
    checkpoint: Path | None = None,
    force_scale_ev_a: float = 0.0,
    exchange_every: int = 0,
) -> ActiveLearningResult:
    """Iterate explore -> select -> label -> retrain (module docstring).

    ``biases`` define the replicas: each starts from the training frame whose CV is
    nearest its centre (an equilibrated geometry; ``structure`` when none fits), moved
    onto the centre. ``held_out`` frames (never trained on) calibrate the trust levels,
    never below their fraction of ``force_scale_ev_a``
    (:func:`mlpmf.evaluation.thermal_force_scale`). With
    ``checkpoint``, the whole state is saved after every iteration and a rerun
    continues after the last saved one (delete it to start over). All randomness
    derives from ``seed``. ``exchange_every`` > 0: the replicas exchange configurations
    as the windows will (:class:`mlpmf.umbrella.ReplicaExchange`), so exploration meets
    what replica exchange brings into a window.
    """
    seeds = np.random.SeedSequence(seed)
    replica_seeds, retrain_seed = seeds.spawn(2)
    replicas = []
    centers = [bias.center for bias in biases]
    starts = nearest_positions(
        biases[0].cv, structure.positions, structure.numbers, frames, centers
    ) if biases else []  # fmt: skip
    children = replica_seeds.spawn(len(biases))
    for k, (bias, child, start) in enumerate(zip(biases, children, starts, strict=True)):
        atoms = structure.copy()
        atoms.positions = move_to_value(
            bias.cv, start, bias.center, numbers=atoms.numbers, movable=~fixed_atom_mask(atoms)
        )
        rng = np.random.default_rng(child)
        trusted = (atoms.positions.copy(), np.zeros_like(atoms.positions))
        replicas.append(Replica(k, atoms, bias, rng, *trusted))
    frames = list(frames)
    result = ActiveLearningResult(committee, frames, [], [], [], converged=False)
    result.trust = calibrated_trust(committee, held_out, settings.trust, force_scale_ev_a)
    retrain_seeds = retrain_seed.generate_state(max(settings.max_iterations, 1))
    retraining = committee_settings.replace(epochs=settings.retrain_epochs)
    first = 1
    if checkpoint is not None and Path(checkpoint).exists():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        result, replicas, first = saved["result"], saved["replicas"], saved["iteration"] + 1
        frames = result.frames
        log.info("resuming active learning after iteration %d", saved["iteration"])
        if result.converged:
            return result
    step = 0
    if checkpoint is not None and Path(checkpoint).exists():
        step = saved["step"]
    for iteration in range(first, settings.max_iterations + 1):
        trust = result.trust

        def round_from(first_step, trust=trust, iteration=iteration):
            return explore(
                result.committee, replicas, md, settings, trust, iteration, first_step,
                exchange_every=exchange_every,
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
        result.converged = is_quiet(round_, settings)
        count = 0 if result.converged else settings.frames_per_iteration
        chosen = select(round_.candidates, count)
        new_frames, rows = label(chosen, oracle, iteration)
        for candidate in chosen:
            replicas[candidate.replica].offered = True
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
            "failed": len(rows) - len(new_frames),
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
            with atomic_path(checkpoint) as tmp:
                state = {
                    "result": result,
                    "replicas": replicas,
                    "iteration": iteration,
                    "step": step,
                }
                torch.save(state, tmp)
        if result.converged:
            break
    return result
