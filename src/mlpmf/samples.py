"""Umbrella windows and their samples as one value: what every estimator, reweighting
and correction of the library takes first.

Named with pymbar's index letters (``u_kn``, ``N_k``): ``x_kn[k]`` holds window k's n
samples, ``centers_k`` and ``kappas_k`` are per window. In 2D umbrella sampling a
sample is a row (x, y), a centre and a spring constant are pairs and ``period`` is a
pair of periods.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UmbrellaSamples:
    """Window k's samples ``x_kn[k]`` (CV unit), its centre ``centers_k[k]`` and spring
    constant ``kappas_k[k]`` (kJ/mol per CV unit squared; the bias is
    kappa/2 (x - c)^2), at ``temperature`` K, on a CV of ``period`` (None: not
    periodic; in 2D a pair of periods)."""

    x_kn: Sequence[np.ndarray]
    centers_k: Sequence
    kappas_k: Sequence
    temperature: float
    period: float | None | tuple = None

    @property
    def periods(self) -> tuple:
        """The periods of a 2D study's two CVs ((None, None) when not given)."""
        return (None, None) if self.period is None else tuple(self.period)

    def subset(self, windows: Sequence[int]) -> "UmbrellaSamples":
        """The windows ``windows`` (indices) only: e.g. one set of ``umbrella.repeats``."""
        windows = np.asarray(windows, dtype=int)
        return UmbrellaSamples(
            [self.x_kn[k] for k in windows], np.asarray(self.centers_k)[windows],
            np.asarray(self.kappas_k)[windows], self.temperature, self.period,
        )  # fmt: skip

    def with_samples(self, x_kn: Sequence[np.ndarray]) -> "UmbrellaSamples":
        """The same windows with other samples (a half of each window's, the frames the
        oracle labelled)."""
        return UmbrellaSamples(x_kn, self.centers_k, self.kappas_k, self.temperature, self.period)
