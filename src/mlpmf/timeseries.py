r"""Statistical inefficiency, equilibration detection and decorrelation of MD time series.

The estimators of :mod:`mlpmf.estimators` assume independent samples; successive MD
frames are not. The statistical inefficiency :math:`g = 1 + 2\sum_t (1 - t/N) C(t)` of
a series counts how many frames make one independent sample (Chodera et al., J. Chem.
Theory Comput. 3, 26 (2007)), as pymbar's ``timeseries`` module computes it. The start
that maximises the number of independent samples of the rest is taken as the end of
equilibration (Chodera, J. Chem. Theory Comput. 12, 1799 (2016)); keeping every g-th
frame after it gives the independent subsample an estimate should use.
"""

from collections.abc import Sequence

import numpy as np


def statistical_inefficiency(series: np.ndarray) -> float:
    """g = 1 + 2 sum_t (1 - t/N) C(t), summed until the autocorrelation C first drops to 0.

    The same estimator as pymbar.timeseries.statistical_inefficiency (Chodera et al.,
    J. Chem. Theory Comput. 3, 26 (2007)), with C(t) at every lag from one FFT.
    """
    x = np.asarray(series, dtype=float)
    n = len(x)
    x = x - x.mean()
    if n < 2 or not np.any(x):
        return 1.0
    spectrum = np.fft.rfft(x, 2 * n)
    autocovariance = np.fft.irfft(spectrum * np.conj(spectrum))[:n] / (n - np.arange(n))
    correlation = autocovariance / autocovariance[0]
    negative = np.flatnonzero(correlation[1:] <= 0.0)
    cut = negative[0] + 1 if len(negative) else n
    lags = np.arange(1, cut)
    return max(1.0, 1.0 + 2.0 * float(np.sum(correlation[1:cut] * (1.0 - lags / n))))


def decorrelated_indices(series: np.ndarray, detect_equilibration: bool = True) -> np.ndarray:
    """Indices of a statistically independent subsample of an MD time series.

    With ``detect_equilibration`` the start that maximises the number of independent
    samples of the rest, (N - t0) / g(t0), is found among starts every 1% of the series
    and dropped (Chodera, J. Chem. Theory Comput. 12, 1799 (2016)); then every g-th
    sample of what remains is kept.
    """
    series = np.asarray(series, dtype=float)
    if len(series) < 10 or np.ptp(series) == 0.0:
        return np.arange(len(series))
    start = 0
    if detect_equilibration:
        starts = np.arange(0, len(series) - 5, max(1, len(series) // 100))
        effective = [(len(series) - t) / statistical_inefficiency(series[t:]) for t in starts]
        start = int(starts[int(np.argmax(effective))])
    g = statistical_inefficiency(series[start:])
    return start + np.unique(np.round(np.arange(0.0, len(series) - start - 0.5, g)).astype(int))


def kept_indices(
    windows: Sequence[np.ndarray],
    decorrelate: bool = True,
    detect_equilibration: bool = True,
    centers: Sequence[float] | None = None,
    period: float | None = None,
) -> list[np.ndarray]:
    """Per window, the indices of the samples an estimate should use: all of them, or
    (``decorrelate``) the independent subsample of :func:`decorrelated_indices`.

    For a periodic CV give the window ``centers`` and the ``period``: each series is
    then analysed as its deviation from the centre, so a window at the period's edge
    (a dihedral at 180 deg) whose samples jump between +179 and -179 is not taken for a
    fast-varying series (its statistical inefficiency would be several times too small,
    its error bars too narrow, and MBAR would over-weight it).
    """
    if not decorrelate:
        return [np.arange(len(series)) for series in windows]
    if period is not None:
        if centers is None:
            raise ValueError("kept_indices: a periodic CV needs the window centers")
        windows = [
            (np.asarray(s, dtype=float) - c + 0.5 * period) % period - 0.5 * period
            for s, c in zip(windows, centers, strict=True)
        ]
    return [decorrelated_indices(series, detect_equilibration) for series in windows]


def kept_pair_indices(
    first: Sequence[np.ndarray],
    second: Sequence[np.ndarray],
    decorrelate: bool = True,
    detect_equilibration: bool = True,
    centers: Sequence[Sequence[float]] | None = None,
    periods: tuple[float | None, float | None] = (None, None),
) -> list[np.ndarray]:
    """Windows on two CVs (``centers``: (K, 2)): per window the indices of
    :func:`kept_indices`, the sparser subsample of the two CVs' (the longer equilibration
    and correlation time)."""
    centers = np.zeros((len(first), 2)) if centers is None else np.asarray(centers, float)
    kept = [
        kept_indices(series, decorrelate, detect_equilibration, centers[:, d], periods[d])
        for d, series in enumerate((first, second))
    ]
    return [a if len(a) <= len(b) else b for a, b in zip(*kept, strict=True)]


def kept_pairs(
    first: Sequence[np.ndarray],
    second: Sequence[np.ndarray],
    decorrelate: bool = True,
    detect_equilibration: bool = True,
    centers: Sequence[Sequence[float]] | None = None,
    periods: tuple[float | None, float | None] = (None, None),
) -> list[np.ndarray]:
    """Per window the (N, 2) samples of :func:`kept_pair_indices`."""
    sparser = kept_pair_indices(first, second, decorrelate, detect_equilibration, centers, periods)
    return [np.column_stack([x[k], y[k]]) for x, y, k in zip(first, second, sparser, strict=True)]


def decorrelate(series: np.ndarray, detect_equilibration: bool = True) -> np.ndarray:
    """The statistically independent subsample of :func:`decorrelated_indices`."""
    series = np.asarray(series, dtype=float)
    return series[decorrelated_indices(series, detect_equilibration)]
