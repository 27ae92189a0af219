"""The results a shipped study pins (its ``validation`` section), measured on a finished
run and judged: what ``make validate`` (``benchmarks/validate.py``) checks and records.

A study pins figures by name (:data:`FIGURES`), each ``{value, tolerance}`` (within
value +- tolerance; the tolerance a multiple of the figure's error bar, said in the
study file) or a bound ``{max}`` / ``{min}``; ``trusted`` and ``wall_time_min`` (on 2
cores) besides. :func:`measure` reads the figures from a study's results folder,
:func:`judge` compares, :func:`markdown` renders the table of every study's latest run.
"""

import json
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FIGURES = {
    "barrier_kj_mol": "headline barrier (rates.json; the dominant path's on a periodic CV)",
    "barrier_over_<cv>_kj_mol": "the barrier of the path whose top lies nearest <cv> (periodic)",
    "log10_rate_constant_per_s": "log10 of the headline rate constant (rates.json), 1/s",
    "kappa": "reactive-flux transmission coefficient (rates.json)",
    "reference_rms_kj_mol": "PMF against reference.pmf_file, RMS (comparison.json)",
    "reference_chi2_per_bin": "PMF against reference.pmf_file, chi2 per bin (comparison.json)",
    "reference_covered_fraction": "share of the bins the PMF's total band (model included, "
    "at 95%) covers the reference PMF in (comparison.json)",
    "reference_barrier_sigmas": "|barrier - the reference PMF's| in combined total standard "
    "deviations (rates.json reference_pmf)",
    "reference_rate_sigmas": "|ln k_TST - the reference PMF's| in combined standard "
    "deviations, statistical and model (rates.json reference_pmf)",
    "oracle_reweighted_rms_kj_mol": "the PMF reweighted to the oracle against the reference",
    "mirror_rms_kj_mol": "PMF against its own mirror image, RMS (comparison.json)",
    "path_2d_barrier_kj_mol": "2D minimum free-energy path barrier (pmf_2d_mbar.json)",
    "labels": "oracle labels active learning asked for",
    "force_error_percent": "committee force RMSE over the reference force spread, %",
    "max_oracle_offset_kj_mol": "largest window offset from the oracle's checks (trust.json)",
}


@dataclass(frozen=True)
class Check:
    """One pinned figure of one run."""

    name: str
    measured: float | bool | None
    expected: str  # as the study pins it: "33 +- 6", "<= 2", "true"
    passed: bool


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def measure(results: str | Path) -> dict[str, float | bool]:
    """Every figure :data:`FIGURES` names that the results folder of a finished study
    holds (a figure a study does not produce is absent)."""
    results = Path(results)
    rates = _read(results / "free_energy/rates.json")
    comparison = _read(results / "free_energy/comparison.json")
    trust = _read(results / "free_energy/trust.json")
    figures: dict[str, float | bool] = {}
    if rates:
        figures["barrier_kj_mol"] = rates["barrier_kj_mol"]
        rate = rates.get("rate_constant_per_s", rates.get("eyring_rate_constant_per_s"))
        if rate:
            figures["log10_rate_constant_per_s"] = float(np.log10(rate))
        if "kappa" in rates:
            figures["kappa"] = rates["kappa"]
        for path in rates.get("paths", []):
            figures[f"barrier_over_{path['transition_state_cv']:g}_kj_mol"] = path["barrier_kj_mol"]
    for key, name in (
        ("reference", "reference"),
        ("reference_oracle_reweighted", "oracle_reweighted"),
        ("mirror", "mirror"),
    ):
        if key in comparison:
            figures[f"{name}_rms_kj_mol"] = comparison[key]["rms_difference_kj_mol"]
            if name == "reference":
                figures["reference_chi2_per_bin"] = comparison[key]["chi2_per_bin"]
                if "covered_fraction" in comparison[key]:
                    figures["reference_covered_fraction"] = comparison[key]["covered_fraction"]
    if "reference_pmf" in rates:
        figures["reference_barrier_sigmas"] = abs(rates["reference_pmf"]["barrier_z"])
        figures["reference_rate_sigmas"] = abs(rates["reference_pmf"]["tst_rate_z"])
    surface = _read(results / "free_energy/pmf_2d_mbar.json")
    if "path" in surface:
        figures["path_2d_barrier_kj_mol"] = surface["path"]["forward_barrier_kj_mol"]
    learning = _read(results / "active_learning/metrics.json")
    model = learning or _read(results / "model/metrics.json")
    if learning:
        figures["labels"] = learning["labelled_frames"]
    if "force_rmse_over_reference_std" in model:
        figures["force_error_percent"] = 100 * model["force_rmse_over_reference_std"]
    offsets = [w.get("oracle_offset_kj_mol") for w in trust.get("windows", [])]
    offsets = [abs(o) for o in offsets if o is not None]
    if offsets:
        figures["max_oracle_offset_kj_mol"] = max(offsets)
    if trust:
        figures["trusted"] = bool(trust["trusted"])
    return figures


def _figure(measured: Mapping, name: str):
    """A measured figure by its pinned name; ``barrier_over_<cv>_kj_mol`` takes the path
    whose top lies nearest <cv> (tops are bin centres)."""
    if name in measured or not name.startswith("barrier_over_"):
        return measured.get(name)
    wanted = float(name.removeprefix("barrier_over_").removesuffix("_kj_mol"))
    paths = {
        float(key.removeprefix("barrier_over_").removesuffix("_kj_mol")): value
        for key, value in measured.items()
        if key.startswith("barrier_over_")
    }
    if not paths:
        return None
    nearest = min(paths, key=lambda top: min(abs(top - wanted), 360 - abs(top - wanted)))
    return paths[nearest]


def judge(pins: Mapping, measured: Mapping, wall_time_min: float) -> list[Check]:
    """Every pin of a study's ``validation`` section against what its run measured."""
    checks = []
    if pins.get("wall_time_min") is not None:
        limit = pins["wall_time_min"]
        checks.append(
            Check("wall_time_min", wall_time_min, f"<= {limit:g}", wall_time_min <= limit)
        )
    if pins.get("trusted") is not None:
        value = measured.get("trusted")
        checks.append(
            Check("trusted", value, str(pins["trusted"]).lower(), value == pins["trusted"])
        )
    for name, pin in pins.get("figures", {}).items():
        value = _figure(measured, name)
        pin = {key: bound for key, bound in pin.items() if bound is not None}
        if "value" in pin:
            expected = f"{pin['value']:g} +- {pin['tolerance']:g}"
            passed = value is not None and abs(value - pin["value"]) <= pin["tolerance"]
        else:
            low, high = pin.get("min", -np.inf), pin.get("max", np.inf)
            bounds = [f">= {low:g}"] if "min" in pin else []
            bounds += [f"<= {high:g}"] if "max" in pin else []
            expected = " and ".join(bounds)
            passed = value is not None and low <= value <= high
        checks.append(Check(name, value, expected, bool(passed)))
    return checks


def record(study: str, commit: str, date: str, wall_time_min: float, checks: list[Check]) -> dict:
    """One run, as validation.json keeps it."""
    return {
        "study": study,
        "commit": commit,
        "date": date,
        "wall_time_min": round(wall_time_min, 1),
        "passed": all(check.passed for check in checks),
        "checks": [asdict(check) for check in checks],
    }


def _shown(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def markdown(
    records: Mapping[str, dict],
    notes: Mapping[str, str] | None = None,
    head: str | None = None,
    unchanged: Collection[str] = (),
) -> str:
    """The table of every study's latest validation run (and, per study, a note: why
    it was not rerun at the latest commit). A study in ``unchanged`` ran on what it
    runs on at commit ``head`` (code, resources and its study file but for its pins):
    its commit is shown as ``run (= head)``."""
    lines = [
        "| study | commit | date | wall time (2 cores) | result "
        "| pinned figures: measured (expected) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for study in sorted(records):
        run = records[study]
        figures = "; ".join(
            f"{c['name']} {_shown(c['measured'])} ({c['expected']}){'' if c['passed'] else ' FAIL'}"
            for c in run["checks"]
        )
        result = "pass" if run["passed"] else "FAIL"
        commit = run["commit"][:7]
        if head and study in unchanged and commit != head[:7]:
            commit += f" (= {head[:7]})"
        lines.append(
            f"| {study} | {commit} | {run['date']} | {run['wall_time_min']:.1f} min "
            f"| {result} | {figures} |"
        )
    if head and unchanged:
        lines.append(
            f"\n(= {head[:7]}): the study ran on the same code, resources and study file "
            f"(its pins aside) as at {head[:7]}, so that run is this commit's too."
        )
    for study, note in sorted((notes or {}).items()):
        lines.append(f"\n{study}: {note}")
    return "\n".join(lines) + "\n"
