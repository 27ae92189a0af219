"""Figures of a study: PMFs with error bands, window histograms, force parity."""

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_pmfs(
    pmfs: Mapping[str, pd.DataFrame],
    cv_label: str,
    rates: Mapping | None = None,
    exact: tuple[np.ndarray, np.ndarray] | None = None,
    reference_barrier_kj_mol: float | None = None,
):
    """PMFs (tables of DESIGN.md) with one-standard-error bands; optional exact curve,
    the barrier found, and a reference barrier (e.g. NEB) as a horizontal line."""
    figure, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    for name, table in pmfs.items():
        cv, free, error = (table[c].to_numpy() for c in table.columns[:3])
        line = ax.plot(cv, free, label=name)[0]
        ax.fill_between(cv, free - error, free + error, color=line.get_color(), alpha=0.3)
    if exact is not None:
        ax.plot(*exact, "k--", lw=1, label="exact")
    if rates is not None:
        ax.annotate(
            f"barrier {rates['barrier_kj_mol']:.1f} ± {rates['barrier_uncertainty_kj_mol']:.1f}"
            f" kJ/mol\nk = {rates['rate_constant_per_s']:.3g} 1/s",
            xy=(0.02, 0.97),
            xycoords="axes fraction",
            va="top",
        )
    if reference_barrier_kj_mol is not None:
        ax.axhline(reference_barrier_kj_mol, color="grey", ls=":", label="reference barrier")
    ax.set_xlabel(cv_label)
    ax.set_ylabel("free energy (kJ/mol)")
    ax.legend(loc="upper right")
    return figure


def plot_window_histograms(samples: Sequence[np.ndarray], centers: Sequence[float], cv_label: str):
    """One histogram per window, to judge the overlap between neighbours."""
    figure, ax = plt.subplots(figsize=(6.4, 3.6), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0, 1, len(samples)))
    for series, center, color in zip(samples, centers, colors, strict=True):
        ax.hist(series, bins=40, histtype="step", density=True, color=color)
        ax.axvline(center, color=color, lw=0.5, alpha=0.5)
    ax.set_xlabel(cv_label)
    ax.set_ylabel("probability density")
    return figure


def plot_force_parity(reference: np.ndarray, predicted: np.ndarray, rmse_ev_a: float):
    """Predicted against reference force components (eV/Å)."""
    figure, ax = plt.subplots(figsize=(4.4, 4.4), constrained_layout=True)
    ax.plot(reference.ravel(), predicted.ravel(), ".", ms=2, alpha=0.4)
    limits = [min(reference.min(), predicted.min()), max(reference.max(), predicted.max())]
    ax.plot(limits, limits, "k-", lw=0.8)
    ax.set_xlabel("oracle force (eV/Å)")
    ax.set_ylabel("committee mean force (eV/Å)")
    ax.set_title(f"test set, RMSE {rmse_ev_a:.3f} eV/Å")
    return figure


def plot_diagnostics(
    ordered_centers: np.ndarray,
    neighbour_overlap: np.ndarray,
    threshold: float,
    halves: Mapping[str, pd.DataFrame],
    centers: Sequence[float],
    disagreement: Sequence[np.ndarray],
    disagreement_warning_ev_a: float,
):
    """Neighbour overlaps, the PMFs of the two halves of the data and, for a committee,
    the force disagreement in each window (median and largest)."""
    committee = any(np.isfinite(d).any() for d in disagreement)
    figure, axes = plt.subplots(
        1, 3 if committee else 2, figsize=(14 if committee else 10, 3.8), constrained_layout=True
    )
    midpoints = 0.5 * (ordered_centers[1:] + ordered_centers[:-1])
    axes[0].bar(midpoints, neighbour_overlap, width=0.8 * np.diff(ordered_centers))
    axes[0].axhline(threshold, color="k", ls="--", lw=0.8)
    axes[0].set_xlabel("between window centres")
    axes[0].set_ylabel("MBAR overlap")
    for name, table in halves.items():
        cv, free, error = (table[c].to_numpy() for c in table.columns[:3])
        line = axes[1].plot(cv, free, label=name)[0]
        axes[1].fill_between(cv, free - error, free + error, color=line.get_color(), alpha=0.3)
    axes[1].set_xlabel("CV")
    axes[1].set_ylabel("free energy (kJ/mol)")
    axes[1].legend()
    if committee:
        axes[2].plot(centers, [np.median(d) for d in disagreement], "o", label="median")
        axes[2].plot(centers, [np.max(d) for d in disagreement], "^", label="largest")
        axes[2].axhline(disagreement_warning_ev_a, color="k", ls="--", lw=0.8)
        axes[2].set_xlabel("window centre")
        axes[2].set_ylabel("committee force disagreement (eV/Å)")
        axes[2].legend()
    return figure


def plot_pmf2d(centers, free_energy_kj_mol, observable_pmf: pd.DataFrame, name: str):
    """2D PMF along (CV, observable) as filled contours, and the observable's own PMF."""
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(10, 4), constrained_layout=True, gridspec_kw={"width_ratios": [3, 2]}
    )
    image = left.pcolormesh(*centers, np.ma.masked_invalid(free_energy_kj_mol).T, shading="nearest")
    figure.colorbar(image, ax=left, label="free energy (kJ/mol)")
    left.set_xlabel("CV")
    left.set_ylabel(name)
    cv, free, error = (observable_pmf[c].to_numpy() for c in observable_pmf.columns[:3])
    right.plot(cv, free)
    right.fill_between(cv, free - error, free + error, alpha=0.3)
    right.set_xlabel(name)
    right.set_ylabel("free energy (kJ/mol)")
    return figure
