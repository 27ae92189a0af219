"""The cost ledger of a study: what the oracle was asked, and what it would have been.

An MLIP earns its keep when the oracle is expensive: the study labels a few hundred
frames where umbrella windows driven by the oracle itself would need an oracle call
per MD step. :func:`oracle_ledger` puts the two side by side from the files the
stages write (``dataset/oracle.json``, ``active_learning/metrics.json``,
``free_energy/transmission.json``) and the measured seconds per oracle call.
"""

from collections.abc import Mapping

SECONDS_PER_DAY = 86400.0


def kept(frames, calls) -> dict:
    """``kept_frames`` (frames a stage added to the data) and ``oracle_calls_per_kept_frame``
    (what each cost: the reference MD's unrecorded steps, the scan's relaxation), or
    nothing when the stage's file does not say how many it kept."""
    if frames is None:
        return {}
    return {
        "kept_frames": int(frames),
        "oracle_calls_per_kept_frame": int(calls) / int(frames) if frames else None,
    }


def oracle_ledger(
    reference: Mapping,
    active_learning: Mapping | None,
    window_md_steps: int,
    transmission: Mapping | None = None,
    window_check_calls: int = 0,
) -> dict:
    """Oracle calls and seconds the study used, and the oracle time the same MD would
    have taken on the oracle (its MD steps times the measured seconds per call).

    Parameters
    ----------
    reference
        ``dataset/oracle.json``: ``oracle_calls``, ``oracle_time_s`` and ``frames``
        kept (and the explorer's calls, when one drove the reference MD).
    active_learning
        ``active_learning/metrics.json`` (``oracle_calls``, ``oracle_time_s``,
        ``committee_md_steps``, ``labelled_frames``), or None without active learning.
    window_md_steps
        MD steps of all umbrella windows, equilibration included.
    transmission
        ``free_energy/transmission.json`` (its ``md_steps``), or None.
    window_check_calls
        Oracle calls on window frames (``umbrella.oracle_every``); their seconds are
        estimated at the other stages' seconds per call.
    """
    stages = {
        "reference_data": {
            "oracle_calls": int(reference["oracle_calls"]),
            "oracle_time_s": float(reference.get("oracle_time_s", 0.0)),
            **kept(reference.get("frames"), reference["oracle_calls"]),
        }
    }
    if "explorer" in reference:
        stages["reference_data"].update(
            explorer=reference["explorer"],
            explorer_calls=int(reference["explorer_calls"]),
            explorer_time_s=float(reference["explorer_time_s"]),
        )
    if active_learning is not None:
        stages["active_learning"] = {
            "oracle_calls": int(active_learning["oracle_calls"]),
            "oracle_time_s": float(active_learning.get("oracle_time_s", 0.0)),
            "committee_md_steps": int(active_learning["committee_md_steps"]),
            **kept(active_learning.get("labelled_frames"), active_learning["oracle_calls"]),
        }
    calls = sum(stage["oracle_calls"] for stage in stages.values())
    seconds = sum(stage["oracle_time_s"] for stage in stages.values())
    per_call = seconds / max(calls, 1)
    if window_check_calls:
        stages["window_checks"] = {
            "oracle_calls": int(window_check_calls),
            "oracle_time_s": window_check_calls * per_call,
            "oracle_time_estimated": True,
        }
        calls += int(window_check_calls)
        seconds += window_check_calls * per_call
    md_steps = {"umbrella_windows": int(window_md_steps)}
    if transmission is not None and "md_steps" in transmission:
        md_steps["transmission"] = int(transmission["md_steps"])
    if active_learning is not None:
        md_steps["active_learning"] = stages["active_learning"]["committee_md_steps"]
    steps = sum(md_steps.values())
    return {
        "oracle": reference.get("oracle"),
        **stages,
        "oracle_calls": calls,
        "oracle_time_s": seconds,
        "oracle_seconds_per_call": per_call,
        "committee_md_steps": md_steps,
        "oracle_driven_calls": steps,
        "oracle_driven_time_s": steps * per_call,
        "oracle_driven_time_days": steps * per_call / SECONDS_PER_DAY,
        "oracle_calls_saved_factor": steps / max(calls, 1),
        "method": (
            "oracle-driven cost = the committee's MD steps (windows, active learning, "
            "transmission shots) x the measured seconds per oracle call of this study; "
            "one force call per MD step"
        ),
    }
