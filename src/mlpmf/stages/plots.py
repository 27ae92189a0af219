"""Stages ``plot_pmf``, ``plot_pmf_2d``, ``plot_model`` and ``plot_active_learning``: a
study's figures from its result files (what each figure draws: :mod:`mlpmf.plotting`)."""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ase.io import read

from mlpmf.analytic import double_well_exact_pmf
from mlpmf.cvsettings import make_colvar, period_and_unit
from mlpmf.evaluation import ModelPredictions
from mlpmf.io import read_json, read_reference_pmf
from mlpmf.models import load_model
from mlpmf.plotting import (
    plot_active_learning,
    plot_force_parity,
    plot_learning_curve,
    plot_pmf2d,
    plot_pmfs,
    plot_uncertainty_vs_error,
    plot_window_histograms,
)
from mlpmf.settings import ColvarSettings, OracleSettings
from mlpmf.units import kt_kj_mol


@dataclass(frozen=True)
class PlotSettings:
    """What the PMF plots read: the temperature, the CV (and in 2D the second CV), the
    analytic oracle whose exact PMF is drawn (None: none) and whether the reference PMF
    is read at -x."""

    temperature_k: float
    collective_variable: ColvarSettings
    second_cv: ColvarSettings | None = None
    oracle: OracleSettings | None = None
    reference_mirrored: bool = False

    @classmethod
    def from_params(cls, params: Mapping) -> "PlotSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        second, oracle = params.get("second_cv"), params.get("exact_oracle")
        return cls(
            params["temperature_k"],
            ColvarSettings.from_config(params["collective_variable"]),
            None if second is None else ColvarSettings.from_config(second),
            None if oracle is None else OracleSettings.from_config(oracle),
            bool(params.get("reference", {}).get("pmf_mirrored", False)),
        )


def cv_label(spec: ColvarSettings) -> str:
    """An axis label for a CV: its kind, atoms and unit (a path CV: which component)."""
    unit = period_and_unit(spec)[1]
    if spec.kind == "path":
        name = "progress s" if spec.component == "progress" else "distance z"
        return f"path {name}" + (f" ({unit})" if unit else "")
    return f"{spec.kind} of atoms {list(spec.atoms)}" + (f" ({unit})" if unit else "")


def plot_pmf(inputs: Mapping, settings: PlotSettings, outputs: Mapping) -> None:
    """The WHAM and MBAR PMFs with error bands (with the oracle-reweighted PMF, a
    reference PMF and barrier, a reference energy profile, and for the analytic double
    well the exact PMF, where there are), and the windows' histograms."""
    cv_settings = settings.collective_variable
    label = cv_label(cv_settings)
    pmfs = {name: pd.read_csv(inputs[name]) for name in ("wham", "mbar")}
    if "free_energy_oracle_kj_mol" in pmfs["mbar"]:  # umbrella.oracle_every
        columns = ["cv", "free_energy_oracle_kj_mol", "uncertainty_oracle_kj_mol"]
        pmfs["mbar reweighted to the oracle"] = pmfs["mbar"][columns]
    if "reference_pmf" in inputs.keys():
        mirrored = settings.reference_mirrored
        name = "reference PMF at -x" if mirrored else "reference PMF"
        pmfs[name] = read_reference_pmf(inputs["reference_pmf"], mirrored)
    exact = None
    oracle = settings.oracle
    if oracle and oracle.kind == "double_well_bond" and cv_settings.kind == "distance":
        r = pmfs["mbar"]["cv"].to_numpy()
        exact = (r, double_well_exact_pmf(r, settings.temperature_k, oracle.barrier_ev,
                                          oracle.r_mid, oracle.half_width))  # fmt: skip
    reference, profile = None, None
    if "reference" in inputs.keys():
        document = read_json(inputs["reference"])
        reference = document["barrier_kj_mol"]
        if "profile" in document:  # e.g. a relaxed scan: potential energy along the CV
            curve = document["profile"]
            name = f"{document.get('method', 'reference')} (energy)"
            profile = (curve["cv"], curve["energy_kj_mol"], name)
    figure = plot_pmfs(
        pmfs, label, read_json(inputs["rates"]), exact, reference, reference_profile=profile
    )
    figure.savefig(outputs["pmf"], dpi=150)
    windows = pd.read_csv(inputs["windows"])
    samples = [pd.read_csv(path)["cv"].to_numpy() for path in inputs["trajectories"]]
    figure = plot_window_histograms(samples, windows["center"].to_numpy(), label)
    figure.savefig(outputs["histograms"], dpi=150)


def plot_pmf_2d(inputs: Mapping, settings: PlotSettings, output: str) -> None:
    """The 2D PMF as a colour map with contours every 2 kT, the window centres, the
    basin minima the path barrier joins (or the minimum), and the second CV's projection."""
    surface = pd.read_csv(inputs["pmf_2d"])
    x, y = np.unique(surface["cv_1"]), np.unique(surface["cv_2"])
    free = surface["free_energy_kj_mol"].to_numpy().reshape(len(x), len(y))
    summary = read_json(inputs["summary"])
    projection = pd.DataFrame(summary["second_cv_projection"])
    markers = {"minimum": summary["minimum"]}
    if "path" in summary:
        path = summary["path"]
        markers = {"reactant": path["reactant_minimum"], "product": path["product_minimum"]}
    figure = plot_pmf2d(
        (x, y), free, projection, cv_label(settings.second_cv),
        cv_label=cv_label(settings.collective_variable), markers=markers,
        contour_every_kj_mol=2 * kt_kj_mol(settings.temperature_k),
    )  # fmt: skip
    windows = pd.read_csv(inputs["windows"])
    figure.axes[0].plot(windows["center"], windows["center_2"], "+", color="grey", markersize=3)
    figure.savefig(output, dpi=150)


def plot_model(inputs: Mapping, outputs: Mapping) -> None:
    """The trained MLIPs on the held-out test set: force parity, learning curve, and
    per-atom force error against the committee's and the GP's uncertainty."""
    test = read(inputs["test"], index=":")
    metrics = read_json(inputs["metrics"])
    committee = ModelPredictions.of(load_model(inputs["model"]), test)
    gaussian_process = ModelPredictions.of(load_model(inputs["gaussian_process"]), test)
    gp_metrics = read_json(inputs["gaussian_process_metrics"])
    plot_force_parity(
        committee.reference_forces.numpy(), committee.forces.mean(0).numpy(),
        metrics["committee_force_rmse_ev_a"],
    ).savefig(outputs["parity"], dpi=150)  # fmt: skip
    plot_learning_curve(
        metrics["training_loss"], metrics["validation_loss"], metrics["best_epoch"]
    ).savefig(outputs["learning_curve"], dpi=150)
    plot_uncertainty_vs_error(
        {
            "committee: largest pairwise force difference": (
                committee.uncertainty.numpy(),
                committee.atom_force_errors.numpy(),
                metrics["uncertainty_error_spearman"],
            ),
            "GP: predictive std of the atomic energy": (
                gaussian_process.uncertainty.numpy(),
                gaussian_process.atom_force_errors.numpy(),
                gp_metrics["uncertainty_error_spearman"],
            ),
        }  # fmt: skip
    ).savefig(outputs["uncertainty"], dpi=150)


def plot_learning(inputs: Mapping, collective_variable: ColvarSettings, output: str) -> None:
    """Active learning at a glance: disagreement over time, oracle calls per iteration,
    and the training set (``inputs["initial"]``) growing along the CV."""
    initial = read(inputs["initial"], index=":")
    cv = make_colvar(collective_variable, initial[0] if initial else None)
    figure = plot_active_learning(
        pd.read_csv(inputs["disagreement"]),
        pd.read_csv(inputs["iterations"]),
        pd.read_csv(inputs["oracle_calls"]),
        np.array([cv.value(frame.positions) for frame in initial]),
        f"CV ({cv.unit})",
    )
    figure.savefig(output, dpi=150)
