from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from mlpmf.analytic import DoubleWellBond, double_well_exact_pmf
from mlpmf.oracles import make_oracle
from mlpmf.units import ev_to_kj_mol, kt_kj_mol
from tests.conftest import finite_difference_forces


def test_emt_forces_are_minus_energy_gradient(adatom_slab):
    adatom_slab.calc = make_oracle({"kind": "emt"})
    analytic = adatom_slab.get_forces(apply_constraint=False)
    numeric = finite_difference_forces(adatom_slab, lambda a: a.get_potential_energy())
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)


@pytest.mark.parametrize("r", [2.5, 2.75, 3.2, 3.5, 4.1])
def test_double_well_forces_are_minus_energy_gradient(r):
    dimer = Atoms("Ar3", positions=[[0, 0, 0], [r * 0.6, r * 0.8, 0.0], [5.0, 0.0, 0.0]])
    dimer.positions += np.random.default_rng(1).normal(scale=0.1, size=(3, 3))
    dimer.calc = DoubleWellBond(barrier_ev=0.15, r_mid=3.2, half_width=0.45)
    numeric = finite_difference_forces(dimer, lambda a: a.get_potential_energy(), step=1e-6)
    np.testing.assert_allclose(dimer.get_forces(), numeric, atol=1e-7)
    assert np.all(dimer.get_forces()[2] == 0.0)


def test_double_well_energy_has_minima_and_barrier_where_configured():
    calc = DoubleWellBond(barrier_ev=0.2, r_mid=3.0, half_width=0.5)
    energies = {}
    for r in (2.5, 3.0, 3.5):
        calc.calculate(Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]]))
        energies[r] = calc.results["energy"]
    assert energies[2.5] == pytest.approx(0.0, abs=1e-12)
    assert energies[3.5] == pytest.approx(0.0, abs=1e-12)
    assert energies[3.0] == pytest.approx(0.2)


def test_exact_pmf_is_potential_minus_radial_jacobian():
    r = np.linspace(2.6, 3.8, 7)
    pmf = double_well_exact_pmf(r, 300.0, 0.15, 3.2, 0.45)
    potential = ev_to_kj_mol(0.15 * (((r - 3.2) / 0.45) ** 2 - 1) ** 2)
    expected = potential - 2 * kt_kj_mol(300.0) * np.log(r)
    np.testing.assert_allclose(pmf, expected - expected.min(), atol=1e-12)


def test_unknown_oracle_is_named():
    with pytest.raises(ValueError, match="oracle.kind.*'dft'"):
        make_oracle({"kind": "dft"})


OWN_CALCULATOR = Path(__file__).parent / "ase_calculators.py"


def test_any_ase_calculator_is_an_oracle_by_module_or_file():
    from ase import Atoms

    lj = make_oracle({"kind": "ase", "calculator": "ase.calculators.lj:LennardJones",
                      "parameters": {"sigma": 3.4, "epsilon": 0.03, "rc": 12.0}})  # fmt: skip
    dimer = Atoms("Ar2", positions=[[0, 0, 0], [2 ** (1 / 6) * 3.4, 0, 0]])
    dimer.calc = lj
    assert np.abs(dimer.get_forces()).max() < 1e-6  # at the LJ minimum
    own = make_oracle({"kind": "ase", "parameters": {"k": 2.0, "r0": 1.5},
                       "calculator": f"{OWN_CALCULATOR}:HarmonicBond"})  # fmt: skip
    dimer.positions = [[0, 0, 0], [1.0, 0, 0]]
    dimer.calc = own
    assert dimer.get_potential_energy() == pytest.approx(0.25)
    assert dimer.get_forces()[1, 0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"calculator": "nothere.calc:X"}, r"cannot import 'nothere.calc'.*\(nothere\)"),
        ({"calculator": "ase.calculators.lj:Nope"}, "has no ASE Calculator class 'Nope'"),
        ({"calculator": "LennardJones"}, "expected 'package.module:Class'"),
        ({"calculator": f"{OWN_CALCULATOR}:HarmonicBond", "parameters": {"kk": 1}},
         "oracle.parameters.*kk"),
        ({"calculator": None}, "kind ase needs"),
    ],
)  # fmt: skip
def test_an_ase_oracle_that_cannot_be_built_is_named(settings, message):
    with pytest.raises(ValueError, match=message):
        make_oracle({"kind": "ase", **settings})


def test_one_external_calculator_drives_md_without_a_disagreement():
    """potential: ase with a single calculator: it passes through (its energy and
    forces), and MD does not ask it for a committee disagreement it cannot give."""
    from ase.calculators.lj import LennardJones

    from mlpmf.calculator import ExternalCommittee
    from mlpmf.dynamics import own_calculators

    dimer = Atoms("Ar2", positions=[[0, 0, 0], [3.9, 0, 0]])
    reference = dimer.copy()
    reference.calc = LennardJones(sigma=3.4, epsilon=0.01, rc=10.0)
    dimer.calc = ExternalCommittee([LennardJones(sigma=3.4, epsilon=0.01, rc=10.0)])
    (result,) = own_calculators([dimer], True)
    np.testing.assert_allclose(result["forces"], reference.get_forces())
    assert result["energy"] == pytest.approx(reference.get_potential_energy())
    assert "force_disagreement" not in result


def test_the_oracle_force_field_equals_the_calculator_bit_for_bit_and_fails_loudly(adatom_slab):
    """MD on an oracle (oracle_calculators) labels each step with one calculate() call,
    not through ASE's property cache: the same energy and forces to the last bit, on
    every step of a moving structure; a calculation that fails on every attempt stops
    the MD with CalculationFailed."""
    from ase.calculators.calculator import CalculationFailed
    from ase.calculators.emt import EMT

    from mlpmf.oracles import make_robust_oracle
    from mlpmf.robust import RobustOracle, oracle_calculators

    dimer = Atoms("H2", positions=[[0, 0, 0], [0, 0, 3.1]])
    settings = {"kind": "double_well_bond", "barrier_ev": 0.15, "r_mid": 3.2, "half_width": 0.45}
    for atoms, reference in ((adatom_slab, EMT()), (dimer, make_oracle(settings))):
        oracle = make_robust_oracle({"kind": "emt"} if reference.name == "emt" else settings)
        atoms.calc = oracle.as_calculator()
        rng = np.random.default_rng(1)
        for _ in range(3):
            atoms.positions += rng.normal(scale=0.02, size=atoms.positions.shape)
            (result,) = oracle_calculators([atoms])
            copy = atoms.copy()  # the calculator's own forces, as own_calculators takes them
            reference.reset()  # as the oracle does each call (EMT's neighbour list anew)
            assert result["energy"] == reference.get_potential_energy(copy)
            assert np.array_equal(result["forces"], reference.get_forces(copy))
        assert oracle.calls == 3

    class Broken(EMT):
        def calculate(self, *args, **kwargs):
            raise CalculationFailed("SCF did not converge")

    dimer.calc = RobustOracle([Broken()]).as_calculator()
    with pytest.raises(CalculationFailed, match="SCF did not converge"):
        oracle_calculators([dimer])


def test_an_external_committee_asks_each_member_as_atoms_would(adatom_slab):
    """The force field of potential: ase (external_calculators_force_field) gives, step
    after step, each member's energy and forces exactly as ``atoms.get_potential_energy``
    and ``atoms.get_forces`` do (FixAtoms zeroes the fixed atoms' forces), their mean,
    and the largest pairwise disagreement."""
    from ase.calculators.emt import EMT
    from ase.calculators.lj import LennardJones

    from mlpmf.calculator import ExternalCommittee, external_calculators_force_field

    members = [EMT(), LennardJones(sigma=2.6, epsilon=0.05, rc=6.0)]
    adatom_slab.calc = ExternalCommittee(members)
    fixed = adatom_slab.constraints[0].index
    rng = np.random.default_rng(2)
    references = [EMT(), LennardJones(sigma=2.6, epsilon=0.05, rc=6.0)]  # their own lists
    for _ in range(3):
        adatom_slab.positions += rng.normal(scale=0.02, size=adatom_slab.positions.shape)
        (result,) = external_calculators_force_field([adatom_slab])
        energies, forces = [], []
        for member in references:
            copy = adatom_slab.copy()
            copy.calc = member
            energies.append(copy.get_potential_energy())
            forces.append(copy.get_forces())
        assert result["energy"] == np.mean(energies)
        assert np.array_equal(result["forces"], np.mean(forces, axis=0))
        assert np.all(result["forces"][fixed] == 0.0)
        difference = np.linalg.norm(forces[0] - forces[1], axis=1)
        assert np.allclose(result["force_disagreement"], difference)
