"""Restart files: one fingerprint recipe and one file format for every stage that resumes.

Training (every few epochs), active learning (every iteration) and umbrella windows
(every few thousand steps, and at their end) save their whole state, so a killed job
continues where it stopped and the result equals the uninterrupted run bit for bit. A
saved state is used only by the computation it belongs to: its :func:`fingerprint` is
a digest of

- the stage's name and code version (:data:`STAGE_VERSIONS`: bumped when a change to
  the code makes old state wrong to continue),
- the settings the stage reads (any JSON-able value: the rule's params, or the part of
  them that identifies one window), in canonical form, and
- the bytes of its input files (training frames, the model it refines),

so a changed setting, input or stage never resumes stale state; it starts over instead.
:class:`Checkpoint` writes atomically (a kill mid-write leaves the previous file) and
reads back ``None`` for a missing, foreign or unreadable file.
"""

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mlpmf.io import atomic_path

log = logging.getLogger(__name__)

# The code version of each stage that resumes. active_learning and umbrella_window also
# depend on where their replicas start: 1 started set r of umbrella.repeats from the
# (r+1)-th nearest frame, 2 from the r-th structurally distinct frame within kT.
STAGE_VERSIONS: dict[str, int] = {
    "train_committee": 1,
    "active_learning": 2,
    "umbrella_window": 2,
}


def fingerprint(
    stage: str, settings: Any, inputs: Iterable[str | os.PathLike] = (), salt: bytes = b""
) -> str:
    """The digest a checkpoint of ``stage`` belongs to (module docstring): the stage and
    its code version, ``settings`` as canonical JSON (sorted keys; other values by
    ``str``), then the bytes of every file in ``inputs``, in order. ``salt`` is mixed in
    last (e.g. a digest of inputs several fingerprints share, read once)."""
    if stage not in STAGE_VERSIONS:
        raise KeyError(f"no code version for stage {stage!r}: add it to STAGE_VERSIONS")
    header = [stage, STAGE_VERSIONS[stage], settings]
    digest = hashlib.sha256(json.dumps(header, sort_keys=True, default=str).encode())
    for path in inputs:
        digest.update(Path(path).read_bytes())
    digest.update(salt)
    return digest.hexdigest()


def files_digest(paths: Iterable[str | os.PathLike]) -> bytes:
    """One digest of the bytes of several files: the ``salt`` of many fingerprints that
    share these inputs (each window of a batch), read once."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.digest()


@dataclass(frozen=True)
class Checkpoint:
    """A stage's restart file at ``path``, valid for ``fingerprint`` only.

    ``every`` is how often the stage saves (epochs, iterations or steps: the stage's own
    unit; 0 only at the end). The state is any dict torch can save (tensors, NumPy
    arrays, state dicts, plain values)."""

    path: Path
    fingerprint: str
    every: int = 1

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    def save(self, state: Mapping[str, Any]) -> None:
        """Write ``state`` with this fingerprint, atomically."""
        with atomic_path(self.path) as tmp:
            torch.save({"fingerprint": self.fingerprint, "state": dict(state)}, tmp)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None: no file, another fingerprint's, or unreadable."""
        if not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as error:  # a truncated or foreign file: start over, say so
            log.warning("checkpoint %s unreadable (%s): starting over", self.path, error)
            return None
        if not isinstance(saved, dict) or saved.get("fingerprint") != self.fingerprint:
            return None
        return saved["state"]

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
