"""What the benchmarks share: the 22-atom test molecule and MLIP committees for it."""

from pathlib import Path

import torch
from ase.io import read
from baseline_descriptor import Descriptor as BaselineDescriptor

from mlpmf.descriptors import Descriptor
from mlpmf.models import Committee

HERE = Path(__file__).resolve().parent
STRUCTURE = HERE.parent / "resources/alanine_dipeptide/L.xyz"
DESCRIPTOR = {"num_chiral": 2}  # the defaults (ANI-1x angular terms) and a chiral channel
COMMITTEE = (
    "4 members, two hidden layers of 32; descriptor: 16 radial Gaussians per element "
    "(5.2 Å), ANI-1x angular terms (3.5 Å, 4 shifts x 8 sections per element pair), "
    "2 chiral Gaussians"
)
BASELINE = {"num_radial": 8, "cutoff_a": 5.0, "num_angular": 2, "num_chiral": 2}
BASELINE_COMMITTEE = (
    "the committee before ANI angular terms (baseline_descriptor.py, as the alanine "
    "study used it): 8 radial and 2 angular Gaussians per element (Legendre moments "
    "l = 1, 2), 2 chiral Gaussians, 5 Å"
)


def alanine_dipeptide():
    return read(STRUCTURE)


def committee_for(atoms, device, baseline: bool = False) -> Committee:
    """A committee with weights from a fixed seed: speed does not depend on training.
    ``baseline`` builds it on the previous descriptor instead of today's."""
    torch.manual_seed(0)
    species = tuple(sorted(set(int(z) for z in atoms.numbers)))
    if baseline:
        descriptor = BaselineDescriptor(species, **BASELINE)
    else:
        descriptor = Descriptor(species, **DESCRIPTOR)
    features = descriptor.num_features
    model = Committee(
        descriptor,
        4,
        [32, 32],
        torch.zeros(len(species), features),
        torch.ones(len(species), features),
        torch.zeros(len(species)),
        0.05,
    )
    return model.to(device)


def append_rows(path, rows: list[str]) -> None:
    """Print a benchmark's table rows and append them to its results file."""
    print("\n".join(rows))
    with open(path, "a") as out:
        out.write("\n".join(rows) + "\n")


def recording_hooks(recorded) -> dict:
    """The keyword arguments of ``mlpmf.dynamics.integrate`` that ask for the committee's
    disagreement at the ``recorded`` steps only, in this code (``hooks``) and in commits
    before ``StepHooks`` (``disagreement_at``): the benchmarks also run earlier commits."""
    try:
        from mlpmf.dynamics import StepHooks
    except ImportError:
        return {"disagreement_at": recorded}
    return {"hooks": StepHooks(disagreement_at=recorded)}
