"""What the benchmarks share: the 22-atom test molecule and an MLIP committee for it."""

from pathlib import Path

import torch
from ase.io import read

from mlpmf.descriptors import Descriptor
from mlpmf.models import Committee

HERE = Path(__file__).resolve().parent
STRUCTURE = HERE.parent / "resources/alanine_dipeptide/L.xyz"
DESCRIPTOR = {"num_radial": 12, "cutoff_a": 5.0, "num_angular": 3, "num_chiral": 2}
COMMITTEE = (
    "4 members, two hidden layers of 32; descriptor: 12 radial and 3 angular Gaussians "
    "per element, 2 chiral Gaussians, 5 Å cutoff"
)


def alanine_dipeptide():
    return read(STRUCTURE)


def committee_for(atoms, device) -> Committee:
    """A committee with weights from a fixed seed: speed does not depend on training."""
    torch.manual_seed(0)
    species = tuple(sorted(set(int(z) for z in atoms.numbers)))
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
