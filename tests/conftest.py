import os

import numpy as np
import pytest
from ase.build import add_adsorbate, fcc100
from ase.constraints import FixAtoms

if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n: the workers share the cores
    import torch

    torch.set_num_threads(1)  # two torch processes of 2 threads on 2 cores run 5-10x slower


def finite_difference_forces(atoms, energy, step=1e-5):
    """-dE/dx by central differences; ``energy(atoms)`` returns eV."""
    forces = np.zeros((len(atoms), 3))
    base = atoms.positions.copy()
    for a in range(len(atoms)):
        for d in range(3):
            shifted = base.copy()
            shifted[a, d] += step
            atoms.positions = shifted
            plus = energy(atoms)
            shifted[a, d] -= 2 * step
            atoms.positions = shifted
            minus = energy(atoms)
            forces[a, d] = -(plus - minus) / (2 * step)
    atoms.positions = base
    return forces


@pytest.fixture
def adatom_slab():
    """A small Au/Al(100) slab, bottom layer fixed, slightly disordered."""
    slab = fcc100("Al", size=(2, 2, 3), vacuum=6.0)
    add_adsorbate(slab, "Au", 1.8, "hollow")
    slab.set_constraint(FixAtoms(mask=slab.get_tags() == 3))
    slab.positions += np.random.default_rng(0).normal(scale=0.05, size=slab.positions.shape)
    return slab
