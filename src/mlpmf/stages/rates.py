"""Stage ``rates``: barrier and rate constants from the MBAR and WHAM PMFs, errors from
their bootstraps.

On a periodic CV both ways round the circle are parallel channels (``paths``): the
headline barrier is the dominant path's, the rate constant their sum. Kramers' factor is
evaluated at the friction of the dynamics the rate is for: the windows', or with the
transmission stage the shots' (where kappa by reactive flux is the rate's own, and the
rate is kappa x k_TST). With a committee, each member's PMF gives its own barrier and
rate: their spread, calibrated by the windows' oracle checks where they ran, is the
model's part of the error budget (:mod:`mlpmf.errorbudget`), combined with the
statistical part and kappa's into one interval on the barrier and on the rate. A
reference barrier (a file's, or per path the one whose top lies nearest) is reported
beside the result; a reference PMF (the oracle's own windows) gives the reference's
barrier and rate, and how many standard deviations the rate lies from it.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ase.io import read

from mlpmf import errorbudget
from mlpmf.colvars import effective_mass_amu, periodic_difference
from mlpmf.cvsettings import make_colvar
from mlpmf.io import read_json, read_reference_pmf, write_json, write_table
from mlpmf.rates import Profile, barrier_and_rate
from mlpmf.settings import BasinSettings, ColvarSettings
from mlpmf.transmission import with_transmission

log = logging.getLogger(__name__)
BARRIER_COLUMNS = ["method", "barrier_kj_mol", "uncertainty_kj_mol"]


@dataclass(frozen=True)
class RateSettings:
    """What the rates stage reads: the temperature, the CV (its mass and period), the
    ``rates`` basins and the windows' friction."""

    temperature_k: float
    collective_variable: ColvarSettings
    basins: BasinSettings
    friction_per_fs: float  # the windows': the rate is for their dynamics
    reference_mirrored: bool = False  # a reference PMF of the mirror-image system: at -cv

    @classmethod
    def from_params(cls, params: Mapping) -> "RateSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        return cls(
            params["temperature_k"],
            ColvarSettings.from_config(params["collective_variable"]),
            BasinSettings.from_config(params["rates"]),
            params["umbrella"]["friction_per_fs"],
            params["reference"]["pmf_mirrored"],
        )


def rates(inputs: Mapping, settings: RateSettings, outputs: Mapping) -> dict:
    """The rates of ``inputs["mbar"]`` (headline) and ``inputs["wham"]`` (their tables,
    ``*_bootstrap`` replicas and ``mbar_members``; ``structure``, ``trust``, and where
    given ``transmission`` and ``reference``): writes ``outputs["rates"]`` (JSON) and
    ``outputs["barriers"]`` (every barrier with its error, for the report) and returns
    the JSON's content."""
    structure = read(inputs["structure"])
    cv = make_colvar(settings.collective_variable, structure)
    mass = effective_mass_amu(cv, structure.positions, structure.get_masses())
    flux = read_json(inputs["transmission"]) if "transmission" in inputs.keys() else None
    friction = settings.friction_per_fs if flux is None else flux["friction_per_fs"]

    def analyse(table: pd.DataFrame, replicas: np.ndarray | None = None) -> dict:
        return barrier_and_rate(
            Profile(
                table["cv"].to_numpy(),
                table["free_energy_kj_mol"].to_numpy(),
                table["uncertainty_kj_mol"].to_numpy(),
                replicas,
                cv.period,
            ),
            settings.temperature_k,
            settings.basins.reactant,
            settings.basins.product,
            mass,
            friction_per_fs=friction,
        )

    mbar = pd.read_csv(inputs["mbar"])
    result = analyse(mbar, np.load(inputs["mbar_bootstrap"]))
    result["method"] = "MBAR PMF, " + result["method"]
    wham = analyse(pd.read_csv(inputs["wham"]), np.load(inputs["wham_bootstrap"]))
    statistical = statistical_log_sigma(result)
    if flux is not None:  # kappa x k_TST: the rate of the dynamics
        result, wham = with_transmission(result, flux), with_transmission(wham, flux)
    for key in ("barrier_kj_mol", "barrier_uncertainty_kj_mol", "rate_constant_per_s"):
        result[f"wham_{key}"] = wham[key]
    rows = [
        ("MBAR", result["barrier_kj_mol"], result["barrier_uncertainty_kj_mol"]),
        ("WHAM", wham["barrier_kj_mol"], wham["barrier_uncertainty_kj_mol"]),
    ]
    reference = read_json(inputs["reference"]) if "reference" in inputs.keys() else {}
    rows += with_reference(result, reference, cv.unit, cv.period)
    calibration = errorbudget.calibration_of_table(mbar)
    rows += with_model_spread(result, mbar, np.load(inputs["mbar_members"]), analyse, calibration)
    with_error_budget(result, statistical, flux)
    if "reference_pmf" in inputs.keys():
        table = read_reference_pmf(inputs["reference_pmf"], settings.reference_mirrored)
        if "uncertainty_kj_mol" not in table:
            table = table.assign(uncertainty_kj_mol=0.0)
        try:  # the reference may not reach the study's basins (another range, a coarser grid)
            reference_rate = analyse(table.dropna(subset=["free_energy_kj_mol"]))
        except ValueError as error:
            log.warning("the reference PMF gives no barrier and rate here: %s", error)
        else:
            with_reference_rate(result, reference_rate)
    trust = read_json(inputs["trust"])
    for key in ("trusted", "untrusted_windows", "untrusted_centers"):
        result[key] = trust[key]
    write_json(result, outputs["rates"])
    write_table(pd.DataFrame(rows, columns=BARRIER_COLUMNS), outputs["barriers"])
    return result


def nearest_reference_path(path: Mapping, references: list, period: float) -> dict | None:
    """The reference path whose top lies nearest this one's (within a sixth of the
    period), or None."""
    if not references:
        return None
    distances = [
        abs(periodic_difference(path["transition_state_cv"], ref["transition_state_cv"], period))
        for ref in references
    ]
    best = int(np.argmin(distances))
    return references[best] if distances[best] <= period / 6 else None


def with_reference(result: dict, reference: Mapping, unit: str, period: float | None) -> list:
    """Add the reference's barriers to ``result`` (per path round a periodic CV, the one
    whose top lies nearest; the headline's from the dominant path, else the file's
    ``barrier_kj_mol``); returns the rows (method, barrier, error) they add to the
    barrier table, each path's own MBAR barrier first."""
    rows = []
    for path in result.get("paths", []):  # both ways round a periodic CV
        top = f"{path['transition_state_cv']:g} {unit}"
        rows.append((f"MBAR, path over {top}", path["barrier_kj_mol"],
                     path.get("barrier_uncertainty_kj_mol")))  # fmt: skip
        match = nearest_reference_path(path, reference.get("paths", []), period)
        if match is None:
            continue
        for key in ("barrier_kj_mol", "experiment_kj_mol"):
            if key in match:
                path[f"reference_{key}"] = match[key]
        near = f"over {match['transition_state_cv']:g} {unit}"
        rows.append(
            (f"{reference.get('method', 'reference')}, {near}", match["barrier_kj_mol"], None)
        )
        if "experiment_kj_mol" in match:
            rows.append((f"experiment, {near}", match["experiment_kj_mol"], None))
    if result.get("paths"):  # the headline's reference: the dominant path's, where known
        dominant = result["paths"][result["dominant_path"]]
        if "reference_barrier_kj_mol" in dominant:
            result["reference_barrier_kj_mol"] = dominant["reference_barrier_kj_mol"]
    if "barrier_kj_mol" in reference and "reference_barrier_kj_mol" not in result:
        result["reference_barrier_kj_mol"] = reference["barrier_kj_mol"]
        rows.append((reference.get("method", "reference"), reference["barrier_kj_mol"], None))
    return rows


def rate_key(result: Mapping) -> str:
    """The headline rate's key: TST's with the CV's mass, else Eyring's."""
    return next(k for k in ("rate_constant_per_s", "eyring_rate_constant_per_s") if k in result)


def statistical_log_sigma(result: Mapping) -> float:
    """The statistical standard deviation of ln k of ``result`` (barrier_and_rate's): from
    its bootstrap's 16-84% interval, else from its standard error."""
    key = rate_key(result)
    interval = result.get(key.replace("_per_s", "_interval_per_s"))
    if interval is not None:
        return errorbudget.log_sigma_from_interval(*interval)
    return float(result.get(key.replace("_per_s", "_uncertainty_per_s"), 0.0) / result[key])


def with_model_spread(
    result: dict,
    table: pd.DataFrame,
    members: np.ndarray,
    analyse: Callable,
    calibration: errorbudget.ModelCalibration | None = None,
) -> list:
    """With two or more committee members' PMFs (``members``, M x bins, each reweighted
    to its potential), each member's barrier and rate by ``analyse``: adds their barriers,
    the barrier's model uncertainty (their standard deviation, times the oracle checks'
    ``calibration`` factor where measured) and that of ln k, and the members' range of
    rate constants to ``result``; returns the barrier-table row it adds (none with fewer
    members)."""
    if len(members) <= 1:
        return []
    spread = [analyse(table.assign(free_energy_kj_mol=m, uncertainty_kj_mol=0.0)) for m in members]
    barriers = np.array([s["barrier_kj_mol"] for s in spread])
    rates_per_s = np.array([s[rate_key(s)] for s in spread])
    scale = 1.0 if calibration is None else calibration.scale
    model = scale * float(barriers.std(ddof=1))
    result["member_barriers_kj_mol"] = barriers.tolist()
    result["barrier_member_spread_kj_mol"] = float(barriers.std(ddof=1))
    result["barrier_model_uncertainty_kj_mol"] = model
    result["model_log_rate_uncertainty"] = scale * float(np.log(rates_per_s).std(ddof=1))
    result["model_calibration"] = None if calibration is None else calibration.to_dict()
    result["rate_constant_model_range_per_s"] = [float(rates_per_s.min()), float(rates_per_s.max())]
    what = "committee members' spread" + ("" if calibration is None else f" x {scale:.2f}")
    return [(f"MBAR, {what}", result["barrier_kj_mol"], model)]


def with_error_budget(result: dict, statistical: float, flux: Mapping | None) -> None:
    """The total intervals of the barrier and the rate (:mod:`mlpmf.errorbudget`): the
    statistical part (``statistical``, of ln k, before kappa), the model's (set by
    :func:`with_model_spread`; none where the oracle drove the windows) and kappa's
    (``flux``; not measured without the transmission stage)."""
    model = result.pop("model_log_rate_uncertainty", None)
    result.update(
        errorbudget.barrier_interval(
            result["barrier_kj_mol"], result["barrier_uncertainty_kj_mol"],
            result.get("barrier_model_uncertainty_kj_mol"),
        )
    )  # fmt: skip
    recrossing = None if flux is None else flux["kappa_uncertainty"] / max(flux["kappa"], 1e-300)
    parts = {"statistical": statistical, "model": model, "recrossing": recrossing}
    result.update(errorbudget.rate_interval(result[rate_key(result)], parts))


def with_reference_rate(result: dict, reference: Mapping) -> None:
    """The barrier and TST rate of a reference PMF (``reference``, barrier_and_rate's of
    the oracle's own windows, errors from its standard errors), and how many combined
    standard deviations the result's barrier and TST rate (statistical and model parts:
    kappa would be the same for both) lie from them."""
    key = rate_key(reference)
    ours = result.get(f"tst_{key}", result[key])
    parts = result["log_rate_uncertainty"]
    ours_sigma = float(np.hypot(parts["statistical"], parts["model"] or 0.0))
    reference_sigma = statistical_log_sigma(reference)
    barrier_sigma = np.hypot(
        result["barrier_total_uncertainty_kj_mol"], reference["barrier_uncertainty_kj_mol"]
    )
    barrier_z = (result["barrier_kj_mol"] - reference["barrier_kj_mol"]) / max(barrier_sigma, 1e-12)
    rate_z = errorbudget.rate_z_score(ours, ours_sigma, reference[key], reference_sigma)
    result["reference_pmf"] = {
        "barrier_kj_mol": reference["barrier_kj_mol"],
        "barrier_uncertainty_kj_mol": reference["barrier_uncertainty_kj_mol"],
        "tst_rate_constant_per_s": reference[key],
        "tst_log_rate_uncertainty": reference_sigma,
        "barrier_z": float(barrier_z),
        "tst_rate_z": rate_z,
        "covered": bool(max(abs(barrier_z), abs(rate_z)) <= errorbudget.Z),
    }
