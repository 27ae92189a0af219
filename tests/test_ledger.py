"""The oracle ledger adds up the calls the stages made and prices the committee's MD."""

import pytest

from mlpmf.ledger import oracle_ledger


def test_the_ledger_adds_the_stages_and_prices_every_md_step_at_the_measured_rate():
    reference = {
        "oracle": "pyscf dft pbe0/6-31g*",
        "oracle_calls": 200,
        "oracle_time_s": 240.0,
        "explorer": "xtb GFN2-xTB",
        "explorer_calls": 6000,
        "explorer_time_s": 18.0,
        "frames": 160,
    }
    learning = {"oracle_calls": 40, "oracle_time_s": 48.0, "committee_md_steps": 100_000,
                "labelled_frames": 36}  # fmt: skip
    ledger = oracle_ledger(reference, learning, 24 * 22_000, {"md_steps": 20_000})
    assert ledger["oracle_calls"] == 240
    assert ledger["oracle_time_s"] == pytest.approx(288.0)
    assert ledger["oracle_seconds_per_call"] == pytest.approx(1.2)
    steps = 24 * 22_000 + 100_000 + 20_000
    assert ledger["oracle_driven_calls"] == steps
    assert ledger["oracle_driven_time_s"] == pytest.approx(1.2 * steps)
    assert ledger["oracle_driven_time_days"] == pytest.approx(1.2 * steps / 86400)
    assert ledger["reference_data"]["explorer_calls"] == 6000
    assert ledger["oracle_calls_saved_factor"] == pytest.approx(steps / 240)
    assert ledger["reference_data"]["kept_frames"] == 160
    assert ledger["reference_data"]["oracle_calls_per_kept_frame"] == pytest.approx(1.25)
    assert ledger["active_learning"]["oracle_calls_per_kept_frame"] == pytest.approx(40 / 36)


def test_without_active_learning_or_transmission_only_the_windows_count():
    ledger = oracle_ledger({"oracle_calls": 10, "oracle_time_s": 1.0}, None, 5000)
    assert ledger["committee_md_steps"] == {"umbrella_windows": 5000}
    assert "active_learning" not in ledger and ledger["oracle_driven_time_s"] == pytest.approx(500)
    assert "kept_frames" not in ledger["reference_data"]  # an older oracle.json: not guessed


def test_the_report_headline_gives_each_stage_its_calls_and_kept_frames():
    from mlpmf.report import ledger_headline

    reference = {"oracle": "xtb", "oracle_calls": 44_405, "oracle_time_s": 240.0, "frames": 390}
    learning = {"oracle_calls": 24, "oracle_time_s": 0.2, "committee_md_steps": 5000,
                "labelled_frames": 24}  # fmt: skip
    text = ledger_headline(oracle_ledger(reference, learning, 432_000))
    assert "reference data 44405 for 390 frames, active learning 24 for 24 frames" in text
    assert "437,000 calls" in text
