"""Machine-learned potentials on the shared descriptor: a committee of per-element
neural networks, and a sparse Gaussian process.

Both write the energy as a sum of atomic energies of the atoms' descriptors and get
forces by differentiating through the descriptor (:func:`energies_and_forces`).

The committee's members are Behler-Parrinello-style models: one small MLP per element
maps an atom's standardised descriptor to its energy. The M members' weights are
stacked along a leading member axis and each member gets its own copy of the pair
vectors, so one forward and one backward pass give all M energies and force fields.
"""

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from mlpmf.descriptors import Descriptor, DescriptorValues
from mlpmf.neighbours import PairBatch


def resolve_device(name: str) -> torch.device:
    """``auto`` (a CUDA GPU when one is visible, else the CPU), ``cpu`` or ``cuda``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was asked for, but torch sees no CUDA GPU here")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device: expected auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def energies_and_forces(
    values: DescriptorValues, atomic: torch.Tensor, energy_gradient: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Structure energies (M, n_structures), eV, and forces (M, A, 3), eV/Å, from atomic
    energies (M, A) and their gradients with respect to the descriptors (M, A, F)."""
    batch = values.batch
    energies = torch.zeros(
        atomic.shape[0], batch.num_structures, dtype=atomic.dtype, device=atomic.device
    )
    energies = energies.index_add(1, batch.structure_index, atomic)
    return energies, batch.forces_from_pair_gradient(values.pair_gradient(energy_gradient))


def descriptor_values(model, batch: PairBatch | DescriptorValues) -> DescriptorValues:
    """``batch``'s descriptors for ``model``, evaluated unless they already are."""
    if isinstance(batch, DescriptorValues):
        return batch
    with torch.no_grad():
        return model.descriptor.evaluate(batch)


def max_pairwise_force_difference(member_forces: torch.Tensor) -> torch.Tensor:
    """Largest |F_m - F_m'| over member pairs, per atom: (M, A, 3) -> (A,), eV/Å."""
    difference = member_forces[:, None] - member_forces[None, :]
    return difference.norm(dim=-1).amax(dim=(0, 1))


def dpgen_force_deviation(member_forces: torch.Tensor) -> torch.Tensor:
    """DP-GEN's model deviation per atom, sqrt(<|F_m - <F>|^2>_m): (M, A, 3) -> (A,), eV/Å.

    For two members it is half their pairwise difference."""
    spread = member_forces - member_forces.mean(0, keepdim=True)
    return spread.pow(2).sum(-1).mean(0).sqrt()


class Potential(Protocol):
    """A learned potential as the calculators, MD, evaluation and model files use it.

    :class:`Committee` (M members) and :class:`GaussianProcess` (one member, with
    predictive variances) both are one; both are torch modules. External potentials
    (ASE calculators such as MACE) enter MD through :data:`mlpmf.dynamics.ForceField`
    instead, as the oracles do.
    """

    kind: str
    num_members: int
    descriptor: Descriptor
    feature_mean: torch.Tensor

    def energies_and_forces(
        self, batch: PairBatch | DescriptorValues, member_forces: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Member energies (M, n_structures), eV, and forces (M, A, 3), eV/Å."""
        ...

    def settings(self) -> dict: ...

    def save(self, path: str | Path) -> None: ...

    @property
    def device(self) -> torch.device: ...

    def to(self, *args, **kwargs) -> "Potential": ...

    def eval(self) -> "Potential": ...

    def state_dict(self) -> dict: ...


class Committee(nn.Module):
    """M independent per-element MLPs sharing one descriptor.

    Parameters
    ----------
    descriptor
        Descriptor settings; saved with the model.
    num_members
        Committee size M.
    hidden_layers
        Widths of the hidden layers of each element's MLP.
    feature_mean, feature_std
        (S, num_features) statistics of the training descriptors, per centre element.
    reference_energies
        (S,) energy per atom of each element, eV, fitted before the networks.
    energy_scale
        eV; the networks' output is multiplied by it.
    """

    kind = "committee"

    def __init__(
        self,
        descriptor: Descriptor,
        num_members: int,
        hidden_layers: Sequence[int],
        feature_mean: torch.Tensor,
        feature_std: torch.Tensor,
        reference_energies: torch.Tensor,
        energy_scale: float,
    ):
        super().__init__()
        self.descriptor = descriptor
        self.num_members = num_members
        self.hidden_layers = tuple(int(h) for h in hidden_layers)
        num_species = len(descriptor.species)
        self.register_buffer("feature_mean", feature_mean.clone().double())
        self.register_buffer("feature_std", feature_std.clone().double())
        self.register_buffer("reference_energies", reference_energies.clone().double())
        self.register_buffer("energy_scale", torch.tensor(float(energy_scale), dtype=torch.float64))
        widths = (descriptor.num_features, *self.hidden_layers, 1)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
            weight = torch.randn(num_members, num_species, fan_in, fan_out, dtype=torch.float64)
            self.weights.append(nn.Parameter(weight / fan_in**0.5))
            self.biases.append(
                nn.Parameter(torch.zeros(num_members, num_species, fan_out, dtype=torch.float64))
            )

    def atomic_energies_and_gradient(
        self, features: torch.Tensor, species_index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Energies (M, A), eV, and their gradients with respect to the descriptors
        (M, A, F) from shared ``features`` (A, F), by explicit backpropagation.

        Every step is a torch operation, so under grad mode the result stays
        differentiable with respect to the parameters (training on forces), and under
        ``torch.no_grad`` no graph is built at all (MD). With z the pre-activations,
        dE/dh_(l-1) = (dE/dh_l * silu'(z_l)) W_l^T and
        silu'(z) = sigmoid(z) (1 + z (1 - sigmoid(z))).
        """
        num_atoms, num_features = features.shape
        shape = (self.num_members, num_atoms)
        energies = torch.empty(shape, dtype=features.dtype, device=features.device)
        gradient = torch.empty(*shape, num_features, dtype=features.dtype, device=features.device)
        for s in range(len(self.descriptor.species)):
            atoms = torch.nonzero(species_index == s).squeeze(1)
            if atoms.numel() == 0:
                continue
            x = (features[atoms] - self.feature_mean[s]) / self.feature_std[s]
            first = self.weights[0][:, s]  # (M, F, H): one GEMM for all members
            z = (x @ first.permute(1, 0, 2).reshape(num_features, -1)).reshape(
                len(atoms), self.num_members, -1
            ).transpose(0, 1) + self.biases[0][:, s, None, :]
            pre_activations = [z]
            h = nn.functional.silu(z)
            for weight, bias in zip(self.weights[1:-1], self.biases[1:-1], strict=True):
                z = torch.einsum("maf,mfh->mah", h, weight[:, s]) + bias[:, s, None, :]
                pre_activations.append(z)
                h = nn.functional.silu(z)
            last_weight = self.weights[-1][:, s]  # (M, H, 1)
            output = torch.einsum("mah,mho->mao", h, last_weight)[..., 0] + self.biases[-1][:, s]
            energies[:, atoms] = self.energy_scale * output + self.reference_energies[s]
            back = self.energy_scale * last_weight.transpose(1, 2)  # (M, 1, H)
            for weight, z in zip(
                reversed(self.weights[:-1]), reversed(pre_activations), strict=True
            ):
                sigmoid = torch.sigmoid(z)
                back = back * sigmoid * (1.0 + z * (1.0 - sigmoid))
                back = torch.einsum("mah,mfh->maf", back, weight[:, s])
            gradient[:, atoms] = back / self.feature_std[s]
        return energies, gradient

    def energies_and_forces(
        self, batch: PairBatch | DescriptorValues, member_forces: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's structure energies (M, n_structures), eV, and forces (M, A, 3),
        eV/Å, or only the members' mean force (1, A, 3) without ``member_forces``.
        Differentiable with respect to the parameters under grad mode (training); pass
        the :class:`DescriptorValues` of a fixed batch to skip re-evaluating them."""
        values = descriptor_values(self, batch)
        atomic, gradient = self.atomic_energies_and_gradient(
            values.features, values.batch.species_index
        )
        if not member_forces:
            gradient = gradient.mean(0, keepdim=True)
        return energies_and_forces(values, atomic, gradient)

    def settings(self) -> dict:
        return {"num_members": self.num_members, "hidden_layers": self.hidden_layers}

    @classmethod
    def from_state(cls, descriptor: Descriptor, settings: dict, state: dict) -> "Committee":
        return cls(
            descriptor,
            settings["num_members"],
            settings["hidden_layers"],
            state["feature_mean"],
            state["feature_std"],
            state["reference_energies"],
            float(state["energy_scale"]),
        )

    def save(self, path: str | Path) -> None:
        save_model(self, path)

    @property
    def device(self) -> torch.device:
        return self.feature_mean.device


class GaussianProcess(nn.Module):
    r"""Sparse Gaussian-process potential (subset of regressors) on the descriptor.

    The atomic energy of an atom of element s with standardised descriptor x is
    :math:`\varepsilon(x) = \sum_z \alpha_z k(x, x_z)` over inducing atoms z of the same
    element, with :math:`k(x, x') = \sigma_f^2 \exp(-|x - x'|^2 / 2\ell^2)`. Energies and
    forces are linear in α, whose Gaussian posterior (mean ``weights``, covariance
    ``weight_covariance``) gives the predictive variance of any prediction: for a
    design row φ (∂prediction/∂α), var = φ Σ_α φᵀ (:meth:`predictive_variances`).
    """

    kind = "gaussian_process"
    num_members = 1

    def __init__(
        self,
        descriptor: Descriptor,
        feature_mean: torch.Tensor,
        feature_std: torch.Tensor,
        reference_energies: torch.Tensor,
        inducing_features: torch.Tensor,
        inducing_species: torch.Tensor,
        length_scale: float,
        signal_std_ev: float,
    ):
        super().__init__()
        self.descriptor = descriptor
        self.length_scale = float(length_scale)
        self.signal_std_ev = float(signal_std_ev)
        num_inducing = inducing_features.shape[0]
        self.register_buffer("feature_mean", feature_mean.clone().double())
        self.register_buffer("feature_std", feature_std.clone().double())
        self.register_buffer("reference_energies", reference_energies.clone().double())
        self.register_buffer("inducing_features", inducing_features.clone().double())
        self.register_buffer("inducing_species", inducing_species.clone())
        self.register_buffer("weights", torch.zeros(num_inducing, dtype=torch.float64))
        self.register_buffer(
            "weight_covariance", torch.zeros(num_inducing, num_inducing, dtype=torch.float64)
        )
        self.register_buffer(
            "inducing_cholesky", torch.eye(num_inducing, dtype=torch.float64)
        )  # of K_ZZ

    def kernel(self, features: torch.Tensor, species_index: torch.Tensor) -> torch.Tensor:
        """k(x_i, x_z) of atoms (A, F) against the inducing atoms: (A, Z)."""
        return self._kernel_and_gradients(features, species_index)[0]

    def _kernel_and_gradients(self, features, species_index):
        """k (A, Z) and dk/dG (Z, A, F): each inducing column's descriptor gradient."""
        std = self.feature_std[species_index]
        x = (features - self.feature_mean[species_index]) / std
        difference = x[None, :, :] - self.inducing_features[:, None, :]  # (Z, A, F)
        squared = (difference * difference).sum(-1).T  # (A, Z)
        same = species_index[:, None] == self.inducing_species[None, :]
        kernel = self.signal_std_ev**2 * torch.exp(-0.5 * squared / self.length_scale**2) * same
        gradient = -kernel.T[..., None] * difference / (self.length_scale**2 * std)
        return kernel, gradient

    def design_rows(self, batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """∂E/∂α (n_structures, Z) and ∂F/∂α (A, 3, Z) of the structures in ``batch``."""
        values = descriptor_values(self, batch)
        kernel, gradient = self._kernel_and_gradients(values.features, values.batch.species_index)
        energy_rows, force_rows = energies_and_forces(values, kernel.T, gradient)
        return energy_rows.T, force_rows.permute(1, 2, 0)

    def energies_and_forces(
        self, batch: PairBatch | DescriptorValues, member_forces: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior-mean energies (1, n_structures), eV, and forces (1, A, 3), eV/Å
        (``member_forces`` is for the committee's interface: the GP has one member)."""
        values = descriptor_values(self, batch)
        species_index = values.batch.species_index
        kernel, gradient = self._kernel_and_gradients(values.features, species_index)
        atomic = kernel @ self.weights + self.reference_energies[species_index]
        energy_gradient = torch.einsum("z,zaf->af", self.weights, gradient)
        return energies_and_forces(values, atomic[None], energy_gradient[None])

    def predictive_variances(self, batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictive variance of each structure's energy (n_structures,) and of each
        atom's energy (A,), eV².

        Deterministic-training-conditional form: the posterior variance of the weights
        plus the prior variance the inducing atoms cannot explain,
        k(x, x) - k_xZ K_ZZ^-1 k_Zx, which keeps the variance large far from the data
        (the plain subset-of-regressors variance would fall to zero there).
        """
        values = descriptor_values(self, batch)
        kernel = self.kernel(values.features, values.batch.species_index)  # (A, Z)
        energy_rows = torch.zeros(
            values.batch.num_structures, kernel.shape[1], dtype=kernel.dtype, device=kernel.device
        ).index_add(0, values.batch.structure_index, kernel)  # dE/dalpha: no forces needed
        explained = torch.linalg.solve_triangular(
            self.inducing_cholesky, kernel.T, upper=False
        )  # (Z, A)
        unexplained = (self.signal_std_ev**2 - (explained * explained).sum(0)).clamp_min(0.0)
        posterior = torch.einsum("az,zy,ay->a", kernel, self.weight_covariance, kernel)
        residual = torch.zeros_like(energy_rows[:, 0]).index_add(
            0, values.batch.structure_index, unexplained
        )
        energy_variance = (
            torch.einsum("nz,zy,ny->n", energy_rows, self.weight_covariance, energy_rows) + residual
        )
        return energy_variance, posterior + unexplained

    def settings(self) -> dict:
        return {"length_scale": self.length_scale, "signal_std_ev": self.signal_std_ev}

    @classmethod
    def from_state(cls, descriptor: Descriptor, settings: dict, state: dict) -> "GaussianProcess":
        return cls(
            descriptor,
            state["feature_mean"],
            state["feature_std"],
            state["reference_energies"],
            state["inducing_features"],
            state["inducing_species"],
            settings["length_scale"],
            settings["signal_std_ev"],
        )

    def save(self, path: str | Path) -> None:
        save_model(self, path)

    @property
    def device(self) -> torch.device:
        return self.feature_mean.device


MODEL_KINDS = {Committee.kind: Committee, GaussianProcess.kind: GaussianProcess}


def save_model(model: Potential, path: str | Path) -> None:
    """Save a model with its kind, settings and descriptor in one file."""
    torch.save(
        {
            "kind": model.kind,
            "descriptor": model.descriptor.to_dict(),
            "settings": model.settings(),
            "state": {name: value.cpu() for name, value in model.state_dict().items()},
        },
        path,
    )


def load_model(path: str | Path) -> Potential:
    """Load a model written by :func:`save_model`."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    descriptor_settings = dict(saved["descriptor"])
    descriptor_settings["species"] = tuple(descriptor_settings["species"])
    known = {f.name for f in dataclasses.fields(Descriptor)}
    if set(descriptor_settings) - known:
        raise ValueError(
            f"{path}: written by an older mlpmf (descriptor keys "
            f"{sorted(set(descriptor_settings) - known)}); delete it and rerun to retrain"
        )
    model_class = MODEL_KINDS[saved["kind"]]
    model = model_class.from_state(
        Descriptor(**descriptor_settings), saved["settings"], saved["state"]
    )
    model.load_state_dict(saved["state"])
    return model
