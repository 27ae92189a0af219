"""Stage ``umbrella_window``: one job's umbrella windows, Langevin MD with a harmonic bias
on the CV.

A job (one batch, ``umbrella.windows_per_job`` windows) runs one window, or several
integrated together as one batched system (one committee forward pass for all of them
per step), with the same per-window results; with ``umbrella.exchange_every`` the
windows of a job exchange configurations (REUS). It writes one table for the batch
(column ``window``); rule window_series gives each window its own file. Every window
checkpoints every :data:`CHECKPOINT_EVERY_STEPS` steps, and at its end, in
``umbrella/checkpoints/``: a job that was killed resumes from there when run again and
gives the same result, and a window asked for more steps continues from its last state
(:func:`mlpmf.umbrella.window_checkpoints`).
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ase.io import read

from mlpmf.calculator import study_force_field
from mlpmf.colvars import periodic_difference
from mlpmf.config import load_system
from mlpmf.cvsettings import make_colvar, make_wall
from mlpmf.dynamics import SimulationError, walled
from mlpmf.io import write_table
from mlpmf.oracles import make_robust_oracle
from mlpmf.placement import nearest_positions
from mlpmf.settings import ColvarSettings, OracleSettings, SystemSettings, WindowSettings
from mlpmf.stages import fail
from mlpmf.trust import window_failure_message
from mlpmf.umbrella import (
    ORACLE_FORCE_COLUMN,
    ORACLE_OFFSET_COLUMN,
    WindowRecording,
    grid_biases,
    run_umbrella_windows,
    window_checkpoints,
)
from mlpmf.units import ev_to_kj_mol, kt_kj_mol

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_STEPS = 1000


@dataclass(frozen=True)
class WindowJobSettings:
    """What a window job reads: its windows (id, centre, spring constant, seed; in 2D
    the second CV's; the set of ``umbrella.repeats``), the system, CV, observables,
    temperature, what drives the MD (``potential``, its model or ``external_potential``,
    the oracle that also checks the windows) and the windows' MD. ``params`` is the
    rule's params as given: what the windows' checkpoints belong to."""

    windows: list
    system: SystemSettings
    collective_variable: ColvarSettings
    observables: dict[str, ColvarSettings]
    second_cv: str | None  # the observable restrained as the second CV (2D), or None
    temperature_k: float
    potential: str
    oracle: OracleSettings
    external_potential: list | None
    umbrella: WindowSettings
    params: Mapping

    @classmethod
    def from_params(cls, params: Mapping) -> "WindowJobSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        given = dict(params.items())
        return cls(
            list(given["windows"]), SystemSettings.from_config(given["system"]),
            ColvarSettings.from_config(given["collective_variable"]),
            {name: ColvarSettings.from_config(spec) for name, spec in given["observables"].items()},
            given["second_cv"], given["temperature_k"], given["potential"],
            OracleSettings.from_config(given["oracle"]), given.get("external_potential"),
            WindowSettings.from_config(given["umbrella"]), given,
        )  # fmt: skip


def umbrella_window(
    inputs: Mapping, settings: WindowJobSettings, device: str, output: str
) -> pd.DataFrame:
    """Run the job's windows and write their series to ``output`` (one table, column
    ``window``). ``inputs``: ``model`` (the MLIP that drives them, when one does),
    ``frames`` (start frames: each window from the one nearest its centre). A window
    that fails (atoms flew apart, non-finite forces) ends the job with a message naming
    it and what to do (:func:`mlpmf.trust.window_failure_message`)."""
    windows, umbrella = settings.windows, settings.umbrella
    replicas = [load_system(settings.system) for _ in windows]
    cv = make_colvar(settings.collective_variable, replicas[0])
    second = None  # the observable restrained as the second CV of 2D umbrella sampling
    if settings.second_cv is not None:
        second = make_colvar(settings.observables[settings.second_cv], replicas[0])
    biases = grid_biases(cv, window_grid(windows, second is not None), second)
    if "frames" in inputs.keys():  # start from equilibrated training frames
        frames = read(inputs["frames"], ":")
        ranks = [w.get("repeat", 0) for w in windows]  # each set of umbrella.repeats its own
        kt = kt_kj_mol(settings.temperature_k)  # sets of windows start in distinct states
        first = replicas[0]
        starts = nearest_positions(biases, first.positions, first.numbers, frames, ranks, kt)
        for atoms, start in zip(replicas, starts, strict=True):
            atoms.positions = start
    force_field, members = study_force_field(
        settings.potential, replicas, inputs.get("model"), settings.oracle,
        settings.external_potential, umbrella.precision, device,
    )  # fmt: skip
    force_field = walled(force_field, make_wall(settings.collective_variable, replicas[0]))
    oracle = None  # labels every umbrella.oracle_every-th step: the model's error there
    if umbrella.oracle_every:
        oracle = make_robust_oracle(settings.oracle)
    checkpoints = window_checkpoints(
        Path(output).parent / "checkpoints", settings.params, windows, list(inputs),
        CHECKPOINT_EVERY_STEPS,
    )  # fmt: skip
    try:
        all_series = run_umbrella_windows(
            replicas, biases, umbrella, settings.temperature_k,
            [np.random.default_rng(w["seed"]) for w in windows], force_field,
            WindowRecording(
                observables={
                    name: make_colvar(spec, replicas[0])
                    for name, spec in settings.observables.items()
                },
                members=members, oracle=oracle, checkpoints=checkpoints,
                progress_label="windows " + ", ".join(w["window"] for w in windows),
            ),
        )  # fmt: skip
    except SimulationError as error:
        fail(window_failure_message(error, windows, settings.potential, cv.unit))
    if oracle is not None:
        log.info(
            "oracle checks: %d calls (%d failed), %.1f s in all", oracle.calls, oracle.failures,
            oracle.seconds,
        )  # fmt: skip
    tables = []
    for window, series in zip(windows, all_series, strict=True):
        log_window(window, series, {"cv": cv, "cv_2": second}, oracle is not None)
        tables.append(pd.DataFrame({"window": int(window["window"]), **series}))
    table = pd.concat(tables, ignore_index=True)
    write_table(table, output)
    return table


def window_grid(windows: list, two_d: bool) -> dict:
    """The centres and spring constants of ``windows`` (and the second CV's in 2D), as
    :func:`mlpmf.umbrella.grid_biases` takes them."""
    grid = {
        "center": [w["center"] for w in windows],
        "spring_constant": [w["spring_constant_kj_mol"] for w in windows],
    }
    if two_d:
        grid["center_2"] = [w["center_2"] for w in windows]
        grid["spring_constant_2"] = [w["spring_constant_2_kj_mol"] for w in windows]
    return grid


def log_window(window: Mapping, series: Mapping, restrained: Mapping, checked: bool) -> None:
    """Log where a window's CVs sat (mean about the centre: a periodic CV's naive mean
    near +-period/2 would be meaningless) and, with oracle checks, its model's error."""
    for column, key in (("cv", "center"), ("cv_2", "center_2")):
        cv = restrained[column]
        if cv is None:
            continue
        offsets = periodic_difference(series[column], window[key], cv.period)
        log.info(
            "window %s: %s mean %.4f, std %.4f",
            window["window"], column, window[key] + offsets.mean(), offsets.std(),
        )  # fmt: skip
    if checked:
        labelled = np.isfinite(series[ORACLE_OFFSET_COLUMN])
        log.info(
            "window %s against the oracle on %d frames: energy error std %.2f kJ/mol, "
            "median force RMSE %.3f eV/Å",
            window["window"], labelled.sum(),
            ev_to_kj_mol(np.std(series[ORACLE_OFFSET_COLUMN][labelled])),
            np.median(series[ORACLE_FORCE_COLUMN][labelled]) if labelled.any() else np.nan,
        )  # fmt: skip
