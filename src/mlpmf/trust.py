r"""Whether umbrella windows stayed where their model is trusted.

A window run on a committee records, on every recorded frame, the committee's
disagreement (the largest difference between two members' forces on any atom). A
window is untrusted when a frame exceeds the committee's upper trust level (the
committee extrapolates so far that the force it integrates means nothing), or when
more than ``MAX_FRACTION_ABOVE_LOWER`` of its frames exceed the lower one (the
committee is uncertain over a sizeable part of the window, not on a rare frame: DP-GEN2
likewise calls an exploration converged when 90% of its frames lie below the lower
level, its default ``conv_accuracy``).

Where the oracle labelled some of a window's frames (``umbrella.oracle_every``), a
second, independent check: the window's free energy on the oracle's potential minus
its free energy on the model's, :math:`\Delta F_k = -kT \ln \langle e^{-\beta \Delta}
\rangle_k` with :math:`\Delta` the oracle's energy minus the model's on those frames
(free-energy perturbation within the window). For a narrow window this is how far the
model's PMF lies from the oracle's near the window's centre, up to a constant; a window
whose :math:`\Delta F_k` lies further than a tolerance from the windows' median, beyond
twice its statistical error, is untrusted. It sees what no disagreement can: members
that agree on a wrong surface (missing reference data), and a single model.

The PMF bins an untrusted window samples are untrusted; results built on them are
still written, marked as such (:mod:`mlpmf.estimators` and :mod:`mlpmf.rates` never
see this).
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd

from mlpmf.colvars import periodic_difference
from mlpmf.timeseries import statistical_inefficiency
from mlpmf.units import ev_to_kj_mol, kt_ev

MAX_FRACTION_ABOVE_LOWER = 0.1
UNTRUSTED_ADVICE = (
    "refine the model where it failed: more active learning (active_learning."
    "max_iterations, steps_per_iteration), a lower trigger (active_learning."
    "force_disagreement_ev_a or trigger_factor) or more reference data there "
    "(dataset.scan_points, md_steps); with the windows' oracle checks "
    "(umbrella.oracle_every) the oracle-reweighted PMF, free_energy_oracle_kj_mol in "
    "pmf_mbar.csv, is the oracle's estimate; or set accept_untrusted: true to accept "
    "such results."
)
SAMPLED_QUANTILES = (0.025, 0.975)  # the CV range a window samples


@dataclass(frozen=True)
class WindowTrust:
    """One window's verdict."""

    window: int
    center: float  # CV unit
    max_disagreement_ev_a: float
    fraction_above_lower: float
    trusted: bool  # within the trust levels and, with oracle checks, agreeing with them
    cv_range: tuple[float, float]  # CV the window sampled (SAMPLED_QUANTILES)
    within_trust_levels: bool = True
    # with oracle checks: Delta F_k minus the windows' median, and its standard error
    oracle_offset_kj_mol: float = float("nan")
    oracle_offset_uncertainty_kj_mol: float = float("nan")
    oracle_agrees: bool = True
    # 2D umbrella sampling: the second CV's centre and the range the window sampled
    center_2: float | None = None
    cv_range_2: tuple[float, float] | None = None


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
        verdicts.append(
            WindowTrust(
                k,
                float(center),
                largest,
                fraction,
                bool(trusted),
                sampled_range(cv, center, period),
                bool(trusted),
            )  # fmt: skip
        )
    return verdicts


def sampled_range(cv: np.ndarray, center: float, period: float | None) -> tuple[float, float]:
    """The CV range a window sampled (``SAMPLED_QUANTILES``), about its centre."""
    offsets = periodic_difference(np.asarray(cv, dtype=float), center, period)
    low, high = np.quantile(offsets, SAMPLED_QUANTILES) if len(offsets) else (0.0, 0.0)
    return float(center + low), float(center + high)


def with_second_cv(
    verdicts: Sequence[WindowTrust],
    centers_2: Sequence[float],
    cv_2: Sequence[np.ndarray],
    period_2: float | None,
) -> list[WindowTrust]:
    """The verdicts of 2D windows, with the second CV's centre and sampled range, so
    that only the bins a window sampled in both CVs are untrusted."""
    return [
        replace(v, center_2=float(c), cv_range_2=sampled_range(x, c, period_2))
        for v, c, x in zip(verdicts, centers_2, cv_2, strict=True)
    ]


def window_oracle_offsets(
    energy_offsets_ev: Sequence[np.ndarray], temperature_k: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""Every window's :math:`\Delta F_k` (kJ/mol) minus their median, and its standard
    error (delta method, the rows' statistical inefficiency), from the oracle's energy
    minus the model's on its labelled frames (eV; NaN rows, where the oracle failed or
    did not label, are left out). NaN for a window with fewer than two rows."""
    kt = kt_ev(temperature_k)
    offsets, errors = [], []
    for rows in energy_offsets_ev:
        delta = np.asarray(rows, dtype=float)
        delta = delta[np.isfinite(delta)]
        if len(delta) < 2:
            offsets.append(np.nan)
            errors.append(np.nan)
            continue
        shifted = np.exp(-(delta - delta.min()) / kt)  # <= 1: no overflow
        mean = shifted.mean()
        offsets.append(delta.min() - kt * np.log(mean))
        inefficiency = statistical_inefficiency(shifted) if shifted.std() > 0 else 1.0
        errors.append(kt * np.sqrt(inefficiency * shifted.var(ddof=1) / len(delta)) / mean)
    offsets = np.array(offsets) - np.nanmedian(offsets) if offsets else np.array([])
    return ev_to_kj_mol(offsets), ev_to_kj_mol(np.array(errors))


def judge_oracle_checks(
    verdicts: Sequence[WindowTrust],
    energy_offsets_ev: Sequence[np.ndarray],
    temperature_k: float,
    tolerance_kj_mol: float,
) -> list[WindowTrust]:
    """The verdicts with the oracle's check added (module docstring): a window whose
    offset exceeds ``tolerance_kj_mol`` by more than twice its error is untrusted."""
    offsets, errors = window_oracle_offsets(energy_offsets_ev, temperature_k)
    judged = []
    for verdict, offset, error in zip(verdicts, offsets, errors, strict=True):
        agrees = not (np.isfinite(offset) and abs(offset) - 2.0 * error > tolerance_kj_mol)
        judged.append(
            replace(
                verdict,
                oracle_offset_kj_mol=float(offset),
                oracle_offset_uncertainty_kj_mol=float(error),
                oracle_agrees=agrees,
                trusted=verdict.trusted and agrees,
            )
        )
    return judged


def untrusted_bins(
    bin_centers: np.ndarray,
    verdicts: Sequence[WindowTrust],
    period: float | None = None,
    bin_centers_2: np.ndarray | None = None,
    period_2: float | None = None,
) -> np.ndarray:
    """True for every bin inside the CV range an untrusted window sampled; with
    ``bin_centers_2`` (the bins of a 2D surface), inside its ranges in both CVs."""

    def inside(centers, center, cv_range, period):
        offsets = periodic_difference(np.asarray(centers), center, period)
        return (offsets >= cv_range[0] - center) & (offsets <= cv_range[1] - center)

    mask = np.zeros(len(bin_centers), dtype=bool)
    for verdict in verdicts:
        if verdict.trusted:
            continue
        hit = inside(bin_centers, verdict.center, verdict.cv_range, period)
        if bin_centers_2 is not None and verdict.cv_range_2 is not None:
            hit &= inside(bin_centers_2, verdict.center_2, verdict.cv_range_2, period_2)
        mask |= hit
    return mask


def mark_table(
    table: pd.DataFrame,
    verdicts: Sequence[WindowTrust],
    period: float | None = None,
    period_2: float | None = None,
) -> pd.DataFrame:
    """An estimator's PMF table with its ``trusted`` column: a 1D table (``cv``) gets it
    fourth, after the uncertainty, a 2D surface (``cv_1``, ``cv_2``)
    last."""
    marked = table.drop(columns="trusted", errors="ignore")
    if "cv_2" in marked:
        marked["trusted"] = ~untrusted_bins(
            marked["cv_1"].to_numpy(), verdicts, period, marked["cv_2"].to_numpy(), period_2
        )
        return marked
    first = ["cv", "free_energy_kj_mol", "uncertainty_kj_mol"]
    trusted = ~untrusted_bins(marked["cv"].to_numpy(), verdicts, period)
    marked.insert(len(first), "trusted", trusted)
    return marked


def summary(
    verdicts: Sequence[WindowTrust],
    lower_ev_a: float | None,
    upper_ev_a: float | None,
    oracle_tolerance_kj_mol: float | None = None,
) -> dict:
    """The verdicts as a JSON-ready document (trust levels None: no committee;
    tolerance None: no oracle checks)."""
    untrusted = [v for v in verdicts if not v.trusted]
    return {
        "trusted": not untrusted,
        "lower_trust_level_ev_a": lower_ev_a,
        "upper_trust_level_ev_a": upper_ev_a,
        "max_fraction_above_lower": MAX_FRACTION_ABOVE_LOWER,
        "oracle_tolerance_kj_mol": oracle_tolerance_kj_mol,
        "untrusted_windows": [v.window for v in untrusted],
        "untrusted_centers": [v.center for v in untrusted],
        "windows": [
            {k: None if isinstance(x, float) and np.isnan(x) else x for k, x in asdict(v).items()}
            for v in verdicts
        ],  # JSON has no NaN: null where a window recorded no disagreement or checks
    }


def read_verdicts(document: dict) -> list[WindowTrust]:
    """The verdicts of a document :func:`summary` wrote: JSON's null back to NaN where
    the field is a number, its lists back to (low, high) tuples."""
    optional = {f.name: f.default is None for f in fields(WindowTrust)}

    def value(name, v):
        if v is None:
            return None if optional[name] else float("nan")
        return tuple(v) if isinstance(v, list) else v

    return [
        WindowTrust(**{k: value(k, v) for k, v in window.items() if k in optional})
        for window in document["windows"]
    ]


def describe(document: dict, cv_unit: str = "") -> str:
    """One sentence naming the untrusted windows, for logs and error messages."""
    if "reason" in document:
        return document["reason"]
    checks = []
    if document.get("lower_trust_level_ev_a") is not None:
        checks.append("within the committee's trust levels")
    tolerance = document.get("oracle_tolerance_kj_mol")
    if tolerance is not None:
        checks.append(f"within {tolerance:.1f} kJ/mol of the oracle's checks")
    if document["trusted"]:
        return "every window stayed " + " and ".join(checks)
    sentences = []
    left = [
        f"window {w['window']:03d} (centre {_centre(w, cv_unit)}: largest disagreement "
        f"{w['max_disagreement_ev_a']:.2f} eV/A, {100 * w['fraction_above_lower']:.1f}% of "
        f"frames above {document['lower_trust_level_ev_a']:.2f})"
        for w in document["windows"]
        if not w.get("within_trust_levels", w["trusted"])
    ]
    if left:
        sentences.append(
            f"the committee left its trust levels (lower "
            f"{document['lower_trust_level_ev_a']:.2f}, upper "
            f"{document['upper_trust_level_ev_a']:.2f} eV/A) in " + "; ".join(left)
        )
    off = [
        f"window {w['window']:03d} (centre {_centre(w, cv_unit)}: "
        f"{w['oracle_offset_kj_mol']:+.1f} +- {w['oracle_offset_uncertainty_kj_mol']:.1f} kJ/mol)"
        for w in document["windows"]
        if not w.get("oracle_agrees", True)
    ]
    if off:
        sentences.append(
            "the oracle's checks put the model's free energy further than "
            f"{tolerance:.1f} kJ/mol from the windows' median in " + "; ".join(off)
        )
    return "UNTRUSTED: " + "; and ".join(sentences)


def _centre(window: dict, cv_unit: str) -> str:
    """A window's centre as the messages write it: (phi, psi) for a 2D window."""
    if window.get("center_2") is not None:
        return f"({window['center']:g}, {window['center_2']:g}){cv_unit}"
    return f"{window['center']:g}{cv_unit}"


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
