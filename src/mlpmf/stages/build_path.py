"""Stage ``build_path``: the reaction path of a path CV from its two end structures with
the oracle (:func:`mlpmf.pathbuild.build_path`), carried one image past each end
(:func:`mlpmf.pathbuild.extended`); writes the images the CV reads and a summary of
every candidate band.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from ase.io import write

from mlpmf.config import ConfigError, load_system
from mlpmf.io import atomic_path, write_json
from mlpmf.oracles import make_robust_oracle, method_name
from mlpmf.pathbuild import PathBuildSettings, build_path, extended, frame_is_held
from mlpmf.settings import OracleSettings, SystemSettings
from mlpmf.stages import fail

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildPathSettings:
    """What the stage reads: the end structures (with ``system.fixed_atoms``), the
    oracle, how the band is built and the seed of its bent candidates."""

    reactant: SystemSettings
    product: SystemSettings
    oracle: OracleSettings
    build: PathBuildSettings
    seed: int

    @classmethod
    def from_params(cls, params: Mapping, inputs: Mapping) -> "BuildPathSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`) and its input files."""
        fixed = tuple(params["system"]["fixed_atoms"])
        return cls(
            SystemSettings(inputs["reactant"], fixed),
            SystemSettings(inputs["product"], fixed),
            OracleSettings.from_config(params["oracle"]),
            PathBuildSettings(**params["collective_variable"]["build"]),
            params["seed"],
        )


def reaction_path(settings: BuildPathSettings, outputs: Mapping) -> dict:
    """Build the path; write ``outputs["images"]`` (whole structures, reactant first,
    one image past each end) and ``outputs["summary"]`` (each candidate's barrier and
    energies, which was kept); returns the summary. Ends that do not match end the job,
    saying why."""
    try:
        reactant, product = load_system(settings.reactant), load_system(settings.product)
    except ConfigError as error:
        fail(str(error).replace("system.structure", "collective_variable.reactant/product"))
    oracle = make_robust_oracle(settings.oracle)
    log.info(
        "building the path with %s: %d images, %d candidate bands",
        method_name(settings.oracle), settings.build.images, settings.build.candidates,
    )  # fmt: skip
    try:
        result = build_path(reactant, product, oracle.as_calculator, settings.build, settings.seed)
    except ValueError as error:  # the ends' atoms differ
        fail(str(error))
    if not result.best.converged:
        log.warning(
            "no candidate band met fmax %.3g eV/Å in %d steps: the lowest is kept; raise "
            "collective_variable.build.max_steps for a converged one",
            settings.build.fmax_ev_a, settings.build.max_steps,
        )  # fmt: skip
    with atomic_path(outputs["images"]) as tmp:
        write(tmp, extended(result.best.images, not frame_is_held(reactant)), format="extxyz")
    summary = {
        **result.summary(),
        "images_written": settings.build.images + 2,
        "oracle": method_name(settings.oracle),
        **oracle.summary(),
    }
    write_json(summary, outputs["summary"])
    log.info("kept candidate %d: barrier %.2f kJ/mol", summary["kept"], result.best.barrier_kj_mol)
    return summary
