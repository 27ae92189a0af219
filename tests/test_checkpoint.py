"""The one checkpoint helper: what a fingerprint sees, and what load hands back."""

import numpy as np
import pytest
import torch

from mlpmf.checkpoint import STAGE_VERSIONS, Checkpoint, files_digest, fingerprint


def test_a_fingerprint_changes_with_the_settings_inputs_stage_and_code_version(
    tmp_path, monkeypatch
):
    data = tmp_path / "train.extxyz"
    data.write_text("frames")
    settings = {"committee": {"epochs": 300, "lr": 1e-3}, "seed": 7}
    base = fingerprint("train_committee", settings, [data])
    reordered = {"seed": 7, "committee": {"lr": 1e-3, "epochs": 300}}
    assert fingerprint("train_committee", reordered, [data]) == base  # key order: same
    assert fingerprint("train_committee", {**settings, "seed": 8}, [data]) != base
    assert fingerprint("active_learning", settings, [data]) != base
    data.write_text("other frames")
    assert fingerprint("train_committee", settings, [data]) != base
    data.write_text("frames")
    assert fingerprint("train_committee", settings, salt=files_digest([data])) != base
    monkeypatch.setitem(STAGE_VERSIONS, "train_committee", STAGE_VERSIONS["train_committee"] + 1)
    assert fingerprint("train_committee", settings, [data]) != base
    with pytest.raises(KeyError, match="STAGE_VERSIONS"):
        fingerprint("no_such_stage", settings)


def test_a_checkpoint_gives_back_its_state_only_to_its_own_fingerprint(tmp_path):
    path = tmp_path / "checkpoints" / "state.pt"
    checkpoint = Checkpoint(path, "abc", every=10)
    assert checkpoint.load() is None  # nothing saved yet
    rng = np.random.default_rng(3)
    state = {"step": 40, "positions": rng.normal(size=(5, 3)), "weights": torch.ones(2)}
    checkpoint.save(state)
    loaded = checkpoint.load()
    assert loaded["step"] == 40
    np.testing.assert_array_equal(loaded["positions"], state["positions"])
    torch.testing.assert_close(loaded["weights"], state["weights"], rtol=0, atol=0)
    assert Checkpoint(path, "other settings").load() is None
    assert [p.name for p in path.parent.iterdir()] == ["state.pt"]  # no temporary left
    path.write_bytes(b"truncated by a kill")
    assert checkpoint.load() is None  # unreadable: start over, never crash
    checkpoint.remove()
    assert not path.exists()
    checkpoint.remove()  # removing twice is fine


def test_a_window_checkpoint_belongs_to_its_physics_not_its_place_or_length(tmp_path):
    """More steps, another window id or another job's partners (without exchange) keep
    a window's checkpoint; its centre, the model file, any other setting or, with
    replica exchange, its partners give it another."""
    from mlpmf.umbrella import window_checkpoints

    model = tmp_path / "committee.pt"
    model.write_bytes(b"weights")
    windows = [
        {"window": "000", "center": 1.0, "seed": 1},
        {"window": "001", "center": 2.0, "seed": 2},
    ]
    settings = {"umbrella": {"steps": 1000, "exchange_every": 0}, "windows": windows, "seed": 1}

    def names(settings=settings, windows=windows):
        checkpoints = window_checkpoints(tmp_path / "c", settings, windows, [model], 500)
        assert all(c.every == 500 for c in checkpoints)
        return [c.path.name for c in checkpoints]

    base = names()
    assert base[0].startswith("window_at_1_") and base[0].endswith(".pt")
    longer = {**settings, "umbrella": {"steps": 5000, "exchange_every": 0}}
    assert names(longer) == base
    renumbered = [{**w, "window": f"{k + 7:03d}"} for k, w in enumerate(windows)]
    assert names(windows=renumbered) == base
    assert names(windows=windows[:1]) == base[:1]  # alone in a job: the same physics
    assert names({**settings, "seed": 2}) != base
    moved = [{**windows[0], "center": 1.5}, windows[1]]
    assert names(windows=moved)[1] == base[1] and names(windows=moved)[0] != base[0]
    exchanging = {**settings, "umbrella": {"steps": 1000, "exchange_every": 10}}
    with_partners = names(exchanging)
    assert names(exchanging, windows[:1]) != with_partners[:1]  # partners count
    model.write_bytes(b"other weights")
    assert not set(names()) & set(base)
