"""Exploration, the first step of an active-learning iteration: committee MD along the
CV that stops where the committee disagrees (see :mod:`mlpmf.active_learning`), the
test of a quiet round, and the choice of the frames the oracle labels."""

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from tqdm import tqdm

from mlpmf.dynamics import (
    Bias,
    LangevinSettings,
    SimulationError,
    StepHooks,
    integrate,
)
from mlpmf.settings import ActiveLearningSettings
from mlpmf.trustlevels import TrustLevels
from mlpmf.umbrella import ReplicaExchange

log = logging.getLogger(__name__)


@dataclass
class Replica:
    """One exploring replica: its bias, random stream and last trusted state."""

    index: int
    atoms: Atoms
    bias: Bias
    rng: np.random.Generator
    trusted_positions: np.ndarray
    trusted_momenta: np.ndarray
    paused: bool = False
    offered: bool = False  # its current frame already went to the oracle
    group: int = 0  # its set of windows (umbrella.repeats): it exchanges within it only

    def go_back(self) -> None:
        """Return to the last trusted frame."""
        self.atoms.positions = self.trusted_positions.copy()
        self.atoms.set_momenta(self.trusted_momenta.copy(), apply_constraint=False)

    def trust_here(self) -> None:
        self.trusted_positions = self.atoms.positions.copy()
        self.trusted_momenta = self.atoms.get_momenta().copy()


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
    evaluate: Callable,
    replicas: Sequence[Replica],
    md: LangevinSettings,
    settings: ActiveLearningSettings,
    trust: TrustLevels,
    iteration: int,
    first_step: int,
    exchange_every: int = 0,
) -> ExplorationRound:
    """Run the unpaused replicas for ``settings.steps_per_iteration`` steps on
    ``evaluate`` (the committee's force field, :class:`mlpmf.calculator.BatchedCommittee`,
    with a path's wall where the study sets one; module docstring); with
    ``exchange_every``, running replicas exchange configurations with their running
    neighbours in centre within their set every that many steps
    (:func:`exchange_within_sets`)."""
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
    chunks = range(0, settings.steps_per_iteration, settings.check_every)
    progress = tqdm(chunks, desc=f"exploring (iteration {iteration})", mininterval=10)
    for chunk_start in progress:
        if not active:
            break
        progress.set_postfix(running=len(active), candidates=len(result.candidates), refresh=False)
        result.md_steps += settings.check_every * len(active)
        exchange = None
        if exchange_every > 0:
            offset = first_step + chunk_start
            exchange = exchange_within_sets(active, md.temperature_k, exchange_every, offset)
        try:
            integrate(
                [r.atoms for r in active],
                md,
                settings.check_every,
                [r.rng for r in active],
                [r.bias for r in active],
                evaluate,
                StepHooks(disagreement_at=lambda _step: False, exchange=exchange),
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


def exchange_within_sets(
    replicas: Sequence[Replica], temperature_k: float, every_steps: int, first_step: int
) -> Callable | None:
    """Replica exchange (:class:`mlpmf.umbrella.ReplicaExchange`) among ``replicas``,
    within each of their sets (``Replica.group``): the windows of different sets of
    ``umbrella.repeats`` never exchange, so exploration does not either. Steps count from
    ``first_step``; None when no set has two replicas."""
    sets: dict[int, list[int]] = {}
    for k, replica in enumerate(replicas):
        sets.setdefault(replica.group, []).append(k)
    swaps = [
        (members, ReplicaExchange(
            [replicas[k].bias for k in members], [replicas[k].rng for k in members],
            temperature_k, every_steps,
        ))
        for members in sets.values() if len(members) > 1
    ]  # fmt: skip
    if not swaps:
        return None

    def exchange(step: int, positions: list, momenta: list, results: list) -> list[int]:
        if (first_step + step) % every_steps:  # called every MD step: most try nothing
            return []
        changed = []
        for members, swap in swaps:
            state = [[values[k] for k in members] for values in (positions, momenta, results)]
            for m in swap(first_step + step, *state):
                k = members[m]
                positions[k], momenta[k], results[k] = state[0][m], state[1][m], state[2][m]
                changed.append(k)
        return changed

    return exchange


def is_quiet(
    round_: ExplorationRound, settings: ActiveLearningSettings, complete: bool = False
) -> bool:
    """No frame above the upper level, and in every replica few enough checks above the
    trigger (module docstring). Per replica, as windows are judged (:mod:`mlpmf.trust`):
    counted over all replicas, a few replicas that keep meeting candidates (and so keep
    pausing, with few checks of their own) would drown in the quiet ones. A
    ``complete`` round (the verdict that ends the loop) must also be quiet over the
    checks each replica made, not only over those it was planned to make."""
    if round_.untrusted:
        return False
    checks = np.bincount([t["replica"] for t in round_.trace], minlength=1)
    found = np.bincount([c.replica for c in round_.candidates], minlength=1)
    size = max(len(checks), len(found))
    checks, found = np.pad(checks, (0, size - len(checks))), np.pad(found, (0, size - len(found)))
    # out of the checks a replica makes over the whole (extended) round: a candidate early
    # on is not yet a verdict; one that pauses a replica costs it at most one sub-round
    planned = max(settings.confirm_steps, settings.steps_per_iteration) // settings.check_every
    fraction = settings.converged_fraction
    quiet = found <= fraction * np.maximum(checks, planned)
    if complete:  # and out of the checks it did make: a replica that meets a candidate
        # in every sub-round pauses at each, so it makes few checks, and over the planned
        # ones its candidates would look rare (H2O2 near cis: 11 in 26 checks passed as
        # 0.5%, and the windows there came out untrusted)
        quiet &= found <= np.maximum(fraction * checks, 1.0)
    return bool(np.all(quiet))


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
