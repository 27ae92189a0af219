"""Stage ``transmission``: the transmission coefficient by reactive flux at the barrier
top of the MBAR PMF (:func:`mlpmf.transmission.transmission_coefficient`).

The dividing surface is the PMF's highest point between the reactant and product minima
(on a periodic CV, on the lower of the two ways round: as in rates.json); the
configurations start from the training frame nearest to it (or the structure) and are
held there by a stiff restraint (``transmission.restraint_kj_mol``, by default ten times
the stiffest window's spring) before the shots, which run at the shots' friction (the
windows' unless ``transmission.friction_per_fs`` says otherwise).
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ase.io import read

from mlpmf.calculator import study_force_field
from mlpmf.colvars import periodic_difference
from mlpmf.config import load_system
from mlpmf.cvsettings import make_colvar, make_wall
from mlpmf.dynamics import LangevinSettings, UmbrellaBias, walled
from mlpmf.io import write_json
from mlpmf.placement import move_to_value, nearest_positions
from mlpmf.plotting import plot_transmission
from mlpmf.settings import (
    BasinSettings,
    ColvarSettings,
    OracleSettings,
    SystemSettings,
    TransmissionSettings,
    WindowSettings,
)
from mlpmf.transmission import DividingSurface, transmission_coefficient
from mlpmf.tst import dividing_surface

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FluxSettings:
    """What the reactive-flux stage reads: its own settings, the windows' MD, the
    system, CV, ``rates`` basins and temperature, what drives the MD, the windows'
    spring constants (the default restraint) and the seed."""

    transmission: TransmissionSettings
    umbrella: WindowSettings
    system: SystemSettings
    collective_variable: ColvarSettings
    basins: BasinSettings
    temperature_k: float
    potential: str
    oracle: OracleSettings
    external_potential: list | None
    spring_constants_kj_mol: tuple[float, ...]
    seed: int

    @classmethod
    def from_params(cls, params: Mapping) -> "FluxSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        given = dict(params.items())
        return cls(
            TransmissionSettings.from_config(given["transmission"]),
            WindowSettings.from_config(given["umbrella"]),
            SystemSettings.from_config(given["system"]),
            ColvarSettings.from_config(given["collective_variable"]),
            BasinSettings.from_config(given["rates"]), given["temperature_k"],
            given["potential"], OracleSettings.from_config(given["oracle"]),
            given.get("external_potential"),
            tuple(given["spring_constants_kj_mol"]), given["seed"],
        )  # fmt: skip

    @property
    def shot_friction_per_fs(self) -> float:
        """The friction of the shots: kappa's own, and the rate's it multiplies."""
        own = self.transmission.friction_per_fs
        return self.umbrella.friction_per_fs if own is None else own

    @property
    def restraint_kj_mol(self) -> float:
        """The restraint holding configurations on the surface before the shots."""
        return self.transmission.restraint_kj_mol or 10.0 * max(self.spring_constants_kj_mol)


def transmission(inputs: Mapping, settings: FluxSettings, device: str, outputs: Mapping) -> dict:
    """kappa(t) from shots off the MBAR PMF's (``inputs["pmf"]``) barrier top, started
    from ``inputs["frames"]`` where given, on the model of ``inputs["model"]`` (when one
    drives the windows): writes ``outputs["result"]`` (JSON) and ``outputs["plot"]``
    and returns the result."""
    shots = settings.transmission.shots
    replicas = [load_system(settings.system) for _ in range(shots)]
    cv = make_colvar(settings.collective_variable, replicas[0])
    pmf = pd.read_csv(inputs["pmf"])
    cv_values = pmf["cv"].to_numpy()
    top, end = dividing_surface(
        cv_values, pmf["free_energy_kj_mol"].to_numpy(), settings.basins.reactant,
        settings.basins.product, cv.period,
    )  # fmt: skip
    surface = float(cv_values[top])
    product_side = float(periodic_difference(cv_values[end], surface, cv.period))
    start = replicas[0].positions
    if "frames" in inputs.keys():
        frames = read(inputs["frames"], index=":")
        surface_bias = UmbrellaBias(cv, surface, 1.0)
        start = nearest_positions([surface_bias], start, replicas[0].numbers, frames)[0]
    start = move_to_value(cv, start, surface, numbers=replicas[0].numbers)
    for atoms in replicas:
        atoms.positions = start
    umbrella = settings.umbrella
    force_field, _ = study_force_field(
        settings.potential, replicas, inputs.get("model"), settings.oracle,
        settings.external_potential, umbrella.precision, device,
    )  # fmt: skip
    force_field = walled(force_field, make_wall(settings.collective_variable, replicas[0]))
    friction, restraint = settings.shot_friction_per_fs, settings.restraint_kj_mol
    log.info(
        "dividing surface at %g %s (the PMF's barrier top); %d configurations, friction %g/fs, "
        "restraint %g kJ/mol per %s^2",
        surface, cv.unit, shots, friction, restraint, cv.unit,
    )  # fmt: skip
    result = transmission_coefficient(
        replicas, DividingSurface(cv, surface, product_side, restraint),
        LangevinSettings(settings.temperature_k, umbrella.timestep_fs, umbrella.friction_per_fs),
        LangevinSettings(settings.temperature_k, umbrella.timestep_fs, friction),
        settings.transmission, np.random.default_rng(settings.seed), force_field,
    )  # fmt: skip
    result["restraint_kj_mol"] = float(restraint)
    result["friction_per_fs"] = float(friction)  # of the shots: kappa's own
    result["cv_unit"] = cv.unit
    write_json(result, outputs["result"])
    plot_transmission(result).savefig(outputs["plot"], dpi=150)
    return result
