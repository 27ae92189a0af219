r"""Atom-centred descriptors: Gaussian radial, ANI angular (three-body) and chiral terms.

All terms are smooth functions of the neighbour vectors :math:`\mathbf r_{ij}` inside
cosine cutoffs :math:`f_c(r) = \tfrac12(\cos(\pi r/r_c) + 1)`, written in torch (so
autograd can check them). Forces do not go through autograd: :class:`DescriptorValues`
writes out the vector-Jacobian product block by block, which maps M models' energy
gradients dE/dG to M force fields at once, costs about one descriptor evaluation, and
lets training differentiate forces with respect to the weights without a second
backward pass through the descriptor.

**Radial**, per neighbour element *s* and Gaussian *b*:
:math:`G_{i,sb} = \sum_{j\in s} g_b(r_{ij})`, with
:math:`g_b(r) = \exp(-(r-\mu_b)^2 / 2\sigma^2) f_c(r)`, centres evenly spaced on
:math:`[r_\mathrm{min}, r_c]` and :math:`\sigma` their spacing.

**Angular**, the angular symmetry functions of ANI (Smith, Isayev & Roitberg, Chem. Sci.
8, 3192 (2017), eq. 4; torchani's ``ANIAngular``), per unordered pair of neighbour
elements :math:`(s, s')`, radial shift :math:`R_a` and angle section :math:`\theta_b`:

.. math:: G_{i,ss'ab} = 2 \sum_{j<k} \Bigl(\frac{1 + \cos(\theta_{ijk} - \theta_b)}{2}
   \Bigr)^{\zeta} \exp\Bigl(-\eta\bigl(\tfrac{r_{ij} + r_{ik}}{2} - R_a\bigr)^2\Bigr)
   f_c(r_{ij}) f_c(r_{ik})

over pairs of neighbours j of element s and k of element s' (either order) within the
angular cutoff, with :math:`\theta_{ijk} = \arccos(0.95\cos\angle jik)` (ANI's factor
keeps the arccos differentiable at 0 and π). A large ζ resolves bond angles sharply per
element pair: the moments of one neighbour-angle distribution cannot.

**Chiral**: the signed volumes :math:`\chi_{i,abc} = \det[\mathbf v_a, \mathbf v_b,
\mathbf v_c]` of the vector moments :math:`\mathbf v_{i,a} = \sum_j w_a(j)
\hat{\mathbf r}_{ij}` of distinct channels *a* (distance Gaussians, unweighted and
weighted by atomic number), i.e. :math:`\sum_{jkl} w_a(j) w_b(k) w_c(l)\,
\hat{\mathbf r}_{ij}\cdot(\hat{\mathbf r}_{ik}\times\hat{\mathbf r}_{il})`. They are
pseudoscalars: a reflection flips their sign, and they vanish in any environment with a
mirror plane. The model sees them only through parity-even products — the squares
:math:`\chi_{i,k}^2` and the radially resolved neighbour products
:math:`\chi_{i,k}\sum_j g_b(r_{ij})\chi_{j,k}` — so the mirror image of an isolated
system has exactly the same energy, while the relative handedness of neighbouring
chiral centres (diastereomers) changes the energy, which no distance or angle
descriptor can see.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations

import torch
from ase import Atoms

from mlpmf.neighbours import PairBatch, angular_triples, neighbour_pairs

ANI_ANGLE_SCALE = 0.95  # cos θ is scaled by this before the arccos (ANI's choice)


@dataclass(frozen=True)
class Descriptor:
    """Descriptor settings, and the descriptor as a function of pair vectors.

    The defaults are ANI-1x's angular terms (:meth:`like_ani1x`) beside 16 radial
    Gaussians per element up to 5.2 Å.
    """

    species: tuple[int, ...]  # atomic numbers, in feature order
    num_radial: int = 16  # Gaussians per neighbour element
    cutoff_a: float = 5.2  # Å, of the radial and chiral terms
    r_min_a: float = 0.9  # Å, first radial centre and first angular shift
    angular_cutoff_a: float = 3.5  # Å
    num_angular_shifts: int = 4  # radial shifts R_a of the mean neighbour distance
    num_angular_sections: int = 8  # angle sections θ_b (0: no angular terms)
    angular_zeta: float = 32.0  # angular sharpness ζ
    angular_eta_per_a2: float = 8.0  # 1/Å², width of the radial shifts
    num_chiral: int = 0  # Gaussians in the chiral moments (0: no chiral channel)

    @classmethod
    def like_ani1x(cls, species: Sequence[int], num_chiral: int = 0) -> "Descriptor":
        """ANI-1x's angular terms (3.5 Å, 4 shifts x 8 sections, ζ = 32, η = 8/Å²)."""
        return cls(tuple(species), num_chiral=num_chiral)

    @property
    def num_element_pairs(self) -> int:
        return len(self.species) * (len(self.species) + 1) // 2

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
        """Widths of the feature blocks, in order: radial; angular; chiral squares and
        neighbour products (the blocks switched on)."""
        sizes = [len(self.species) * self.num_radial]
        if self.num_angular_sections:
            sizes.append(
                self.num_element_pairs * self.num_angular_shifts * self.num_angular_sections
            )
        if self.num_chiral:
            sizes += [self.num_chiral_triples, self.num_chiral_triples * self.num_chiral]
        return sizes

    @property
    def num_centre_features(self) -> int:
        """The leading feature columns of an atom that depend only on the pairs it is
        the centre of (radial, angular, chiral squares); the rest, the chiral neighbour
        products, also see the neighbours' own neighbours."""
        return self.num_features - (self.num_chiral_triples * self.num_chiral)

    def gaussians(self, r: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` cut-off Gaussians of distances ``r`` (P,) and their derivatives in r,
        each (P, count)."""
        centers = torch.linspace(self.r_min_a, self.cutoff_a, count, dtype=r.dtype, device=r.device)
        sigma = (self.cutoff_a - self.r_min_a) / max(count - 1, 1)
        u = (r[:, None] - centers) / sigma
        gauss = torch.exp(-0.5 * u * u)
        cutoff, dcutoff = cosine_cutoff(r, self.cutoff_a)
        return gauss * cutoff[:, None], gauss * (dcutoff[:, None] - u / sigma * cutoff[:, None])

    def angular_shifts(self, like: torch.Tensor) -> torch.Tensor:
        """R_a, Å: evenly spaced from r_min_a, the last one spacing short of the cutoff."""
        spacing = (self.angular_cutoff_a - self.r_min_a) / self.num_angular_shifts
        steps = torch.arange(self.num_angular_shifts, dtype=like.dtype, device=like.device)
        return self.r_min_a + spacing * steps

    def angular_sections(self, like: torch.Tensor) -> torch.Tensor:
        """θ_b, radians: the centres of num_angular_sections equal sections of [0, π]."""
        steps = torch.arange(self.num_angular_sections, dtype=like.dtype, device=like.device)
        return math.pi * (steps + 0.5) / self.num_angular_sections

    def pairs(self, structures: Sequence[Atoms], dtype=torch.float64) -> PairBatch:
        """The neighbour pairs of ``structures`` within this descriptor's cutoff."""
        return neighbour_pairs(structures, self.species, self.cutoff_a, dtype)

    def evaluate(self, batch: PairBatch) -> "DescriptorValues":
        """The descriptor of every atom of ``batch``, with what its gradient needs."""
        return DescriptorValues(self, batch)

    def features(self, batch: PairBatch) -> torch.Tensor:
        """Descriptor matrix (A, num_features); differentiable in ``batch.vectors``."""
        return DescriptorValues(self, batch).features

    def signed_volumes(self, batch: PairBatch) -> torch.Tensor:
        """The raw pseudoscalars χ (A, K) of the chiral channel (parity-odd)."""
        return DescriptorValues(self, batch).chiral


def cosine_cutoff(r: torch.Tensor, cutoff_a: float) -> tuple[torch.Tensor, torch.Tensor]:
    """f_c(r) and df_c/dr, both shaped like ``r``."""
    inside = r < cutoff_a
    phase = torch.pi * r.clamp(max=cutoff_a) / cutoff_a
    zero = torch.zeros_like(r)
    value = torch.where(inside, 0.5 * (torch.cos(phase) + 1.0), zero)
    slope = torch.where(inside, -0.5 * torch.pi / cutoff_a * torch.sin(phase), zero)
    return value, slope


def pair_batch(
    structures: Sequence[Atoms], descriptor: Descriptor, dtype: torch.dtype = torch.float64
) -> PairBatch:
    """Neighbour pairs within the descriptor's cutoff (periodic images included)."""
    return descriptor.pairs(structures, dtype)


class DescriptorValues:
    """Descriptors of a batch, and their exact vector-Jacobian product.

    :meth:`pair_gradient` maps dL/dG (M, A, F) — e.g. M committee members' energy
    gradients — to dL/d(pair vector) (M, P, 3) by the chain rule written out block by
    block (module docstring), without building an autograd graph through the
    descriptor. It is linear in dL/dG, so training differentiates through it with
    respect to the model's parameters cheaply, and the values cached here never change
    for a fixed geometry.
    """

    def __init__(self, descriptor: Descriptor, batch: PairBatch):
        self.descriptor = d = descriptor
        self.batch = batch
        num_atoms, num_species = batch.num_atoms, len(d.species)
        self.r = torch.linalg.norm(batch.vectors, dim=-1)  # (P,)
        self.unit = batch.vectors / self.r[:, None]
        neighbour_species = batch.species_index[batch.pair_j]
        self.slot = batch.pair_i * num_species + neighbour_species  # (atom, element) rows
        self.radial, self.radial_slope = d.gaussians(self.r, d.num_radial)
        parts = [_sum_rows(self.radial, self.slot, num_atoms * num_species).reshape(num_atoms, -1)]
        if d.num_angular_sections:
            parts.append(self._angular_terms())
        if d.num_chiral:
            parts += self._chiral_terms(neighbour_species)
        self.features = torch.cat(parts, dim=-1)

    # What :meth:`concatenate` does with each cached tensor: stack it along atoms, pairs
    # or triples, and shift the index values it holds (into atoms, atom slots or pairs).
    _ATOM_ROWS = ("features", "chiral", "chiral_moments", "neighbour_chiral")
    _PAIR_ROWS = (
        "r", "unit", "radial", "radial_slope", "chiral_weights", "chiral_slopes",
        "pair_gauss", "pair_slope",
    )  # fmt: skip
    _TRIPLE_ROWS = (
        "cos", "cut_j", "cut_k", "cut_slope_j", "cut_slope_k", "shift_terms",
        "shift_slopes", "dtheta_dcos", "section_pair",
    )  # fmt: skip

    @classmethod
    def concatenate(cls, parts: Sequence["DescriptorValues"]) -> "DescriptorValues":
        """The values of several batches as one batch (structures in order), without
        evaluating anything again: training draws new mini-batches every epoch from
        the values of single frames."""
        d = parts[0].descriptor
        merged = cls.__new__(cls)
        merged.descriptor = d
        atoms = torch.tensor([0] + [p.batch.num_atoms for p in parts[:-1]]).cumsum(0)
        pairs = torch.tensor([0] + [len(p.r) for p in parts[:-1]]).cumsum(0)
        structures = torch.tensor([0] + [p.batch.num_structures for p in parts[:-1]]).cumsum(0)
        first = parts[0].batch
        device = first.pair_i.device
        atoms, pairs, structures = atoms.to(device), pairs.to(device), structures.to(device)

        def joined(name, offsets=None, scale=1):
            values = [getattr(p, name) for p in parts]
            if offsets is not None:
                values = [v + scale * o for v, o in zip(values, offsets, strict=True)]
            return torch.cat(values)

        merged.batch = PairBatch(
            species_index=torch.cat([p.batch.species_index for p in parts]),
            structure_index=torch.cat(
                [p.batch.structure_index + o for p, o in zip(parts, structures, strict=True)]
            ),
            num_structures=int(sum(p.batch.num_structures for p in parts)),
            pair_i=torch.cat([p.batch.pair_i + o for p, o in zip(parts, atoms, strict=True)]),
            pair_j=torch.cat([p.batch.pair_j + o for p, o in zip(parts, atoms, strict=True)]),
            vectors=torch.cat([p.batch.vectors for p in parts]),
        )
        merged.slot = joined("slot", atoms, len(d.species))
        for name in cls._ATOM_ROWS + cls._PAIR_ROWS + cls._TRIPLE_ROWS:
            if hasattr(parts[0], name):
                setattr(merged, name, joined(name))
        if d.num_angular_sections:
            merged.triple_j = joined("triple_j", pairs)
            merged.triple_k = joined("triple_k", pairs)
            merged.triple_slot = joined("triple_slot", atoms, d.num_element_pairs)
        if d.num_chiral:
            merged.triples = parts[0].triples
        return merged

    def _angular_terms(self) -> torch.Tensor:
        """The ANI angular block (A, element pairs x shifts x sections)."""
        d, batch = self.descriptor, self.batch
        self.triple_j, self.triple_k = angular_triples(
            batch.pair_i, self.r < d.angular_cutoff_a, batch.num_atoms
        )
        r_j, r_k = self.r[self.triple_j], self.r[self.triple_k]
        u_j, u_k = self.unit[self.triple_j], self.unit[self.triple_k]
        self.cos = (u_j * u_k).sum(-1)
        cut_j, self.cut_slope_j = cosine_cutoff(r_j, d.angular_cutoff_a)
        cut_k, self.cut_slope_k = cosine_cutoff(r_k, d.angular_cutoff_a)
        self.cut_j, self.cut_k = cut_j, cut_k
        distance = 0.5 * (r_j + r_k)[:, None] - d.angular_shifts(r_j)
        self.shift_terms = torch.exp(-d.angular_eta_per_a2 * distance * distance)  # (T, a)
        self.shift_slopes = -2.0 * d.angular_eta_per_a2 * distance * self.shift_terms
        # theta = acos(0.95 cos) without trigonometry per section: cos and sin of
        # theta - theta_b from those of theta and of the (constant) section centres.
        cos_theta = (ANI_ANGLE_SCALE * self.cos)[:, None]
        sin_theta = torch.sqrt(1.0 - cos_theta * cos_theta)
        self.dtheta_dcos = -ANI_ANGLE_SCALE / sin_theta[:, 0]
        sections = d.angular_sections(r_j)
        cos_b, sin_b = torch.cos(sections), torch.sin(sections)
        half = 0.5 * (1.0 + cos_theta * cos_b + sin_theta * sin_b)  # (1 + cos(theta - theta_b))/2
        sin_deviation = sin_theta * cos_b - cos_theta * sin_b
        power = half ** (d.angular_zeta - 1)
        section_terms = 2.0 * power * half  # (T, b)
        section_slopes = -d.angular_zeta * power * sin_deviation
        self.section_pair = torch.stack([section_terms, section_slopes], dim=-1)  # (T, b, 2)
        species = self.batch.species_index
        element_j = species[batch.pair_j[self.triple_j]]
        element_k = species[batch.pair_j[self.triple_k]]
        num_species = len(d.species)
        upper = torch.triu_indices(num_species, num_species, device=r_j.device)
        pair_type = torch.zeros(num_species, num_species, dtype=torch.int64, device=r_j.device)
        pair_type[upper[0], upper[1]] = torch.arange(upper.shape[1], device=r_j.device)
        pair_type = torch.maximum(pair_type, pair_type.T)
        centre = batch.pair_i[self.triple_j]
        self.triple_slot = centre * d.num_element_pairs + pair_type[element_j, element_k]
        terms = (
            self.shift_terms[:, :, None]
            * section_terms[:, None, :]
            * (cut_j * cut_k)[:, None, None]
        )
        sums = _sum_rows(
            terms.reshape(len(centre), d.num_angular_shifts * d.num_angular_sections),
            self.triple_slot,
            batch.num_atoms * d.num_element_pairs,
        )
        return sums.reshape(batch.num_atoms, -1)

    def _chiral_terms(self, neighbour_species: torch.Tensor) -> list[torch.Tensor]:
        """The chiral squares (A, K) and neighbour products (A, n K)."""
        d, batch = self.descriptor, self.batch
        num_atoms = batch.num_atoms
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
        return [self.chiral * self.chiral, products.reshape(num_atoms, -1)]

    def pair_gradient(self, cotangent: torch.Tensor) -> torch.Tensor:
        """dL/d(pair vector) (M, P, 3) from dL/dG (M, A, F)."""
        d = self.descriptor
        num_members = cotangent.shape[0]
        blocks = torch.split(cotangent, d.block_sizes(), dim=-1)
        radial = blocks[0].reshape(num_members, -1, d.num_radial)
        dl_dr = (radial[:, self.slot] * self.radial_slope).sum(-1)
        gradient = dl_dr[..., None] * self.unit  # (M, P, 3)
        if d.num_angular_sections:
            gradient = gradient + self._angular_pair_gradient(blocks[1])
        if d.num_chiral:
            gradient = gradient + self._chiral_pair_gradient(*blocks[-2:])
        return gradient

    def _angular_pair_gradient(self, block: torch.Tensor) -> torch.Tensor:
        """The angular block's part, through each triple's two pair vectors:
        d cos/d v_j = (u_k - cos u_j) / r_j, d r_j / d v_j = u_j."""
        d = self.descriptor
        num_members, num_triples = block.shape[0], len(self.cos)
        shifts, sections = d.num_angular_shifts, d.num_angular_sections
        # One gather of each triple's rows, laid out (T, M x shifts, sections), and one
        # batched product with the section terms and their slopes: the contraction
        # over sections, then the (small) one over shifts.
        rows = block.reshape(num_members, -1, shifts * sections).transpose(0, 1).contiguous()
        per_triple = rows.index_select(0, self.triple_slot).view(
            num_triples, num_members * shifts, sections
        )
        contracted = torch.bmm(per_triple, self.section_pair).view(
            num_triples, num_members, shifts, 2
        )  # (T, M, a, [terms, slopes])
        by_shift, by_slope = contracted[..., 0], contracted[..., 1]
        cut = (self.cut_j * self.cut_k)[:, None]
        total = (by_shift * self.shift_terms[:, None, :]).sum(-1).T  # dL/d(f_c(r_j) f_c(r_k))
        dl_dmean = (cut * (by_shift * self.shift_slopes[:, None, :]).sum(-1)).T
        dl_dcos = (
            cut * (by_slope * self.shift_terms[:, None, :]).sum(-1) * self.dtheta_dcos[:, None]
        ).T
        u_j, u_k = self.unit[self.triple_j], self.unit[self.triple_k]
        r_j, r_k = self.r[self.triple_j], self.r[self.triple_k]
        dl_dr_j = 0.5 * dl_dmean + total * self.cut_k * self.cut_slope_j
        dl_dr_k = 0.5 * dl_dmean + total * self.cut_j * self.cut_slope_k
        cos = self.cos[:, None]
        along_j = dl_dcos[..., None] * ((u_k - cos * u_j) / r_j[:, None])
        along_k = dl_dcos[..., None] * ((u_j - cos * u_k) / r_k[:, None])
        gradient = torch.zeros(num_members, len(self.r), 3, dtype=block.dtype, device=block.device)
        gradient = gradient.index_add(1, self.triple_j, dl_dr_j[..., None] * u_j + along_j)
        return gradient.index_add(1, self.triple_k, dl_dr_k[..., None] * u_k + along_k)

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
        per_pair = dl_dmoment[:, batch.pair_i]  # (M, P, n, 3): dL/dv of each pair's centre
        # v = sum_pairs w(r) u: dv/d(vector) = w' u u^T + w (I - u u^T) / r
        projected = (per_pair * self.unit[:, None, :]).sum(-1)  # (M, P, n)
        radial_part = (projected * self.chiral_slopes).sum(-1)[..., None] * self.unit
        along = (per_pair * self.chiral_weights[..., None]).sum(-2)  # (M, P, 3)
        tangential = along - (along * self.unit).sum(-1, keepdim=True) * self.unit
        return gradient + radial_part + tangential / self.r[:, None]


def _sum_rows(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Sum ``values`` (P, ...) into ``size`` rows by ``index`` (P,)."""
    out = torch.zeros(size, *values.shape[1:], dtype=values.dtype, device=values.device)
    return out.index_add_(0, index, values)
