"""The committee of per-element neural-network potentials.

Every member is a Behler-Parrinello-style model: one small MLP per element maps an
atom's standardised descriptor to its energy, the structure's energy is the sum over
atoms. The M members of a committee share the descriptor and are evaluated together:
their weights are stacked along a leading member axis, so one pass gives all M
energies and, through :meth:`PairBatch.forces`, all M force fields.
"""

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from mlpmf.descriptors import PairBatch, RadialBasis


def resolve_device(name: str) -> torch.device:
    """``auto`` (a CUDA GPU when one is visible, else the CPU), ``cpu`` or ``cuda``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was asked for, but torch sees no CUDA GPU here")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device: expected auto, cpu or cuda, got {name!r}")
    return torch.device(name)


class Committee(nn.Module):
    """M independent per-element MLPs sharing one descriptor.

    Parameters
    ----------
    basis
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

    def __init__(
        self,
        basis: RadialBasis,
        num_members: int,
        hidden_layers: Sequence[int],
        feature_mean: torch.Tensor,
        feature_std: torch.Tensor,
        reference_energies: torch.Tensor,
        energy_scale: float,
    ):
        super().__init__()
        self.basis = basis
        self.num_members = num_members
        self.hidden_layers = tuple(int(h) for h in hidden_layers)
        num_species = len(basis.species)
        self.register_buffer("feature_mean", feature_mean.clone().double())
        self.register_buffer("feature_std", feature_std.clone().double())
        self.register_buffer("reference_energies", reference_energies.clone().double())
        self.register_buffer("energy_scale", torch.tensor(float(energy_scale), dtype=torch.float64))
        widths = (basis.num_features, *self.hidden_layers, 1)
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
        for s in range(len(self.basis.species)):
            atoms = torch.nonzero(species_index == s).squeeze(1)
            if atoms.numel() == 0:
                continue
            h = ((features[atoms] - self.feature_mean[s]) / self.feature_std[s]).expand(
                self.num_members, -1, -1
            )
            pre_activations = []
            for weight, bias in zip(self.weights[:-1], self.biases[:-1], strict=True):
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

    def energies_and_forces(self, batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's structure energies (M, n_structures), eV, and forces (M, A, 3), eV/Å.

        Differentiable with respect to the parameters under grad mode, for training.
        """
        atomic, energy_gradient = self.atomic_energies_and_gradient(
            batch.features(self.basis), batch.species_index
        )
        energies = torch.zeros(
            self.num_members, batch.num_structures, dtype=atomic.dtype, device=atomic.device
        )
        energies.index_add_(1, batch.structure_index, atomic)
        return energies, batch.forces(self.basis, energy_gradient)

    def save(self, path: str | Path) -> None:
        """Save weights, normalisation and descriptor settings in one file."""
        torch.save(
            {
                "basis": self.basis.to_dict(),
                "num_members": self.num_members,
                "hidden_layers": self.hidden_layers,
                "state": {name: value.cpu() for name, value in self.state_dict().items()},
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path) -> "Committee":
        """Load a committee written by :meth:`save`."""
        saved = torch.load(path, map_location="cpu", weights_only=True)
        basis_settings = dict(saved["basis"])
        basis_settings["species"] = tuple(basis_settings["species"])
        state = saved["state"]
        model = cls(
            RadialBasis(**basis_settings),
            saved["num_members"],
            saved["hidden_layers"],
            state["feature_mean"],
            state["feature_std"],
            state["reference_energies"],
            float(state["energy_scale"]),
        )
        model.load_state_dict(state)
        return model

    @property
    def device(self) -> torch.device:
        return self.feature_mean.device
