"""Building a path from two end structures: a band that an interpolation leaves in a
mirror plane finds only the plane's saddle; perturbed candidates find the lower channel
off it, and the lowest is kept."""

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.constraints import FixCartesian

from mlpmf.pathbuild import PathBuildSettings, build_path, path_images
from mlpmf.pathcv import PathCV
from mlpmf.units import ev_to_kj_mol

REPO = Path(__file__).resolve().parents[1]
A, B, C, SIGMA = 2.0, 1.0, 0.5, 0.3  # bump, double well and channel, eV and Å


def energy(x, y):
    """A double well in x with a bump on the straight line between the minima: the
    path round the bump (y != 0) is far lower than the one over it (y = 0)."""
    return B * (x**2 - 1) ** 2 + C * y**2 + A * np.exp(-(x**2 + y**2) / (2 * SIGMA**2))


class Channels(Calculator):
    implemented_properties = ("energy", "forces")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        x, y, _ = self.atoms.positions[0]
        bump = A * np.exp(-(x**2 + y**2) / (2 * SIGMA**2))
        gx = 4 * B * x * (x**2 - 1) - bump * x / SIGMA**2
        gy = 2 * C * y - bump * y / SIGMA**2
        self.results = {"energy": float(energy(x, y)), "forces": np.array([[-gx, -gy, 0.0]])}


def particle(x):
    atoms = Atoms("H", positions=[[x, 0.0, 0.0]])
    atoms.set_constraint(FixCartesian(0, mask=[False, False, True]))
    return atoms


def test_the_lowest_candidate_goes_round_the_bump_that_the_interpolation_climbs():
    settings = PathBuildSettings(images=9, candidates=3, perturbation_a=0.3, fmax_ev_a=0.01)
    result = build_path(particle(-1.0), particle(1.0), Channels, settings, seed=7)
    grid = np.linspace(-1.5, 1.5, 30001)
    minimum = min(energy(x, 0.0) for x in np.linspace(0.9, 1.1, 2001))
    channel = ev_to_kj_mol(energy(0.0, grid).min() - minimum)
    over = ev_to_kj_mol(energy(0.0, 0.0) - minimum)
    plain = result.candidates[0]
    assert not plain.perturbed and plain.barrier_kj_mol == pytest.approx(over, abs=1.0)
    assert result.best.converged and result.best.perturbed
    assert result.best.barrier_kj_mol == pytest.approx(channel, abs=1.0)
    assert result.summary()["barrier_kj_mol"] == result.best.barrier_kj_mol
    assert len(result.summary()["candidates"]) == 3
    # the kept band as a path CV: s runs 0 -> 1 from one end to the other
    images = path_images(result, [0], 15, align=False)
    cv = PathCV((0,), images, align=False)
    ends = [cv.value(image.positions) for image in (result.best.images[0], result.best.images[-1])]
    assert ends[0] < 0.1 and ends[1] > 0.9


def test_an_adatom_hop_crosses_the_bridge_site_at_its_constrained_relaxed_energy():
    """Au on Al(100) with EMT (the default study's system): by symmetry the hop from one
    hollow site to the next crosses the bridge between them, so the climbing image's
    barrier is the energy of the slab relaxed with the adatom held at the bridge's x."""
    from ase.calculators.emt import EMT
    from ase.constraints import FixAtoms
    from ase.io import read
    from ase.optimize import FIRE

    start = read(REPO / "resources/au_al100/initial.extxyz")
    end = start.copy()
    end.positions[27, 0] += 2.864  # the next hollow site along x (a / sqrt(2))
    settings = PathBuildSettings(images=5, candidates=1, fmax_ev_a=0.02)
    result = build_path(start, end, EMT, settings, seed=1)
    hollow = result.best.images[0]
    bridge = hollow.copy()
    bridge.positions[27, 0] += 2.864 / 2
    bridge.set_constraint([*hollow.constraints, FixCartesian(27, mask=[True, False, False])])
    bridge.calc = EMT()
    FIRE(bridge, logfile=None).run(fmax=0.01, steps=500)
    hollow.calc = EMT()
    expected = ev_to_kj_mol(bridge.get_potential_energy() - hollow.get_potential_energy())
    assert result.best.converged
    assert result.best.barrier_kj_mol == pytest.approx(expected, abs=0.5)
    assert isinstance(hollow.constraints[0], FixAtoms)  # the slab's bottom stays fixed


def test_the_product_is_superposed_on_the_reactant_unless_the_frame_is_held():
    from ase.build import molecule

    from mlpmf.pathbuild import superposed_product

    reactant = molecule("CH3CH2OH")
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    product = reactant.copy()
    product.positions = reactant.positions @ q.T + 4.0
    assert np.allclose(superposed_product(reactant, product).positions, reactant.positions)
    slab = reactant.copy()
    slab.pbc = True
    assert np.allclose(superposed_product(slab, product).positions, product.positions)
    with pytest.raises(ValueError, match="collective_variable.product"):
        superposed_product(reactant, molecule("CH3OCH3"))


def test_a_band_bunched_at_its_ends_is_placed_evenly_before_it_is_carried_past_them():
    """A 1D well's band may leave an image sitting on each minimum: the extension must
    still step one whole (mean) spacing past each end, or the end stays at s = 0."""
    from mlpmf.pathbuild import extended

    bonds = [2.75, 2.7501, 3.0, 3.2, 3.4, 3.6499, 3.65]
    band = [Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]]) for r in bonds]
    carried = [image.get_distance(0, 1) for image in extended(band)]
    steps = np.diff(carried)
    assert len(carried) == len(bonds) + 2
    assert carried[1] == pytest.approx(2.75) and carried[-2] == pytest.approx(3.65)
    assert steps == pytest.approx(np.full(len(steps), 0.9 / 6), rel=1e-6)
