r"""The descriptor mlpmf used before ANI angular terms (commit 761238c), kept unchanged as
the baseline of benchmarks/mlip.py: Gaussian radial, angular and chiral channels.

All terms are smooth functions of the neighbour vectors :math:`\mathbf r_{ij}` inside a
cosine cutoff :math:`f_c(r) = \tfrac12(\cos(\pi r/r_c) + 1)`, written in torch (so
autograd can check them). Forces do not go through autograd: :class:`DescriptorValues`
writes out the vector-Jacobian product block by block, which maps M models' energy
gradients dE/dG to M force fields at once, costs about one descriptor evaluation, and
lets training differentiate forces with respect to the weights without a second
backward pass through the descriptor.

**Radial**, per neighbour element *s* and Gaussian *b*:
:math:`G_{i,sb} = \sum_{j\in s} g_b(r_{ij})`, with
:math:`g_b(r) = \exp(-(r-\mu_b)^2 / 2\sigma^2) f_c(r)`, centres evenly spaced on
:math:`[r_\mathrm{min}, r_c]` and :math:`\sigma` their spacing.

**Angular**, from vector and rank-2 moments of channels *a* (element × Gaussian),
:math:`\mathbf v_{i,a} = \sum_j w_a(j)\,\hat{\mathbf r}_{ij}` and
:math:`T_{i,a} = \sum_j w_a(j)\,\hat{\mathbf r}_{ij}\hat{\mathbf r}_{ij}^{\mathsf T}`:
the invariants :math:`\mathbf v_a\cdot\mathbf v_b = \sum_{jk} w_a(j) w_b(k)\cos\theta_{jk}`
and :math:`\operatorname{tr} T_a T_b = \sum_{jk} w_a(j) w_b(k)\cos^2\theta_{jk}`, i.e. the
first two Legendre moments of the three-body angle distribution — O(neighbours), not
O(neighbours²), to compute.

**Chiral**: the signed volumes :math:`\chi_{i,abc} = \det[\mathbf v_a, \mathbf v_b,
\mathbf v_c] = \sum_{jkl} w_a(j) w_b(k) w_c(l)\,
\hat{\mathbf r}_{ij}\cdot(\hat{\mathbf r}_{ik}\times\hat{\mathbf r}_{il})` over triples of
distinct channels (distance Gaussians, unweighted and weighted by atomic number). They
are pseudoscalars: a reflection flips their sign, and they vanish in any environment
with a mirror plane. The model sees them only through parity-even products — the
squares :math:`\chi_{i,k}^2` and the radially resolved neighbour products
:math:`\chi_{i,k}\sum_j g_b(r_{ij})\chi_{j,k}` — so the mirror image of an isolated
system has exactly the same energy, while the relative handedness of neighbouring
chiral centres (diastereomers) changes the energy, which no distance or angle
descriptor can see.
"""

from dataclasses import asdict, dataclass
from itertools import combinations

import torch


@dataclass(frozen=True)
class Descriptor:
    """Descriptor settings, and the descriptor as a function of pair vectors."""

    species: tuple[int, ...]  # atomic numbers, in feature order
    num_radial: int  # Gaussians per neighbour element
    cutoff_a: float  # Å
    r_min_a: float = 0.8  # Å, first Gaussian centre
    num_angular: int = 0  # Gaussians per element in the angular moments (0: none)
    num_chiral: int = 0  # Gaussians in the chiral moments (0: no chiral channel)

    @property
    def num_angular_channels(self) -> int:
        return len(self.species) * self.num_angular

    @property
    def num_chiral_triples(self) -> int:
        channels = 2 * self.num_chiral
        return channels * (channels - 1) * (channels - 2) // 6

    @property
    def num_features(self) -> int:
        return sum(self.block_sizes())

    def to_dict(self) -> dict:
        return asdict(self)

    def block_sizes(self) -> list[int]:
        """Widths of the feature blocks, in order: radial; angular cos and cos^2 terms;
        chiral squares and neighbour products (the blocks switched on)."""
        c = self.num_angular_channels
        sizes = [len(self.species) * self.num_radial]
        if self.num_angular:
            sizes += [c * (c + 1) // 2] * 2
        if self.num_chiral:
            sizes += [self.num_chiral_triples, self.num_chiral_triples * self.num_chiral]
        return sizes

    def gaussians(self, r: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` cut-off Gaussians of distances ``r`` (P,) and their derivatives in r,
        each (P, count)."""
        centers = torch.linspace(self.r_min_a, self.cutoff_a, count, dtype=r.dtype, device=r.device)
        sigma = (self.cutoff_a - self.r_min_a) / max(count - 1, 1)
        u = (r[:, None] - centers) / sigma
        gauss = torch.exp(-0.5 * u * u)
        cutoff, dcutoff = self.cutoff_function(r)
        return gauss * cutoff[:, None], gauss * (dcutoff[:, None] - u / sigma * cutoff[:, None])

    def cutoff_function(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """f_c(r) and df_c/dr, both (P,)."""
        inside = r < self.cutoff_a
        phase = torch.pi * r.clamp(max=self.cutoff_a) / self.cutoff_a
        zero = torch.zeros_like(r)
        value = torch.where(inside, 0.5 * (torch.cos(phase) + 1.0), zero)
        slope = torch.where(inside, -0.5 * torch.pi / self.cutoff_a * torch.sin(phase), zero)
        return value, slope

    def evaluate(self, batch: object) -> "DescriptorValues":
        """The descriptor of every atom of ``batch``, with what its gradient needs."""
        return DescriptorValues(self, batch)

    def features(self, batch: object) -> torch.Tensor:
        """Descriptor matrix (A, num_features); differentiable in ``batch.vectors``."""
        return DescriptorValues(self, batch).features

    def signed_volumes(self, batch: object) -> torch.Tensor:
        """The raw pseudoscalars χ (A, K) of the chiral channel (parity-odd)."""
        return DescriptorValues(self, batch).chiral


class DescriptorValues:
    """Descriptors of a batch, and their exact vector-Jacobian product.

    :meth:`pair_gradient` maps dL/dG (M, A, F) — e.g. M committee members' energy
    gradients — to dL/d(pair vector) (M, P, 3) by the chain rule written out block by
    block (module docstring), without building an autograd graph through the
    descriptor. It is linear in dL/dG, so training differentiates through it with
    respect to the model's parameters cheaply, and the values cached here never change
    for a fixed geometry.
    """

    def __init__(self, descriptor: Descriptor, batch: object):
        self.descriptor = d = descriptor
        self.batch = batch
        num_atoms, num_species = batch.num_atoms, len(d.species)
        self.r = torch.linalg.norm(batch.vectors, dim=-1)  # (P,)
        self.unit = batch.vectors / self.r[:, None]
        neighbour_species = batch.species_index[batch.pair_j]
        self.slot = batch.pair_i * num_species + neighbour_species  # (atom, element) rows
        self.radial, self.radial_slope = d.gaussians(self.r, d.num_radial)
        parts = [_sum_rows(self.radial, self.slot, num_atoms * num_species).reshape(num_atoms, -1)]
        if d.num_angular:
            self.angular, self.angular_slope = d.gaussians(self.r, d.num_angular)
            self.outer = _symmetric_outer(self.unit)
            channels = d.num_angular_channels
            self.upper = torch.triu_indices(channels, channels, device=self.r.device)
            position = torch.zeros(channels, channels, dtype=torch.int64, device=self.r.device)
            position[self.upper[0], self.upper[1]] = torch.arange(self.upper.shape[1])
            self.symmetric_index = torch.maximum(position, position.T)  # (a, b) -> upper slot
            self.symmetric_factor = 1.0 + torch.eye(
                channels, dtype=self.r.dtype, device=self.r.device
            )
            self.moments = []
            for direction in (self.unit, self.outer):  # cos and cos^2 of neighbour angles
                moments = _sum_rows(
                    self.angular[:, :, None] * direction[:, None, :],
                    self.slot,
                    num_atoms * num_species,
                ).reshape(num_atoms, channels, -1)
                self.moments.append(moments)
                products = torch.einsum("aix,ajx->aij", moments, moments)
                parts.append(products[:, self.upper[0], self.upper[1]])
        if d.num_chiral:
            gauss, slope = d.gaussians(self.r, d.num_chiral)
            numbers = torch.as_tensor(d.species, dtype=gauss.dtype, device=gauss.device)
            charge = (numbers[neighbour_species] / numbers.max())[:, None]
            self.chiral_weights = torch.cat([gauss, gauss * charge], dim=1)  # (P, 2n)
            self.chiral_slopes = torch.cat([slope, slope * charge], dim=1)
            self.chiral_moments = _sum_rows(
                self.chiral_weights[:, :, None] * self.unit[:, None, :], batch.pair_i, num_atoms
            )  # (A, 2n, 3)
            self.triples = torch.as_tensor(
                list(combinations(range(2 * d.num_chiral), 3)), device=self.r.device
            )
            columns = [self.chiral_moments[:, self.triples[:, k]] for k in range(3)]
            self.chiral = torch.linalg.det(torch.stack(columns, dim=-2))  # (A, K)
            self.pair_gauss, self.pair_slope = gauss, slope  # radial resolution of neighbours
            self.neighbour_chiral = _sum_rows(
                gauss[:, :, None] * self.chiral[batch.pair_j][:, None, :], batch.pair_i, num_atoms
            )  # (A, n, K): sum_j g_b(r_ij) chi_j
            products = self.chiral[:, None, :] * self.neighbour_chiral
            parts += [self.chiral * self.chiral, products.reshape(num_atoms, -1)]
        self.features = torch.cat(parts, dim=-1)

    def pair_gradient(self, cotangent: torch.Tensor) -> torch.Tensor:
        """dL/d(pair vector) (M, P, 3) from dL/dG (M, A, F)."""
        d, batch = self.descriptor, self.batch
        num_members, num_atoms = cotangent.shape[0], batch.num_atoms
        num_species = len(d.species)
        blocks = torch.split(cotangent, d.block_sizes(), dim=-1)
        radial = blocks[0].reshape(num_members, num_atoms * num_species, d.num_radial)
        dl_dr = (radial[:, self.slot] * self.radial_slope).sum(-1)
        gradient = dl_dr[..., None] * self.unit  # (M, P, 3)
        if d.num_angular:
            for block, moments, direction in zip(
                blocks[1:3], self.moments, (self.unit, self.outer), strict=True
            ):
                weight = block[..., self.symmetric_index] * self.symmetric_factor  # C + C^T
                dl_dmoment = torch.einsum("maij,ajx->maix", weight, moments)  # (M, A, C, X)
                per_pair = dl_dmoment.reshape(
                    num_members, num_atoms * num_species, d.num_angular, -1
                )[:, self.slot]  # (M, P, n, X)
                gradient = gradient + self._moment_pair_gradient(
                    per_pair, self.angular, self.angular_slope, direction
                )
        if d.num_chiral:
            gradient = gradient + self._chiral_pair_gradient(*blocks[-2:])
        return gradient

    def _moment_pair_gradient(self, dl_dmoment, weight, slope, direction) -> torch.Tensor:
        """Gradient with respect to the pair vectors of L through moments
        m = sum_pairs w(r) f(u), f(u) = u or the scaled outer product u u^T, given
        dL/dm gathered per pair (M, P, n, X) and w, dw/dr (P, n)."""
        projected = (dl_dmoment * direction[:, None, :]).sum(-1)  # dL/dm . f(u): (M, P, n)
        radial_part = (projected * slope).sum(-1)[..., None] * self.unit
        along = (dl_dmoment * weight[..., None]).sum(-2)  # sum_n w_n dL/dm_n: (M, P, X)
        if direction.shape[-1] == 3:  # d u / d v = (I - u u^T) / r
            tangential = along - (along * self.unit).sum(-1, keepdim=True) * self.unit
        else:  # d(u^T S u)/dv = 2 (I - u u^T) S u / r for the symmetric S of ``along``
            s_u = _symmetric_matrix_times(along, self.unit)
            tangential = 2.0 * (s_u - (s_u * self.unit).sum(-1, keepdim=True) * self.unit)
        return radial_part + tangential / self.r[:, None]

    def _chiral_pair_gradient(self, squares: torch.Tensor, products: torch.Tensor) -> torch.Tensor:
        """The chiral blocks' part: features chi_k^2 and chi_k sum_j g_b(r_ij) chi_j,k."""
        batch, chiral = self.batch, self.chiral
        num_members, num_atoms = squares.shape[:2]
        products = products.reshape(num_members, num_atoms, *self.neighbour_chiral.shape[1:])
        weighted = products * chiral[:, None, :]  # dL/dN_i,b,k: (M, A, n, K)
        dl_dchi = 2.0 * squares * chiral + (products * self.neighbour_chiral).sum(2)
        seen_by = weighted[:, batch.pair_i]  # (M, P, n, K)
        dl_dchi = dl_dchi.index_add(
            1, batch.pair_j, (seen_by * self.pair_gauss[:, :, None]).sum(2)
        )  # atom j's chi enters the neighbour sums of every i that sees it
        dl_dr = ((seen_by * self.pair_slope[:, :, None]).sum(2) * chiral[batch.pair_j]).sum(-1)
        gradient = dl_dr[..., None] * self.unit
        # d det[a, b, c] / d a = b x c, and cyclically
        moments = self.chiral_moments
        dl_dmoment = torch.zeros(
            num_members, num_atoms, moments.shape[1], 3, dtype=chiral.dtype, device=chiral.device
        )
        a, b, c = (self.triples[:, k] for k in range(3))
        for first, second, third in ((a, b, c), (b, c, a), (c, a, b)):
            cross = torch.linalg.cross(moments[:, second], moments[:, third])  # (A, K, 3)
            dl_dmoment.index_add_(2, first, dl_dchi[..., None] * cross)
        return gradient + self._moment_pair_gradient(
            dl_dmoment[:, batch.pair_i], self.chiral_weights, self.chiral_slopes, self.unit
        )


def _sum_rows(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Sum ``values`` (P, ...) into ``size`` rows by ``index`` (P,)."""
    out = torch.zeros(size, *values.shape[1:], dtype=values.dtype, device=values.device)
    return out.index_add_(0, index, values)


def _symmetric_matrix_times(packed: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """S u for symmetric S packed as (xx, yy, zz, √2 xy, √2 xz, √2 yz) (M, P, 6), u (P, 3).

    The packing makes packed . f(u) = u^T S u with S_xy = packed_xy / √2."""
    xx, yy, zz, xy, xz, yz = packed.unbind(-1)
    xy, xz, yz = (t / 2.0**0.5 for t in (xy, xz, yz))
    x, y, z = unit.unbind(-1)
    return torch.stack(
        [xx * x + xy * y + xz * z, xy * x + yy * y + yz * z, xz * x + yz * y + zz * z], -1
    )


def _symmetric_outer(unit: torch.Tensor) -> torch.Tensor:
    """The six independent components of u u^T, off-diagonals scaled by sqrt 2 so that
    their dot product is the Frobenius product: (..., P, 3) -> (..., P, 6)."""
    x, y, z = unit.unbind(-1)
    root2 = 2.0**0.5
    return torch.stack([x * x, y * y, z * z, root2 * x * y, root2 * x * z, root2 * y * z], -1)
