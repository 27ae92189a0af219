"""Whether umbrella windows stayed where their committee is trusted.

A window run on a committee records, on every recorded frame, the committee's
disagreement (the largest difference between two members' forces on any atom). A
window is untrusted when a frame exceeds the committee's upper trust level (the
committee extrapolates so far that the force it integrates means nothing), or when
more than ``MAX_FRACTION_ABOVE_LOWER`` of its frames exceed the lower one (the
committee is uncertain over a sizeable part of the window, not on a rare frame: DP-GEN2
likewise calls an exploration converged when 90% of its frames lie below the lower
level, its default ``conv_accuracy``). The
PMF bins such a window samples are untrusted; results built on them are still written,
marked as such (:mod:`mlpmf.estimators` and :mod:`mlpmf.rates` never see this).
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mlpmf.colvars import periodic_difference

MAX_FRACTION_ABOVE_LOWER = 0.1
SAMPLED_QUANTILES = (0.025, 0.975)  # the CV range a window samples


@dataclass(frozen=True)
class WindowTrust:
    """One window's verdict."""

    window: int
    center: float  # CV unit
    max_disagreement_ev_a: float
    fraction_above_lower: float
    trusted: bool
    cv_range: tuple[float, float]  # CV the window sampled (SAMPLED_QUANTILES)


def judge_windows(
    centers: Sequence[float],
    cv_series: Sequence[np.ndarray],
    disagreement_series: Sequence[np.ndarray],
    lower_ev_a: float,
    upper_ev_a: float,
    period: float | None = None,
) -> list[WindowTrust]:
    """The verdict of every window (module docstring); a window without recorded
    disagreement (oracle or single-model windows: all NaN) is trusted."""
    verdicts = []
    for k, (center, cv, disagreement) in enumerate(
        zip(centers, cv_series, disagreement_series, strict=True)
    ):
        recorded = np.asarray(disagreement, dtype=float)
        recorded = recorded[np.isfinite(recorded)]
        largest = float(recorded.max()) if len(recorded) else float("nan")
        fraction = float(np.mean(recorded > lower_ev_a)) if len(recorded) else 0.0
        trusted = not (
            len(recorded) and (largest > upper_ev_a or fraction > MAX_FRACTION_ABOVE_LOWER)
        )
        offsets = periodic_difference(np.asarray(cv, dtype=float), center, period)
        low, high = np.quantile(offsets, SAMPLED_QUANTILES) if len(cv) else (0.0, 0.0)
        verdicts.append(
            WindowTrust(
                k,
                float(center),
                largest,
                fraction,
                bool(trusted),
                (float(center + low), float(center + high)),
            )  # fmt: skip
        )
    return verdicts


def untrusted_bins(
    bin_centers: np.ndarray, verdicts: Sequence[WindowTrust], period: float | None = None
) -> np.ndarray:
    """True for every bin inside the CV range an untrusted window sampled."""
    mask = np.zeros(len(bin_centers), dtype=bool)
    for verdict in verdicts:
        if verdict.trusted:
            continue
        low, high = verdict.cv_range
        offsets = periodic_difference(np.asarray(bin_centers), verdict.center, period)
        mask |= (offsets >= low - verdict.center) & (offsets <= high - verdict.center)
    return mask


def summary(verdicts: Sequence[WindowTrust], lower_ev_a: float, upper_ev_a: float) -> dict:
    """The verdicts as a JSON-ready document."""
    untrusted = [v for v in verdicts if not v.trusted]
    return {
        "trusted": not untrusted,
        "lower_trust_level_ev_a": lower_ev_a,
        "upper_trust_level_ev_a": upper_ev_a,
        "max_fraction_above_lower": MAX_FRACTION_ABOVE_LOWER,
        "untrusted_windows": [v.window for v in untrusted],
        "untrusted_centers": [v.center for v in untrusted],
        "windows": [asdict(v) for v in verdicts],
    }


def describe(document: dict, cv_unit: str = "") -> str:
    """One sentence naming the untrusted windows, for logs and error messages."""
    if "reason" in document:
        return document["reason"]
    if document["trusted"]:
        return "every window stayed within the committee's trust levels"
    parts = [
        f"window {w['window']:03d} (centre {w['center']:g}{cv_unit}: largest disagreement "
        f"{w['max_disagreement_ev_a']:.2f} eV/A, {100 * w['fraction_above_lower']:.1f}% of "
        f"frames above {document['lower_trust_level_ev_a']:.2f})"
        for w in document["windows"]
        if not w["trusted"]
    ]
    return (
        f"UNTRUSTED: the committee left its trust levels (lower "
        f"{document['lower_trust_level_ev_a']:.2f}, upper {document['upper_trust_level_ev_a']:.2f}"
        f" eV/A) in " + "; ".join(parts)
    )


def window_failure_message(error, windows: Sequence[dict], potential: str, cv_unit: str) -> str:
    """What to tell a user whose window MD stopped with ``error`` (a
    :class:`mlpmf.dynamics.SimulationError`): which window, centre, step and atoms,
    and what to do about it. ``windows`` are the job's window specs, in batch order."""
    replica = getattr(error, "replica", None)
    where = "one of windows " + ", ".join(w["window"] for w in windows)
    if replica is not None and 0 <= replica < len(windows):
        spec = windows[replica]
        where = f"window {spec['window']} (centre {spec['center']:g} {cv_unit})"
    step = getattr(error, "step", None)
    atoms = getattr(error, "atoms", None)
    detail = f"at MD step {step}" if step is not None else "during MD"
    if atoms:
        detail += f", atom{'s' if len(atoms) > 1 else ''} {', '.join(map(str, atoms))}"
    if potential == "oracle":
        advice = (
            "the oracle's MD failed: check the time step (umbrella.timestep_fs), the "
            "structure and the oracle settings (charge, multiplicity, max_iterations)"
        )
    else:
        advice = (
            f"the {potential} is not trustworthy here. Add data where it fails: turn on or "
            "lengthen active learning (active_learning.max_iterations, steps_per_iteration), "
            "lower its trigger (active_learning.force_disagreement_ev_a or trigger_factor), "
            "or add reference data around this CV value (dataset.scan_points, md_steps)"
        )
    return f"Umbrella {where} stopped {detail}: {error}. What to do: {advice}."
