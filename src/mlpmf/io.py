"""Small file helpers: atomic writes and the project's table format."""

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    A job killed half-way leaves only the temporary file, never a truncated output that
    Snakemake would trust. The suffix is kept so writers that infer the format from it
    (ASE, matplotlib, torch) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a CSV table atomically, without the index."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.10g")


def write_json(data: dict, path: str | os.PathLike) -> None:
    """Write a JSON document atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    """Read a JSON document."""
    return json.loads(Path(path).read_text())


def read_reference_pmf(path: str | os.PathLike, mirrored: bool = False):
    """A PMF table (cv, free_energy_kj_mol[, uncertainty_kj_mol]; ``#`` lines, as
    ``mlpmf pmf`` writes, skipped), read at -cv when ``mirrored`` (the mirror-image
    system), in increasing cv order."""
    import pandas as pd

    table = pd.read_csv(path, comment="#")
    columns = ["cv", "free_energy_kj_mol", "uncertainty_kj_mol"]
    table = table[[column for column in columns if column in table]]
    if mirrored:
        table = table.assign(cv=-table["cv"]).iloc[::-1].reset_index(drop=True)
    return table
