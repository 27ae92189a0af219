"""The front page of a study's HTML report: what a user came for, in sentences.

The workflow's Snakefile calls these when it is parsed (``snakemake --report`` renders
``workflow/report/workflow.rst`` with them); they read the results that exist, so the
page says what the run reached, trusted or not. Results of an older run must not stop a
dry run: only keys every version of these files has are required.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mlpmf.io import read_json
from mlpmf.trust import UNTRUSTED_ADVICE, describe


def trust_statement(results: Path, cv_unit: str) -> str:
    """The trust verdict: which windows left the model's trust (and by how much) and what
    to do, or that every window stayed trusted; empty before the trust check ran."""
    path = Path(results) / "free_energy/trust.json"
    if not path.exists():
        return ""
    document = read_json(path)
    if document["trusted"]:
        return f"{describe(document)}."
    accepted = " (accepted: accept_untrusted is true)" if document.get("accepted") else ""
    return (
        f"{describe(document, f' {cv_unit}')}{accepted}. The PMF, barrier and rate are not to "
        f"be trusted there (the bins are marked in the PMF tables). What to do: "
        f"{UNTRUSTED_ADVICE}"
    )


def _error(value: dict, key: str = "barrier") -> str:
    """'± total (statistical s, model m)' of a barrier, the total where known."""
    statistical = value.get(f"{key}_uncertainty_kj_mol")
    total = value.get(f"{key}_total_uncertainty_kj_mol")
    model = value.get(f"{key}_model_uncertainty_kj_mol")
    if total is not None and model is not None:
        return f" ± {total:.1f} (statistical {statistical:.1f}, model {model:.1f})"
    return "" if statistical is None else f" ± {statistical:.1f}"


def rate_headline(rates: dict, cv_unit: str) -> list[str]:
    """Rate and barrier, the way rates.json has them: on a periodic CV the total rate over
    both ways round and the dominant path's barrier, then every path."""
    rate = rates.get("rate_constant_per_s")
    paths = rates.get("paths", [])
    where = f"at {rates['transition_state_cv']:g} {cv_unit}"
    parts = []
    if rate is not None:
        total = " summed over both ways round the CV" if paths else ""
        text = f"Rate constant {rate:.3g} 1/s{total}"
        if "rate_constant_interval_per_s" in rates:
            low, high = rates["rate_constant_interval_per_s"]
            text += f" (16-84%: {low:.3g} to {high:.3g})"
        if "kappa" in rates:
            text += (
                f": the reactive-flux transmission coefficient {rates['kappa']:.2f} ± "
                f"{rates['kappa_uncertainty']:.2f} (at the shots' friction "
                f"{rates.get('kappa_friction_per_fs', float('nan')):g}/fs) times TST's "
                f"{rates['tst_rate_constant_per_s']:.3g} 1/s"
            )
        elif "kramers_transmission" in rates:
            text += (
                f" by TST (Kramers' formula at the windows' friction "
                f"{rates.get('kramers_friction_per_fs', float('nan')):g}/fs would give "
                f"{rates['kramers_transmission']:.2f} times that)"
            )
        parts.append(text)
    dominant = "the dominant path's barrier" if paths else "barrier"
    parts.append(f"{dominant} {rates['barrier_kj_mol']:.1f}{_error(rates)} kJ/mol (MBAR, {where})")
    if "reference_barrier_kj_mol" in rates:
        parts.append(f"reference barrier {rates['reference_barrier_kj_mol']:.1f} kJ/mol")
    lines = [f"{'; '.join(parts)}."]
    for path in paths:
        text = f"Path over {path['transition_state_cv']:g} {cv_unit}: barrier "
        text += f"{path['barrier_kj_mol']:.1f}{_error(path)} kJ/mol"
        references = [
            f"{name} {path[key]:.1f}"
            for key, name in (
                ("reference_barrier_kj_mol", "reference"),
                ("reference_experiment_kj_mol", "experiment"),
            )
            if key in path
        ]
        if references:
            text += f" ({', '.join(references)})"
        if "rate_constant_per_s" in path:
            text += f", TST rate constant {path['rate_constant_per_s']:.3g} 1/s"
        lines.append(f"{text}.")
    return lines


def _model_part(rates: dict) -> str:
    """Where the model's part of the budget comes from."""
    calibration = rates.get("model_calibration")
    if "barrier_model_uncertainty_kj_mol" not in rates:
        return "none (the oracle drove the windows)"
    if calibration is None:
        return (
            "the committee members' spread, uncalibrated (no oracle checks: umbrella.oracle_every)"
        )
    return (
        f"the members' spread x {calibration['scale']:.2f}, calibrated by the windows' oracle "
        f"checks (they measure the model's error at {calibration['measured_rms_kj_mol']:.2f} "
        f"kJ/mol RMS over {calibration['bins']} bins, the members spread "
        f"{calibration['spread_rms_kj_mol']:.2f})"
    )


def budget_headline(rates: dict) -> list[str]:
    """The error budget's lines: the barrier's and the rate's total intervals at their
    stated confidence, each part of ln k's error as a factor on k, and, with a reference
    PMF (the oracle's own windows), how far the result lies from it."""
    if "log_rate_uncertainty" not in rates:
        return []
    parts = rates["log_rate_uncertainty"]
    confidence = f"{100 * rates['confidence']:.0f}%"
    low, high = rates["barrier_total_interval_kj_mol"]
    rate_low, rate_high = rates["rate_constant_total_interval_per_s"]
    recrossing = (
        "not measured (no transmission stage: TST's rate is an upper bound)"
        if parts["recrossing"] is None
        else f"x/ {np.exp(parts['recrossing']):.2f} (kappa's error)"
    )
    model = _model_part(rates)
    if parts["model"] is not None:
        model = f"x/ {np.exp(parts['model']):.2f} from {model}"
    lines = [
        f"Error budget at {confidence} confidence: barrier {low:.1f} to {high:.1f} kJ/mol, rate "
        f"constant {rate_low:.3g} to {rate_high:.3g} 1/s. Its parts (one standard deviation, "
        f"as a factor on k): statistical x/ {np.exp(parts['statistical']):.2f}; model "
        f"{model}; recrossing {recrossing}."
    ]
    reference = rates.get("reference_pmf")
    if reference is not None:
        verdict = "within" if reference["covered"] else "outside"
        lines.append(
            f"Against the reference PMF: its barrier {reference['barrier_kj_mol']:.1f} ± "
            f"{reference['barrier_uncertainty_kj_mol']:.1f} kJ/mol lies "
            f"{abs(reference['barrier_z']):.1f} combined standard deviations from this one, its "
            f"TST rate {reference['tst_rate_constant_per_s']:.3g} 1/s "
            f"{abs(reference['tst_rate_z']):.1f}: {verdict} the {confidence} interval."
        )
    return lines


def ledger_headline(ledger: dict) -> str:
    """The oracle's cost, and what driving the same MD with it would have cost."""
    stages = []
    for name in ("reference_data", "active_learning"):
        if name in ledger:
            stage = ledger[name]
            text = f"{name.replace('_', ' ')} {stage['oracle_calls']}"
            if stage.get("kept_frames"):
                text += f" for {stage['kept_frames']} frames"
            stages.append(text)
    return (
        f"Oracle ({ledger['oracle']}): {ledger['oracle_calls']} calls "
        f"({', '.join(stages)}), {ledger['oracle_time_s'] / 60:.1f} min at "
        f"{ledger['oracle_seconds_per_call']:.3g} s per call; the same MD driven by the "
        f"oracle would have taken {ledger['oracle_driven_calls']:,} calls, "
        f"{ledger['oracle_driven_time_days']:.2g} days."
    )


def headline(results: Path, cv_unit: str, second_cv: Sequence | None = None) -> list[str]:
    """The front page's lines: rate and barrier, the 2D path, the reference comparison,
    added windows, the oracle's cost and every diagnostics warning, where written."""
    results = Path(results)
    lines = []
    rates = results / "free_energy/rates.json"
    if rates.exists():
        lines += rate_headline(read_json(rates), cv_unit)
        lines += budget_headline(read_json(rates))
    surface = results / "free_energy/pmf_2d_mbar.json"
    if second_cv and surface.exists() and "path" in read_json(surface):
        path = read_json(surface)["path"]
        lines.append(
            f"2D umbrella sampling on the CV and {second_cv[0]}: minimum free-energy path "
            f"from {path['reactant_minimum']} to {path['product_minimum']}, barrier "
            f"{path['forward_barrier_kj_mol']:.1f} ± "
            f"{path['forward_barrier_uncertainty_kj_mol']:.1f} kJ/mol (back "
            f"{path['backward_barrier_kj_mol']:.1f} ± "
            f"{path['backward_barrier_uncertainty_kj_mol']:.1f}); the barrier above is "
            "along the PMF projected on the CV."
        )
    comparison = results / "free_energy/comparison.json"
    c = read_json(comparison).get("reference") if comparison.exists() else None
    if c is not None:
        parts = [
            f"PMF against {c.get('file', 'the reference')}: "
            f"{c['rms_difference_kj_mol']:.2f} kJ/mol RMS over {c['bins_compared']} bins"
        ]
        if "expected_rms_kj_mol" in c:  # older runs did not record the floor
            parts.append(f"their error bars alone would give {c['expected_rms_kj_mol']:.2f}")
        parts.append(f"largest {c['max_abs_difference_kj_mol']:.1f}")
        lines.append(f"{'; '.join(parts)}.")
    windows = results / "umbrella/windows.csv"
    if windows.exists():
        table = pd.read_csv(windows)
        if "round" in table and (table["round"] > 0).any():
            added = table[table["round"] > 0]
            where = "; ".join(
                f"{c:g} ({r})" for c, r in zip(added["center"], added["reason"], strict=True)
            )
            lines.append(
                f"Adaptive windows: {len(added)} added in {added['round'].max()} rounds "
                f"where neighbours overlapped too little: {where}."
            )
    ledger = results / "oracle_ledger.json"
    if ledger.exists():
        lines.append(ledger_headline(read_json(ledger)))
    diagnostics = results / "free_energy/diagnostics.json"
    if diagnostics.exists():
        lines += [f"Warning: {w}." for w in read_json(diagnostics).get("warnings", [])]
    return lines
