"""Umbrella-sampling time series from other engines, and mlpmf's own.

Formats, recognised from the file itself:

- **PLUMED COLVAR**: ``#! FIELDS time d1 ...`` header (repeated after a restart),
  ``#! SET`` lines, whitespace columns; a column is chosen by its field name.
- **GROMACS .xvg** (``pullx.xvg``, ``gmx angle -ov``, ...): ``#`` comments, ``@``
  directives, whitespace columns with the time first; ``@ sN legend "..."`` names the
  data columns, so a column is chosen by legend or by position.
- **CSV with a header** (mlpmf's ``umbrella/window_NNN.csv``: ``time_fs,cv,...``).
- **Plain whitespace columns** (Grossfield WHAM time series: ``time position``),
  ``#`` comments.

A column is named (``"phi"``, ``"cv"``, an xvg legend) or numbered from 1 as awk and
gnuplot do (column 1 is the time, column 2 the first data column: the default).

**Grossfield WHAM metadata** files list one window per line, ``path center k
[correlation_time [temperature]]``, ``#`` comments; the bias is ``k/2 (x - center)^2``
as in Grossfield's ``wham``, PLUMED's ``RESTRAINT`` and GROMACS's umbrella pull.
Relative paths are taken from the metadata file's folder (then the working folder).
Units are the caller's business: nothing here converts.
"""

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


class FormatError(ValueError):
    """A file that cannot be read as the format it claims or looks like."""


@dataclass(frozen=True)
class TimeSeries:
    """One column of a time-series file, with the file's time column."""

    path: Path
    column: str
    time: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class WindowSpec:
    """One line of a WHAM metadata file."""

    path: Path
    center: float
    spring_constant: float
    correlation_time: float | None = None
    temperature_k: float | None = None


_LEGEND = re.compile(r'^@\s*s(\d+)\s+legend\s+"(.*)"')


def _numeric_rows(lines: Sequence[str], path: Path, skip=("#", "@")) -> np.ndarray:
    rows = [line for line in lines if line.strip() and not line.lstrip().startswith(skip)]
    if not rows:
        raise FormatError(f"{path}: no data rows")
    try:
        return np.loadtxt(rows, ndmin=2)
    except ValueError:
        pass
    width = len(rows[0].split())
    if len(rows[-1].split()) != width:  # a last row cut short by a killed run is dropped
        rows = rows[:-1]
    try:
        return np.loadtxt(rows, ndmin=2)
    except ValueError as error:
        raise FormatError(
            f"{path}: data rows must be numbers, {width} per row like the first ({error})"
        ) from None


def _pick(names: list[str], column: str | int | None, path: Path) -> int:
    """Index of ``column`` among ``names`` (names[0] is the time)."""
    if column is None:
        if len(names) < 2:
            raise FormatError(f"{path}: one column only; expected time and at least one value")
        return 1
    if isinstance(column, int) or str(column).isdigit():
        index = int(column) - 1
        if not 1 <= index < len(names):
            raise FormatError(
                f"{path}: column {column} does not exist (columns 2-{len(names)} hold data: "
                f"{', '.join(names[1:])})"
            )
        return index
    if column not in names:
        raise FormatError(
            f"{path}: no column named {column!r}; it has {', '.join(map(repr, names))}"
        )
    return names.index(column)


def _read_plumed(lines, path):
    fields, rows = None, []
    for line in lines:
        if line.startswith("#! FIELDS"):
            header = line.split()[2:]
            if fields is not None and header != fields:
                raise FormatError(f"{path}: FIELDS change from {fields} to {header} mid-file")
            fields = header
        elif line.strip() and not line.startswith("#"):
            rows.append(line)
    data = _numeric_rows(rows, path)
    if data.shape[1] != len(fields):
        raise FormatError(f"{path}: {data.shape[1]} columns but FIELDS names {len(fields)}")
    return fields, data


def _read_xvg(lines, path):
    legends = {int(m[1]): m[2] for m in map(_LEGEND.match, lines) if m}
    data = _numeric_rows(lines, path)
    names = ["time"] + [legends.get(i, f"column {i + 2}") for i in range(data.shape[1] - 1)]
    return names, data


def _read_csv(path):
    try:
        table = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as error:
        raise FormatError(f"{path}: not a CSV table ({error})") from None
    numeric = table.apply(pd.to_numeric, errors="coerce")  # empty fields (NaN) are fine
    bad = [name for name in table if numeric[name].isna().sum() > table[name].isna().sum()]
    if bad:
        raise FormatError(f"{path}: column(s) {bad} hold values that are not numbers")
    return [str(name).strip() for name in table.columns], numeric.to_numpy(dtype=float)


def read_timeseries(path: str | os.PathLike, column: str | int | None = None) -> TimeSeries:
    """One column of a PLUMED COLVAR, xvg, CSV or whitespace time-series file.

    ``column`` is a name (COLVAR field, xvg legend, CSV header) or a 1-based column
    number (1 is the time); by default the first column after the time (``"cv"`` for
    mlpmf's window CSVs).
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise FormatError(f"{path}: cannot read ({error.strerror})") from None
    if not lines:
        raise FormatError(f"{path}: empty file")
    if any(line.startswith("#! FIELDS") for line in lines[:50]):
        names, data = _read_plumed(lines, path)
    elif path.suffix == ".xvg" or any(line.startswith("@") for line in lines[:200]):
        names, data = _read_xvg(lines, path)
    elif "," in lines[0] and re.search(r"[A-Za-z_]", lines[0]):
        names, data = _read_csv(path)
        if column is None and "cv" in names:
            column = "cv"
    else:
        data = _numeric_rows(lines, path)
        names = ["time"] + [f"column {i + 2}" for i in range(data.shape[1] - 1)]
    index = _pick(names, column, path)
    return TimeSeries(path, names[index], data[:, 0].copy(), data[:, index].copy())


def read_window_series(paths, column: str = "cv") -> list[np.ndarray]:
    """One column (default: the CV) of every window's time-series file, as arrays."""
    return [read_timeseries(path, column).values for path in paths]


def read_window_columns(paths, columns: Sequence[str]) -> list[pd.DataFrame]:
    """The named columns of every window's table (mlpmf's window CSVs), each file read
    once: for checks that need several columns of every window. A file that cannot be
    read or lacks a column is a :class:`FormatError` naming it."""
    tables = []
    for path in paths:
        try:
            tables.append(pd.read_csv(path, usecols=list(columns)))
        except OSError as error:
            raise FormatError(f"{path}: cannot read ({error.strerror})") from None
        except ValueError:  # pandas: empty file, or usecols not in the header
            header = list(pd.read_csv(path, nrows=0).columns) if Path(path).stat().st_size else []
            missing = [c for c in columns if c not in header]
            raise FormatError(
                f"{path}: expected columns {missing} of an mlpmf window table, found {header}"
            ) from None
    return tables


def read_labelled_rows(paths, column: str, kept: Sequence[np.ndarray]):
    """The rows of every window's table where ``column`` is set (e.g. the frames the
    oracle labelled), from the window's first ``kept`` sample on (after its detected
    equilibration): per window the row indices and the column's values there."""
    rows, values = [], []
    for path, k in zip(paths, kept, strict=True):
        value = read_window_columns([path], [column])[0][column].to_numpy()
        labelled = np.flatnonzero(np.isfinite(value))
        labelled = labelled[labelled >= k.min()]
        rows.append(labelled)
        values.append(value[labelled])
    return rows, values


def read_wham_metadata(path: str | os.PathLike) -> list[WindowSpec]:
    """The windows of a Grossfield WHAM metadata file (``path center k [tau [T]]``)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise FormatError(f"{path}: cannot read ({error.strerror})") from None
    windows = []
    for number, line in enumerate(lines, start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 3:
            raise FormatError(
                f"{path}:{number}: expected 'path center spring_constant "
                f"[correlation_time [temperature]]', got {line.strip()!r}"
            )
        try:
            numbers = [float(v) for v in fields[1:5]]
        except ValueError:
            raise FormatError(
                f"{path}:{number}: center, spring constant, correlation time and temperature "
                f"must be numbers, got {' '.join(fields[1:])!r}"
            ) from None
        series = Path(fields[0])
        if not series.is_absolute():
            beside = path.parent / series
            series = beside if beside.exists() or not series.exists() else series
        windows.append(
            WindowSpec(
                series,
                numbers[0],
                numbers[1],
                numbers[2] if len(numbers) > 2 else None,
                numbers[3] if len(numbers) > 3 else None,
            )
        )
    if not windows:
        raise FormatError(f"{path}: no windows listed")
    return windows
