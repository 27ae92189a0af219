"""Stage ``reweight_observable``: the PMF along an unbiased observable the windows
recorded, and the 2D PMF of the CV and the observable, by MBAR reweighting of the
windows' samples (:func:`mlpmf.reweighting.reweight`)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlpmf import reweighting, timeseries
from mlpmf.io import write_table
from mlpmf.plotting import plot_pmf2d
from mlpmf.readers import read_window_columns
from mlpmf.samples import UmbrellaSamples
from mlpmf.settings import FreeEnergySettings


@dataclass(frozen=True)
class ObservableSettings:
    """What reweighting reads: the observable's name and bins, the ``free_energy``
    section, the CV's bins and period, the temperature and the bootstrap's seed."""

    name: str
    bins: Mapping  # start, stop, num: the observable's bins
    free_energy: FreeEnergySettings
    bin_edges: tuple[float, ...]  # the CV's
    period: float | None
    temperature_k: float
    seed: int

    @classmethod
    def from_params(cls, params: Mapping, name: str) -> "ObservableSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`) and the observable's name."""
        return cls(
            name, params["observable"]["bins"],
            FreeEnergySettings.from_config(params["free_energy"]), tuple(params["bin_edges"]),
            params["period"], params["temperature_k"], params["seed"],
        )  # fmt: skip


def reweight_observable(
    windows_table: str, trajectories: Sequence[str], settings: ObservableSettings, outputs: Mapping
) -> pd.DataFrame:
    """Write ``outputs["pmf"]`` (along the observable), ``outputs["pmf2d"]`` (CV and
    observable) and ``outputs["plot"]``; returns the 1D table."""
    windows = pd.read_csv(windows_table)
    column = f"observable_{settings.name}"
    tables = read_window_columns(trajectories, ["cv", column])  # each file once
    free_energy = settings.free_energy
    kept = timeseries.kept_indices(
        [table["cv"].to_numpy() for table in tables], free_energy.decorrelate,
        free_energy.detect_equilibration, windows["center"].to_numpy(), settings.period,
    )  # fmt: skip
    cv = [t["cv"].to_numpy()[k] for t, k in zip(tables, kept, strict=True)]
    observable = [t[column].to_numpy()[k] for t, k in zip(tables, kept, strict=True)]
    bins = settings.bins
    observable_edges = np.linspace(bins["start"], bins["stop"], bins["num"] + 1)
    samples = UmbrellaSamples(
        cv, windows["center"].to_numpy(), windows["spring_constant"].to_numpy(),
        settings.temperature_k, settings.period,
    )  # fmt: skip
    arguments = dict(bootstrap_samples=free_energy.bootstrap_samples, seed=settings.seed)
    one_d = reweighting.reweight(samples, observable, [observable_edges], **arguments)
    pairs = [np.column_stack([c, o]) for c, o in zip(cv, observable, strict=True)]
    edges = [np.asarray(settings.bin_edges), observable_edges]
    two_d = reweighting.reweight(samples, pairs, edges, **arguments)
    table = pd.DataFrame(
        {
            "observable": one_d.centers[0],
            "free_energy_kj_mol": one_d.free_energy,
            "uncertainty_kj_mol": one_d.uncertainty,
        }
    )
    write_table(table, outputs["pmf"])
    grid_cv, grid_observable = np.meshgrid(*two_d.centers, indexing="ij")
    surface = pd.DataFrame(
        {
            "cv": grid_cv.ravel(),
            "observable": grid_observable.ravel(),
            "free_energy_kj_mol": two_d.free_energy.ravel(),
            "uncertainty_kj_mol": two_d.uncertainty.ravel(),
        }
    )
    write_table(surface, outputs["pmf2d"])
    figure = plot_pmf2d(two_d.centers, two_d.free_energy, table, settings.name)
    figure.savefig(outputs["plot"], dpi=150)
    return table
