"""Umbrella windows: several integrated as one batch, checkpointed, and (optionally)
exchanging configurations with their neighbours.

**Replica exchange** (Hamiltonian replica exchange umbrella sampling, REUS; Sugita,
Kitao & Okamoto, J. Chem. Phys. 113, 6042 (2000)): every ``exchange_every`` steps,
windows adjacent in centre try to swap configurations (positions and momenta; same
temperature, so no rescaling), alternately the even and the odd pairs, accepted with
probability :math:`\\min(1, e^{-\\Delta})`,
:math:`\\Delta = \beta[U_i(x_j) + U_j(x_i) - U_i(x_i) - U_j(x_j)]`. Only the biases
enter, since all windows share one potential. Each window still samples its own biased
ensemble, so its time series goes to MBAR as before, but a configuration stuck behind a
barrier orthogonal to the CV (alanine dipeptide's psi in a phi window) can leave by
walking to a window where that barrier is crossed. Exchanges happen among the windows
of one job (``umbrella.windows_per_job``); the acceptance test draws from the random
stream of the pair's first window in centre order, so runs stay reproducible and resume
bit for bit. Along a periodic CV whose windows in one job go round the whole period (a
dihedral's windows every 15 deg from -180 to 165), the last and the first window are
neighbours across the seam and exchange too: a ring, so no window is an end that
configurations reach from one side only, and a configuration can travel the whole
circle (on alanine dipeptide's phi it brought the psi basins the windows at phi -150 to
-100 visit close to those of a (phi, psi) oracle run, where two chains of 12 were far
off; it does not make 7 ps windows converge psi at phi > 0).
"""

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from mlpmf.checkpoint import Checkpoint, files_digest, fingerprint
from mlpmf.colvars import CollectiveVariable
from mlpmf.dynamics import (
    Bias,
    ForceField,
    GridBias,
    LangevinSettings,
    StepHooks,
    UmbrellaBias,
    fixed_atom_mask,
    integrate,
    own_calculators,
)
from mlpmf.placement import move_to_window
from mlpmf.robust import RobustOracle
from mlpmf.settings import WindowSettings
from mlpmf.units import kt_ev

log = logging.getLogger(__name__)


DISAGREEMENT_COLUMN = "max_force_disagreement_ev_a"
"""Column of a window table: the committee's largest per-atom force disagreement on
every recorded step, eV/Å; NaN where the potential has no members."""
ORACLE_OFFSET_COLUMN = "oracle_energy_offset_ev"
"""Column of a window table: the oracle's energy minus the model's on every
``oracle_every``-th step, eV; NaN on the other rows (and where the oracle failed)."""
ORACLE_FORCE_COLUMN = "oracle_force_rmse_ev_a"
"""Column of a window table: the RMS over atoms and components of the oracle's forces
minus the model's, eV/Å, on the same rows."""


def member_energy_column(member: int) -> str:
    """Column of a window table: committee member ``member``'s energy minus the mean, eV."""
    return f"member_energy_{member:02d}_ev"


def grid_biases(
    cv: CollectiveVariable,
    grid: Mapping[str, Sequence[float]],
    second: CollectiveVariable | None = None,
) -> list[Bias]:
    """The bias of every window of ``grid`` (columns as :func:`mlpmf.grids.window_grid`:
    ``center``, ``spring_constant`` in kJ/mol per CV unit squared, and with a ``second``
    CV ``center_2``, ``spring_constant_2``)."""
    first = [
        UmbrellaBias(cv, float(c), float(k))
        for c, k in zip(grid["center"], grid["spring_constant"], strict=True)
    ]
    if second is None:
        return first
    return [
        GridBias((bias, UmbrellaBias(second, float(c), float(k))))
        for bias, c, k in zip(first, grid["center_2"], grid["spring_constant_2"], strict=True)
    ]


class ReplicaExchange:
    """Neighbour swaps between umbrella windows of one batch (see the module notes)."""

    def __init__(
        self,
        biases: Sequence[Bias],
        rngs: Sequence[np.random.Generator],
        temperature_k: float,
        every_steps: int,
    ):
        self.biases, self.rngs, self.every = biases, rngs, every_steps
        self.kt = kt_ev(temperature_k)
        centers = np.array([b.center for b in biases], dtype=float)
        self.order = [int(k) for k in np.argsort(centers, kind="stable")]
        self.ring = _closes_a_ring(biases, centers[self.order])
        pairs = len(biases) if self.ring else max(len(biases) - 1, 0)
        self.attempted = np.zeros(pairs, dtype=int)
        self.accepted = np.zeros_like(self.attempted)

    def __call__(self, step: int, positions: list, momenta: list, results: list) -> list[int]:
        if step % self.every:
            return []
        swapped = []
        n, attempt = len(self.order), step // self.every
        if self.ring:  # n // 2 disjoint pairs; an odd ring rotates its start
            start = attempt % 2 if n % 2 == 0 else attempt % n
            slots = [(start + 2 * j) % n for j in range(n // 2)]
        else:
            slots = range(attempt % 2, n - 1, 2)
        for a in slots:
            i, j = self.order[a], self.order[(a + 1) % n]
            bi, bj = self.biases[i], self.biases[j]
            delta = (
                bi.energy(positions[j]) + bj.energy(positions[i])
                - bi.energy(positions[i]) - bj.energy(positions[j])
            ) / self.kt  # fmt: skip
            self.attempted[a] += 1
            if self.rngs[i].random() < np.exp(min(0.0, -delta)):
                for state in (positions, momenta, results):
                    state[i], state[j] = state[j], state[i]
                self.accepted[a] += 1
                swapped += [i, j]
        return swapped

    def acceptance(self) -> list[tuple[float, float, float]]:
        """(centre, next centre, accepted fraction) of every neighbour pair tried."""
        n = len(self.order)
        return [
            (self.biases[self.order[a]].center, self.biases[self.order[(a + 1) % n]].center,
             float(self.accepted[a] / self.attempted[a]))
            for a in range(len(self.attempted)) if self.attempted[a]
        ]  # fmt: skip


def _closes_a_ring(biases: Sequence[Bias], sorted_centers: np.ndarray) -> bool:
    """Whether the last and first windows (by centre) of a periodic 1D CV are neighbours
    across the period's seam: three windows or more, and the gap across the seam no wider
    than the widest gap between consecutive centres."""
    period = biases[0].cv.period if biases else None
    if period is None or len(biases) < 3 or any(len(b.terms) > 1 for b in biases):
        return False
    seam = sorted_centers[0] + period - sorted_centers[-1]
    return 0.0 < seam <= np.max(np.diff(sorted_centers)) * (1.0 + 1e-9)


@dataclass(frozen=True)
class WindowRecording:
    """What umbrella windows record besides their CVs and do besides MD, all optional:
    unbiased ``observables``, the committee's ``members``' energies (their count), an
    ``oracle`` that labels every ``umbrella.oracle_every``-th frame, ``checkpoints``
    (one per window), a ``progress_label`` and ``on_frame(k, atoms)``, called with each
    recorded frame of window ``k`` (e.g. to average its configurations; what it gathers
    is not checkpointed)."""

    observables: Mapping[str, CollectiveVariable] = field(default_factory=dict)
    members: int = 0
    oracle: RobustOracle | None = None
    checkpoints: Sequence[Checkpoint] | None = None
    progress_label: str | None = None
    on_frame: Callable[[int, Atoms], None] | None = None


def run_umbrella_windows(
    replicas: Sequence[Atoms],
    biases: Sequence[Bias],
    window: WindowSettings,
    temperature_k: float,
    rngs: Sequence[np.random.Generator],
    force_field: ForceField = own_calculators,
    recording: WindowRecording = WindowRecording(),  # noqa: B008 - frozen, never changed
) -> list[dict[str, np.ndarray]]:
    """Umbrella windows, integrated together: place each CV at its window's centre,
    equilibrate (``window.equilibration_steps``), then record every
    ``window.record_every``-th of ``window.steps`` production steps of Langevin MD at
    ``temperature_k`` (``window``'s time step and friction).

    Returns, per window, the production time series: ``time_fs``, ``cv`` (and
    ``cv_2`` where a :class:`~mlpmf.dynamics.GridBias` restrains a second CV),
    ``max_force_disagreement_ev_a`` (largest per-atom committee disagreement of the
    frame, when the force field reports one; NaN otherwise) and ``observable_<name>`` for
    every unbiased observable. With ``checkpoints`` (one per window) the state is saved
    periodically and at the end, and a window with a matching saved state continues from
    it: after a kill, or to extend a finished window when ``steps`` grew (only the extra
    steps are run; the result equals the longer run's bit for bit). A window saved at or
    beyond the last step is not run: its series is the saved one, cut to ``steps``.
    Windows at different saved steps are integrated as separate batches.
    ``window.exchange_every`` > 0 turns on replica exchange between neighbouring windows
    (:class:`ReplicaExchange`) of one batch, also during equilibration. With ``members``
    > 0 (a committee whose results carry ``member_energies``) every recorded frame gets
    each member's energy minus the committee mean, ``member_energy_NN_ev``: what
    reweighting to each member's potential needs (:mod:`mlpmf.reweighting`). With an
    ``oracle`` and ``window.oracle_every`` > 0 (a multiple of ``record_every``), every
    ``oracle_every``-th production step's frame is also labelled by the oracle:
    ``oracle_energy_offset_ev`` is its energy minus the force field's and
    ``oracle_force_rmse_ev_a`` the RMS of their force difference on the movable atoms,
    NaN on the other rows; what carries the PMF to the oracle's potential
    (:func:`mlpmf.reweighting.oracle_correction`) and measures the model's error where
    the windows go.
    """
    settings = LangevinSettings(temperature_k, window.timestep_fs, window.friction_per_fs)
    steps, equilibration_steps = window.steps, window.equilibration_steps
    record_every, exchange_every, oracle_every = (
        window.record_every,
        window.exchange_every,
        window.oracle_every,
    )
    oracle, observables, members = recording.oracle, recording.observables, recording.members
    checkpoints = recording.checkpoints
    checks_oracle = oracle is not None and oracle_every > 0
    if checks_oracle and oracle_every % record_every:
        raise ValueError(f"oracle_every ({oracle_every}) must be a multiple of record_every")
    observables = dict(observables or {})
    dimensions = max(len(bias.terms) for bias in biases)
    names = ["time_fs", "cv", *[f"cv_{d + 1}" for d in range(1, dimensions)]]
    names += [DISAGREEMENT_COLUMN]
    names += [f"observable_{name}" for name in observables]
    names += [member_energy_column(m) for m in range(members)]
    names += [ORACLE_OFFSET_COLUMN, ORACLE_FORCE_COLUMN] if checks_oracle else []
    series = [{name: [] for name in names} for _ in replicas]
    total = equilibration_steps + steps
    saved = [c.load() for c in checkpoints] if checkpoints else [None] * len(replicas)
    groups: dict[int, list[int]] = {}  # windows to integrate, by the step they are at
    for k, (atoms, bias, rng, state) in enumerate(zip(replicas, biases, rngs, saved, strict=True)):
        if state is None:
            atoms.positions = move_to_window(
                bias, atoms.positions, numbers=atoms.numbers, movable=~fixed_atom_mask(atoms)
            )
            groups.setdefault(0, []).append(k)
            continue
        at_step = int(state["step"])
        series[k] = {name: list(state["series"][name]) for name in names}
        if at_step >= total:  # a longer run's first `steps` steps are this run
            keep = np.asarray(series[k]["time_fs"]) <= steps * settings.timestep_fs + 1e-9
            series[k] = {name: list(np.asarray(v)[keep]) for name, v in series[k].items()}
            log.info("window at %g: complete in its checkpoint (step %d)", bias.center, at_step)
            continue
        atoms.positions = state["positions"]
        atoms.set_momenta(state["momenta"], apply_constraint=False)
        rng.bit_generator.state = json.loads(state["rng_state"])
        groups.setdefault(at_step, []).append(k)

    def recorded(step: int) -> bool:
        production_step = step - equilibration_steps
        return production_step > 0 and production_step % record_every == 0

    for at_step, group in sorted(groups.items()):
        if at_step:
            log.info(
                "resuming windows from their checkpoints at step %d (windows at %s), to step %d",
                at_step, ", ".join(f"{biases[k].center:g}" for k in group), total,
            )  # fmt: skip
        exchange = None
        if exchange_every > 0 and len(group) > 1:
            exchange = ReplicaExchange(
                [biases[k] for k in group], [rngs[k] for k in group],
                settings.temperature_k, exchange_every,
            )  # fmt: skip

        def record(step: int, local: int, atoms: Atoms, results: Mapping, group=group) -> None:
            if not recorded(step):
                return
            k = group[local]
            per_atom = results.get("force_disagreement")
            row = series[k]
            row["time_fs"].append((step - equilibration_steps) * settings.timestep_fs)
            for d, term in enumerate(biases[k].terms):
                row["cv" if d == 0 else f"cv_{d + 1}"].append(term.cv.value(atoms.positions))
            row[DISAGREEMENT_COLUMN].append(np.nan if per_atom is None else float(np.max(per_atom)))
            for name, observable in observables.items():
                row[f"observable_{name}"].append(observable.value(atoms.positions))
            if members:
                energies = np.asarray(results["member_energies"], dtype=float)
                for m, offset in enumerate(energies - energies.mean()):
                    row[member_energy_column(m)].append(float(offset))
            if checks_oracle:
                offset = force_error = np.nan
                if (step - equilibration_steps) % oracle_every == 0:
                    labelled = oracle.label(atoms)
                    if labelled is not None:
                        offset = labelled[0] - float(results["energy"])
                        difference = labelled[1] - np.asarray(results["forces"], dtype=float)
                        movable = ~fixed_atom_mask(atoms)  # fixed atoms' forces do not act
                        force_error = float(np.sqrt(np.mean(difference[movable] ** 2)))
                row[ORACLE_OFFSET_COLUMN].append(offset)
                row[ORACLE_FORCE_COLUMN].append(force_error)
            if recording.on_frame is not None:
                recording.on_frame(k, atoms)

        def save(step: int, group=group) -> None:
            for k in group:
                checkpoints[k].save(window_state(step, replicas[k], rngs[k], series[k]))

        integrate(
            [replicas[k] for k in group],
            settings,
            total,
            [rngs[k] for k in group],
            [biases[k] for k in group],
            force_field,
            StepHooks(
                observe=record,
                disagreement_at=recorded,
                exchange=exchange,
                checkpoint=save if checkpoints else None,
                checkpoint_every=checkpoints[0].every if checkpoints else 0,
                progress_label=recording.progress_label,
            ),
            first_step=at_step + 1,
        )
        if checkpoints and total % checkpoints[0].every:
            save(total)  # the final state, from which a longer run continues
        if exchange is not None:
            for low, high, fraction in exchange.acceptance():
                log.info("exchange %g <-> %g: %.0f%% accepted", low, high, 100 * fraction)
    return [{name: np.array(v, dtype=float) for name, v in row.items()} for row in series]


def window_state(step: int, atoms: Atoms, rng: np.random.Generator, series: Mapping) -> dict:
    """What a window's checkpoint holds: its step, positions, momenta (the integrator's
    own variables), RNG state and the series recorded so far."""
    return {
        "step": step,
        "positions": atoms.positions.copy(),
        "momenta": atoms.get_momenta(),
        "rng_state": json.dumps(rng.bit_generator.state),
        "series": {name: np.asarray(values) for name, values in series.items()},
    }


def window_checkpoints(
    folder: str | Path,
    settings: Mapping,
    windows: Sequence[Mapping],
    inputs: Sequence[str | Path],
    every_steps: int,
) -> list[Checkpoint]:
    """One checkpoint per window of a job, in ``folder``.

    A checkpoint belongs to a window's physics, not to its place in the job's list or
    its length: its fingerprint is the job's ``settings`` (the rule's params) without
    ``windows`` and ``umbrella.steps``, the window's own entry of ``windows`` without
    its id, and the ``inputs``' bytes; so more steps extend a window and an inserted
    window leaves the others' checkpoints valid. With replica exchange
    (``umbrella.exchange_every``) a window's trajectory depends on its partners, so
    their entries count too."""
    shared = {key: value for key, value in settings.items() if key != "windows"}
    umbrella = dict(shared.get("umbrella", {}))
    umbrella.pop("steps", None)
    shared["umbrella"] = umbrella
    identities = [{k: v for k, v in w.items() if k != "window"} for w in windows]
    partners = identities if umbrella.get("exchange_every") else []
    salt = files_digest(inputs)
    checkpoints = []
    for identity in identities:
        digest = fingerprint("umbrella_window", [shared, identity, partners], salt=salt)
        at = "_".join(f"{identity[key]:g}" for key in ("center", "center_2") if key in identity)
        path = Path(folder) / f"window_at_{at}_{digest[:16]}.pt"
        checkpoints.append(Checkpoint(path, digest, every_steps))
    return checkpoints


def run_umbrella_window(
    atoms: Atoms,
    bias: UmbrellaBias,
    window: WindowSettings,
    temperature_k: float,
    rng: np.random.Generator,
    recording: WindowRecording = WindowRecording(),  # noqa: B008 - frozen, never changed
) -> dict[str, np.ndarray]:
    """One umbrella window on ``atoms``' own calculator (:func:`run_umbrella_windows`)."""
    return run_umbrella_windows(
        [atoms], [bias], window, temperature_k, [rng], own_calculators, recording
    )[0]
