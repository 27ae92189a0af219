from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from mlpmf.cvsettings import period_and_unit
from mlpmf.config import ConfigError
from mlpmf.pathstudy import builds_path, images_path
from mlpmf.pathstudy import summary_path as path_summary
from mlpmf.grids import bin_edges, second_bin_edges, second_cv, window_grid
from mlpmf.scope import canonical, cv_settings, effective_config, rule_settings
from mlpmf.scope import refined_images_path, refines_path
from mlpmf.studycheck import check_study
from mlpmf.targets import completion_message as completion_of
from mlpmf.targets import result_targets as study_results
from mlpmf.targets import uses_active_learning as learning_refines
from mlpmf.targets import uses_model as model_drives
from mlpmf.windowplan import (
    added_window_specs,
    batch_round,
    confirm_steps,
    data_temperature_k,
    exact_pmf_oracle,
    grid_columns,
    scan_centers,
    stage_seeds,
)
from mlpmf.windowplan import static_batch as static_batch_of
from mlpmf.windowplan import static_window_rows as static_rows
from mlpmf.windowplan import window_batches as batches_of
from mlpmf.windowplan import window_spec as window_spec_of

try:
    for warning in check_study(config):  # legal but implausible: said, not stopped
        logger.warning(f"Warning: {warning}")
except ConfigError as error:
    raise WorkflowError(f"Invalid study config: {error}") from None

STUDY_SETTINGS = effective_config(config)  # as validated, before report-only additions
STUDY = config["study"]
RESULTS = f"results/{STUDY}"
GRID = window_grid(config)  # per window: centre, spring constant (2nd CV), repeat
WINDOWS_PER_SET = int((GRID["repeat"] == 0).sum())  # in each set of umbrella.repeats
if config["umbrella"]["windows_per_job"] == "all":  # one job per set: what jobs read
    config["umbrella"]["windows_per_job"] = WINDOWS_PER_SET
CENTERS = GRID["center"]
SPRING_CONSTANTS = GRID["spring_constant"]
SECOND_CV = second_cv(config)  # (observable name, its spec) in 2D umbrella sampling
WINDOWS = [f"{k:03d}" for k in range(len(CENTERS))]


SEEDS = stage_seeds(config["seed"], GRID)  # of every stage and window
# the CVs' periods (None: not periodic) and the CV's unit
CV_PERIOD, CV_UNIT = period_and_unit(config["collective_variable"])
SECOND_CV_PERIOD = period_and_unit(SECOND_CV[1])[0] if SECOND_CV else None
USES_MODEL = model_drives(config)  # the windows run on a trained MLIP
USES_ACTIVE_LEARNING = learning_refines(config)  # it refines the committee first
BUILDS_PATH = builds_path(config["collective_variable"])  # rule build_path makes the CV
# a built path's images, an input of each of the rules that build the CV
PATH_INPUT = {"path": images_path(STUDY)} if BUILDS_PATH else {}
# refined at the study's temperature before the windows (rule refine_path)
REFINES_PATH = refines_path(config["collective_variable"])
# the path the windows, rates and transmission run on: the refined one, or the first
WINDOW_PATH_INPUT = {"path": refined_images_path(STUDY)} if REFINES_PATH else PATH_INPUT


wildcard_constraints:
    window=r"\d{3}",
    batch=r"\d{3}|r\d+_\d{3}",
    round=r"\d+",


def model_path():
    """The trained MLIP that drives the windows."""
    if USES_ACTIVE_LEARNING:
        return f"{RESULTS}/active_learning/committee.pt"
    return f"{RESULTS}/model/{config['potential']}.pt"


def observable_settings(wildcards):
    """The config entry of the observable named by the wildcard (its kind's keys, bins)."""
    return cv_settings(config["observables"][wildcards.observable])


def window_trajectory_paths(wildcards=None):
    """The CV time-series file of every window, in window order (with
    ``umbrella.adaptive``, the windows after the last round of insertion)."""
    return [window_path(f"{row['window']:03d}") for row in final_window_rows()]


def training_frames_path():
    """The final training set of the MLIP that drives the windows."""
    if USES_ACTIVE_LEARNING:
        return f"{RESULTS}/active_learning/train.extxyz"
    return f"{RESULTS}/dataset/train.extxyz"


def settings_for(rule):
    """The settings ``rule`` reads (mlpmf.scope.READS), as keyword params: canonical, so
    that key order and settings other rules read never rerun it."""
    return rule_settings(config, rule)


def window_inputs(wildcards):
    """Inputs of one window job: the structure and, when an MLIP drives MD, the MLIP
    and its training frames, or the frames of ``umbrella.start_frames`` (each window
    starts from the frame nearest its centre)."""
    inputs = {"structure": config["system"]["structure"], **WINDOW_PATH_INPUT}
    if USES_MODEL:
        inputs["model"] = model_path()
        inputs["frames"] = training_frames_path()
    if config["umbrella"]["start_frames"]:
        inputs["frames"] = config["umbrella"]["start_frames"]
    return inputs


def window_spec(window):
    """What distinguishes one window (mlpmf.windowplan.window_spec)."""
    return window_spec_of(window, GRID, SEEDS[f"umbrella_window_{window}"])


def static_window_rows():
    """The windows of ``umbrella.centers``: id, centre, spring constant, batch."""
    return static_rows(GRID, WINDOWS_PER_SET, config["umbrella"]["windows_per_job"])


def adaptive_table(round_):
    """The windows after round ``round_`` of adaptive insertion."""
    return f"{RESULTS}/umbrella/adaptive/round_{round_}.csv"


def window_rows_after(round_):
    """The windows after ``round_`` rounds of insertion (0: the config's); a later
    round's table is a checkpoint, so this waits for it."""
    if int(round_) == 0:
        return static_window_rows()
    table = checkpoints.adapt_windows.get(round=str(round_)).output.table
    return pd.read_csv(table, dtype={"batch": str}).to_dict("records")


def final_rounds():
    """How many rounds of insertion the study ran: up to ``max_rounds``, fewer when a
    round added nothing."""
    adaptive = config["umbrella"]["adaptive"]
    if not adaptive["enabled"]:
        return 0
    for round_ in range(1, adaptive["max_rounds"] + 1):
        if not any(row["round"] == round_ for row in window_rows_after(round_)):
            return round_
    return adaptive["max_rounds"]


def final_window_rows():
    """Every window the PMF is built from, in id order."""
    return window_rows_after(final_rounds())


def final_window_table(wildcards):
    """The last adaptive round's table, when windows are placed adaptively."""
    rounds = final_rounds()
    return {"table": adaptive_table(rounds)} if rounds else {}


def adaptive_round_inputs(wildcards):
    """What round ``wildcards.round`` of insertion judges: the windows after the
    previous round, their time series (and the previous round's table)."""
    previous = int(wildcards.round) - 1
    inputs = {
        "trajectories": [
            window_path(f"{row['window']:03d}") for row in window_rows_after(previous)
        ]
    }
    if previous:
        inputs["previous"] = adaptive_table(previous)
    return inputs


def batch_inputs(wildcards):
    """A window job's inputs: window_inputs, and the round table of an added batch."""
    inputs = window_inputs(wildcards)
    round_ = batch_round(wildcards.batch)
    if round_:
        inputs["windows_table"] = adaptive_table(round_)
    return inputs


def static_batch(window):
    """The batch of window ``window`` of ``umbrella.centers`` (mlpmf.windowplan)."""
    return static_batch_of(
        window, WINDOWS_PER_SET, config["umbrella"]["windows_per_job"]
    )


def window_batches():
    """The windows of ``umbrella.centers`` batched into one job each."""
    size = config["umbrella"]["windows_per_job"]
    return batches_of(len(CENTERS), WINDOWS_PER_SET, size)


def batch_of(window):
    """The batch (job) that runs ``window``."""
    if int(window) < len(CENTERS):
        return f"{static_batch(window):03d}"
    for round_ in range(1, config["umbrella"]["adaptive"]["max_rounds"] + 1):
        for row in window_rows_after(round_):
            if row["window"] == int(window):
                return row["batch"]
    raise WorkflowError(f"window {window}: no such window")


def batch_specs(wildcards):
    """The windows of the batch named by the wildcard."""
    round_ = batch_round(wildcards.batch)
    if not round_:
        windows = window_batches()[int(wildcards.batch)]
        return canonical([window_spec(window) for window in windows])
    rows = window_rows_after(round_)
    return canonical(added_window_specs(rows, wildcards.batch, config["seed"]))


def estimate_path(name):
    """An estimator's PMF table before mark_trust adds its ``trusted`` column: what
    every rule but the trust rules reads, so that a trust verdict reruns none of them.
    """
    return f"{RESULTS}/free_energy/estimates/{name}.csv"


def batch_path(batch):
    """The time series of every window of one batch, in one table (column ``window``)."""
    return f"{RESULTS}/umbrella/batch_{batch}.csv"


def window_path(window):
    """The CV time-series file of one window."""
    return f"{RESULTS}/umbrella/window_{window}.csv"


def reference_barrier_inputs(wildcards):
    """The reference-barrier file, when the config names one."""
    path = config["reference"]["barrier_file"]
    return {"reference": path} if path else {}


def reference_pmf_inputs(name):
    """An input function giving the reference PMF table as input ``name``, when the
    config names one."""
    path = config["reference"]["pmf_file"]
    return lambda wildcards: {name: path} if path else {}


def committee_metrics_path():
    """The metrics (with its trust levels) of the committee that drives the windows."""
    if USES_ACTIVE_LEARNING:
        return f"{RESULTS}/active_learning/metrics.json"
    return f"{RESULTS}/model/metrics.json"


def trust_metrics_input(wildcards):
    """The committee's metrics, when a committee drives the windows."""
    if config["potential"] == "committee":
        return {"metrics": committee_metrics_path()}
    return {}


def final_targets():
    """Every output of the study that rule all asks for. The results, then the trust
    gate, which fails the run when they are untrusted (and not accepted)."""
    return [*result_targets(), f"{RESULTS}/free_energy/trust_accepted.json"]


def result_targets():
    """Every result of the study, written whether or not it is trusted."""
    return study_results(config, RESULTS, bool(SECOND_CV))


def trust_statement():
    """Whether the results are trusted, and what to do if not, for the report's front
    page (mlpmf.report); empty before the trust check ran."""
    from mlpmf.report import trust_statement

    return trust_statement(Path(RESULTS), CV_UNIT)


def transmission_inputs(wildcards):
    """The reactive-flux transmission coefficient, when the study asks for it."""
    if config["transmission"]["enabled"]:
        return {"transmission": f"{RESULTS}/free_energy/transmission.json"}
    return {}


def ledger_inputs(wildcards):
    """What the oracle ledger counts besides the reference data."""
    inputs = transmission_inputs(wildcards)
    if USES_ACTIVE_LEARNING:
        inputs["active_learning"] = f"{RESULTS}/active_learning/metrics.json"
    return inputs


def report_headline():
    """What a user came for, for the report's front page (mlpmf.report.headline)."""
    from mlpmf.report import headline

    return headline(Path(RESULTS), CV_UNIT, SECOND_CV)


def completion_message():
    """Where the study's main results are, printed when the workflow succeeds."""
    return completion_of(STUDY, RESULTS)


def refine_inputs(wildcards):
    """What refine_path reads: the windows' inputs (the MLIP, start frames) and the path
    it starts from, the built one or the study's own images."""
    return {**window_inputs(wildcards), "path": config["collective_variable"]["images"]}


def all_window_specs():
    """Every window of ``umbrella.centers`` (each set of ``umbrella.repeats``)."""
    return canonical([window_spec(w) for batch in window_batches() for w in batch])
