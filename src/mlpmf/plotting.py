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
    energy_unit: str = "kJ/mol",
    reference_profile: tuple[np.ndarray, np.ndarray, str] | None = None,
):
    """PMF tables (cv, free energy, uncertainty) with one-standard-error bands; exact curve,
    the barrier found, a reference barrier (e.g. NEB) as a horizontal line and a
    reference energy profile (cv, energy, label; e.g. a relaxed scan). Bins a table
    marks untrusted (column ``trusted``) are shaded red."""
    figure, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    shaded = False
    for name, table in pmfs.items():
        cv, free = (table[c].to_numpy() for c in table.columns[:2])
        error = table[table.columns[2]].to_numpy() if len(table.columns) > 2 else 0.0 * free
        line = ax.plot(cv, free, label=name)[0]
        ax.fill_between(cv, free - error, free + error, color=line.get_color(), alpha=0.3)
        if "total_uncertainty_kj_mol" in table:  # statistical and model error together
            total = table["total_uncertainty_kj_mol"].to_numpy()
            ax.fill_between(cv, free - total, free + total, color=line.get_color(), alpha=0.12,
                            label=f"{name}, with model error")  # fmt: skip
        if "trusted" in table and not shaded and not table["trusted"].all():
            half = 0.5 * float(np.median(np.diff(cv)))
            for x in cv[~table["trusted"].to_numpy(dtype=bool)]:
                label = None if shaded else "untrusted (committee extrapolates)"
                ax.axvspan(x - half, x + half, color="red", alpha=0.15, lw=0, label=label)
                shaded = True
    if exact is not None:
        ax.plot(*exact, "k--", lw=1, label="exact")
    if reference_profile is not None:
        cv, energy, label = reference_profile
        ax.plot(cv, energy, color="grey", ls="--", lw=1, label=label)
    if rates is not None:
        untrusted = "\nUNTRUSTED" if rates.get("trusted") is False else ""
        rate, kind = rates.get("rate_constant_per_s"), ""
        if rate is None:
            rate, kind = rates["eyring_rate_constant_per_s"], " (Eyring)"
        error = rates.get("barrier_total_uncertainty_kj_mol", rates["barrier_uncertainty_kj_mol"])
        over, both = "", ""
        if rates.get("paths"):  # a periodic CV: the dominant path, the rate of both
            over, both = f" over {rates['transition_state_cv']:g}", " (both ways)"
        interval = ""
        if "rate_constant_total_interval_per_s" in rates:  # the error budget's
            low, high = rates["rate_constant_total_interval_per_s"]
            interval = f"\n{100 * rates['confidence']:.0f}%: {low:.2g} to {high:.2g} 1/s"
        ax.annotate(
            f"barrier {rates['barrier_kj_mol']:.1f} ± {error:.1f} kJ/mol{over}"
            f"\nk{kind} = {rate:.3g} 1/s{both}{interval}{untrusted}",
            xy=(0.02, 0.97),
            xycoords="axes fraction",
            va="top",
        )
    if reference_barrier_kj_mol is not None:
        ax.axhline(reference_barrier_kj_mol, color="grey", ls=":", label="reference barrier")
    ax.set_xlabel(cv_label)
    ax.set_ylabel(f"free energy ({energy_unit})")
    # below the axes: inside, "best" ignores the barrier's annotation and hides curves
    figure.legend(loc="outside lower center", ncols=3, fontsize="small", frameon=False)
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
    trust_levels_ev_a: Sequence[float] = (),
):
    """Neighbour overlaps, the PMFs of the two halves of the data and, for a committee,
    the force disagreement in each window (median and largest) against its trust
    levels (lower dashed, upper dotted)."""
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
        for level, style in zip(trust_levels_ev_a, ("--", ":"), strict=False):
            axes[2].axhline(level, color="k", ls=style, lw=0.8)
        axes[2].set_xlabel("window centre")
        axes[2].set_ylabel("committee force disagreement (eV/Å)")
        axes[2].legend()
    return figure


def plot_pmf2d(
    centers,
    free_energy_kj_mol,
    observable_pmf: pd.DataFrame,
    name: str,
    cv_label: str = "CV",
    markers: Mapping[str, Sequence[float]] | None = None,
    contour_every_kj_mol: float | None = None,
):
    """2D PMF along (CV, observable) as a colour map (with contour lines every
    ``contour_every_kj_mol`` and labelled ``markers``), and the observable's own PMF."""
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(10, 4), constrained_layout=True, gridspec_kw={"width_ratios": [3, 2]}
    )
    masked = np.ma.masked_invalid(free_energy_kj_mol).T
    image = left.pcolormesh(*centers, masked, shading="nearest")
    figure.colorbar(image, ax=left, label="free energy (kJ/mol)")
    if contour_every_kj_mol and masked.count() > 3 and np.nanmax(free_energy_kj_mol) > 0:
        top = float(np.nanmax(free_energy_kj_mol))
        levels = np.arange(contour_every_kj_mol, top, contour_every_kj_mol)
        if len(levels):
            left.contour(*centers, masked, levels=levels, colors="white", linewidths=0.5)
    for label, (x, y) in (markers or {}).items():
        left.plot(x, y, "o", color="red", markersize=5)
        left.annotate(label, (x, y), color="red", xytext=(4, 4), textcoords="offset points")
    left.set_xlabel(cv_label)
    left.set_ylabel(name)
    cv, free, error = (observable_pmf[c].to_numpy() for c in observable_pmf.columns[:3])
    right.plot(cv, free)
    right.fill_between(cv, free - error, free + error, alpha=0.3)
    right.set_xlabel(name)
    right.set_ylabel("free energy (kJ/mol)")
    return figure


def plot_learning_curve(
    training_loss: Sequence[float], validation_loss: Sequence[float], best_epoch: int
):
    """Training and validation loss per epoch, with the epoch whose weights were kept."""
    figure, ax = plt.subplots(figsize=(5.2, 3.6), constrained_layout=True)
    epochs = np.arange(1, len(training_loss) + 1)
    ax.semilogy(epochs, training_loss, label="training (bootstrap-weighted, summed over members)")
    ax.semilogy(epochs, validation_loss, label="validation (mean member)")
    ax.axvline(best_epoch + 1, color="grey", ls=":", label="kept")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small")
    return figure


def plot_uncertainty_vs_error(models: Mapping[str, tuple[np.ndarray, np.ndarray, float]]):
    """Per-atom force error (eV/Å) against each model's uncertainty on held-out data;
    ``models`` maps a label to (uncertainty, error, Spearman rank correlation)."""
    figure, axes = plt.subplots(
        1, len(models), figsize=(4.4 * len(models), 4.0), constrained_layout=True, squeeze=False
    )
    for ax, (label, (uncertainty, error, spearman)) in zip(axes[0], models.items(), strict=True):
        ax.loglog(uncertainty, error, ".", ms=2, alpha=0.4)
        ax.set_xlabel(label)
        ax.set_ylabel("|force error| (eV/Å)")
        ax.set_title(f"Spearman ρ = {spearman:.2f}")
    return figure


def plot_active_learning(
    trace: pd.DataFrame,
    iterations: pd.DataFrame,
    oracle_calls: pd.DataFrame,
    initial_cv: np.ndarray,
    cv_label: str,
):
    """Disagreement over time with each iteration's trigger (dashed) and upper trust
    level (dotted), oracle calls per iteration, and the dataset along the CV (tables
    written by the active_learning rule)."""
    figure, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    ax = axes[0]
    levels = iterations.set_index("iteration")
    for iteration, group in trace.groupby("iteration"):
        ax.semilogy(group["step"], group["disagreement_ev_a"], ".", ms=2, label=f"{iteration}")
        span = (group["step"].min(), group["step"].max())
        ax.hlines(levels.loc[iteration, "trigger_ev_a"], *span, color="k", ls="--", lw=1)
        ax.hlines(levels.loc[iteration, "upper_ev_a"], *span, color="k", ls=":", lw=1)
    ax.set_xlabel("MD step")
    ax.set_ylabel("largest pairwise force disagreement (eV/Å)")
    ax.legend(title="iteration", fontsize="x-small", ncol=2)
    ax = axes[1]
    counts = oracle_calls.groupby(["iteration", "status"]).size().unstack(fill_value=0)
    counts = counts.reindex(iterations["iteration"], fill_value=0)
    bottom = np.zeros(len(counts))
    for status in counts.columns:
        ax.bar(counts.index, counts[status], bottom=bottom, label=status)
        bottom += counts[status].to_numpy()
    ax.set_xlabel("iteration")
    ax.set_ylabel("oracle calls")
    ax.legend()
    ax = axes[2]
    labelled = oracle_calls[oracle_calls["status"] == "labelled"]
    groups = [initial_cv] + [g["cv"].to_numpy() for _, g in labelled.groupby("iteration")]
    names = ["initial"] + [f"iteration {i}" for i in labelled["iteration"].unique()]
    ax.hist(groups, bins=40, stacked=True, label=names)
    ax.set_xlabel(cv_label)
    ax.set_ylabel("training frames")
    ax.legend(fontsize="x-small")
    return figure


def plot_transmission(result: Mapping):
    """kappa(t) of a reactive-flux run with its one-standard-error band, the plateau's
    range and value, and the rates it multiplies."""
    time = np.asarray(result["time_fs"])
    kappa = np.asarray(result["kappa_t"])
    error = np.asarray(result["kappa_t_uncertainty"])
    figure, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    line = ax.plot(time, kappa, label="kappa(t)")[0]
    ax.fill_between(time, kappa - error, kappa + error, color=line.get_color(), alpha=0.3)
    plateau = time >= result["plateau_from_fs"]
    ax.plot(time[plateau], np.full(plateau.sum(), result["kappa"]), "k-", lw=2,
            label=f"plateau {result['kappa']:.3f} ± {result['kappa_uncertainty']:.3f}")  # fmt: skip
    ax.axhline(1.0, color="grey", ls=":", lw=1, label="TST (no recrossing)")
    ax.set_xlabel("time after leaving the dividing surface (fs)")
    ax.set_ylabel("transmission coefficient kappa(t)")
    ax.set_ylim(0.0, 1.1)
    ax.set_title(
        f"{result['shots']} shots from {result['configurations']} configurations, "
        f"friction {result['friction_per_fs']:g}/fs",
        fontsize=10,
    )
    ax.legend(loc="upper right")
    return figure
