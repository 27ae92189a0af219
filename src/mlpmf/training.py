"""The committee's training loop (the sparse GP's fit: :mod:`mlpmf.gaussian_process`).

Every committee member sees every training frame and differs from the others by its
random initialisation (members trained on all the data with different seeds are more
accurate than bootstrap members, and their disagreement still ranks the errors);
``bootstrap`` gives each member its own resample of the frames instead (frame weights
drawn from a multinomial). All members train in the same optimiser steps, since they
share the descriptor. The loss of member m is

    L_m = sum_f w_mf [ w_E ((E_f - E_f^ref) / N_f)^2 + w_F mean_atoms,xyz (F_f - F_f^ref)^2 ]
          / sum_f w_mf

with energies per atom in eV and forces in eV/Å; the optimiser minimises sum_m L_m.
"""

import copy
import json
import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from ase import Atoms
from tqdm import tqdm

from mlpmf.checkpoint import Checkpoint
from mlpmf.dataset import DataStatistics, descriptor_for, reference_arrays
from mlpmf.descriptors import Descriptor
from mlpmf.models import Committee, resolve_device
from mlpmf.settings import CommitteeSettings, DescriptorSettings
from mlpmf.trainingdata import training_frames

log = logging.getLogger(__name__)


def _initial_committee(frames, descriptor: Descriptor, settings: CommitteeSettings) -> Committee:
    """A committee whose normalisation and reference energies come from ``frames``."""
    statistics = DataStatistics.of(frames, descriptor)
    _, forces, _ = reference_arrays(frames)
    # the networks' output unit: the force spread (eV per Å of motion), or the atomic
    # energies' spread for data without forces
    force_std = float(forces.std()) if forces.numel() > 1 else 0.0
    energy_scale = force_std if force_std > 1e-6 else statistics.atomic_energy_std
    return Committee(
        descriptor,
        settings.members,
        settings.hidden_layers,
        statistics.feature_mean,
        statistics.feature_std,
        statistics.reference_energies,
        max(energy_scale, 1e-3),
    )


def _chunks(indices, size: int) -> list:
    return [indices[k : k + size] for k in range(0, len(indices), size)]


def validation_split(num_frames: int, fraction: float, rng: np.random.Generator):
    """Indices of training and validation frames; at least one of each when fraction > 0."""
    order = rng.permutation(num_frames)
    num_validation = int(round(fraction * num_frames))
    if fraction > 0:
        num_validation = min(max(num_validation, 1), num_frames - 1)
    return np.sort(order[num_validation:]), np.sort(order[:num_validation])


def train_committee(
    frames: Sequence[Atoms],
    descriptor_settings: DescriptorSettings | Mapping,
    settings: CommitteeSettings,
    seed: int,
    device: str = "cpu",
    checkpoint: Checkpoint | None = None,
    on_epoch_end: Callable[[int, float], None] | None = None,
    initial: Committee | None = None,
) -> tuple[Committee, dict]:
    """Train a committee on ``frames``, stopping early on a validation split.

    Parameters
    ----------
    frames
        Structures labelled with energy (eV) and forces (eV/Å).
    descriptor_settings
        The descriptor's settings (the config's ``descriptor`` section).
    settings
        Committee size, networks and training settings.
    seed
        Seeds the validation split, initial weights, bootstrap resamples (when on) and
        batch order.
    device
        ``cpu``, ``cuda`` or ``auto`` (:func:`mlpmf.models.resolve_device`).
    checkpoint
        Where to save the state every ``checkpoint.every`` epochs, and resume from when
        its fingerprint matches (:mod:`mlpmf.checkpoint`).
    on_epoch_end
        Called with (epoch, training loss) after every epoch.
    initial
        A committee to continue from (warm start): its descriptor, normalisation and
        weights are kept.

    Returns
    -------
    The committee in which every member has the weights of its own best validation
    epoch (members are independent networks; one poor member must not hold the others
    back, nor be kept at the others' best epoch), and the learning curves:
    ``training_loss`` and ``validation_loss`` per epoch (the members' summed loss; the
    validation loss averages the members, each on every validation frame),
    ``member_best_epochs``, ``best_epoch`` (the last of them) and
    ``validation_frames`` (indices into ``frames``). Training stops early when no member
    has improved for ``patience_epochs``.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    target = resolve_device(device)
    train_indices, validation_indices = validation_split(
        len(frames), settings.validation_fraction, rng
    )
    if initial is None:
        descriptor = descriptor_for(frames, descriptor_settings)
        model = _initial_committee([frames[i] for i in train_indices], descriptor, settings)
    else:
        descriptor = initial.descriptor
        model = copy.deepcopy(initial)
    model = model.to(target)
    n_train = len(train_indices)
    frame_weights = np.zeros((model.num_members, len(frames)))
    if settings.bootstrap:
        frame_weights[:, train_indices] = rng.multinomial(
            n_train, np.full(n_train, 1.0 / n_train), size=model.num_members
        )
    else:
        frame_weights[:, train_indices] = 1.0
    bootstrap_weights = torch.as_tensor(frame_weights, dtype=torch.float64, device=target)
    batch_size = min(settings.batch_size, n_train)
    training_set = training_frames(frames, train_indices, descriptor, target)
    num_batches = len(_chunks(train_indices, batch_size))
    validation_set = training_frames(frames, validation_indices, descriptor, target)
    validation = [validation_set.batch(chunk) for chunk in _chunks(validation_indices, 32)]
    loss_weights = (settings.energy_weight, settings.force_weight)

    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    decay = (settings.final_learning_rate / settings.learning_rate) ** (
        1.0 / max(settings.epochs * num_batches, 1)
    )
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=decay)
    history = {"training_loss": [], "validation_loss": []}
    best = {
        "loss": torch.full((model.num_members,), float("inf"), dtype=torch.float64),
        "epoch": [-1] * model.num_members,
        "state": _copy_state(model),
    }
    first_epoch = 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        rng.bit_generator.state = json.loads(saved["rng"])
        history, best = saved["history"], saved["best"]
        first_epoch = saved["epoch"] + 1
        log.info("resuming training from its checkpoint after epoch %d", saved["epoch"])
    progress = tqdm(
        range(first_epoch, settings.epochs),
        desc="training",
        mininterval=5,
        initial=first_epoch,
        total=settings.epochs,
    )
    for epoch in progress:
        epoch_loss = 0.0
        for chunk in _chunks(rng.permutation(train_indices), batch_size):
            batch = training_set.batch(chunk)
            weights = bootstrap_weights[:, batch.frames]
            if float(weights.sum()) == 0.0:
                continue
            losses = batch.losses(model, loss_weights)
            loss = ((losses * weights).sum(1) / bootstrap_weights.sum(1) * num_batches).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            epoch_loss += loss.item() / num_batches
        history["training_loss"].append(epoch_loss)
        member_losses = _validation_losses(model, validation, loss_weights)
        history["validation_loss"].append(float(member_losses.mean()))
        improved = member_losses < best["loss"] if validation else torch.ones_like(best["loss"]) > 0
        if improved.any():
            _keep_members(best["state"], _copy_state(model), improved)
            best["loss"] = torch.where(improved, member_losses, best["loss"])
            best["epoch"] = [
                epoch if up else e for up, e in zip(improved, best["epoch"], strict=True)
            ]
        if checkpoint is not None and (epoch + 1) % checkpoint.every == 0:
            checkpoint.save(
                {
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": json.dumps(rng.bit_generator.state),
                    "history": history,
                    "best": best,
                }
            )
        if on_epoch_end is not None:
            on_epoch_end(epoch, epoch_loss)
        stale = epoch - max(best["epoch"])
        if validation and stale >= settings.patience_epochs > 0:
            log.info("no member's validation loss has improved for %d epochs: stopping", stale)
            break
    progress.close()
    model.load_state_dict(best["state"])
    history["member_best_epochs"] = list(best["epoch"])
    history["validation_frames"] = [int(i) for i in validation_indices]
    history["best_epoch"] = max(best["epoch"])
    log.info(
        "members' best epochs %s, validation losses %s",
        best["epoch"],
        [f"{float(v):.4g}" for v in best["loss"]],
    )
    return model, history


def _validation_losses(model, validation: list, weights: tuple[float, float]) -> torch.Tensor:
    """Each member's mean loss per validation frame (M,); NaN without validation frames."""
    if not validation:
        return torch.full((model.num_members,), float("nan"), dtype=torch.float64)
    with torch.no_grad():
        total = sum(batch.losses(model, weights).sum(1).cpu() for batch in validation)
    return total / sum(len(batch.frames) for batch in validation)


def _copy_state(model) -> dict:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _keep_members(best: dict, current: dict, members: torch.Tensor) -> None:
    """Copy the ``members`` (bool, M) of ``current``'s per-member parameters (those with
    a leading member axis: the networks' weights and biases) into ``best``; the shared
    buffers (normalisation) are the same in both."""
    for name, value in current.items():
        if name.startswith(("weights.", "biases.")):
            best[name][members.to(value.device)] = value[members.to(value.device)]
        else:
            best[name] = value
