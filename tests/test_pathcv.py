"""Path CVs: superposition, analytic gradients against finite differences, s from 0 to
1 across the images, invariance to rigid motion, even resampling and a kinked path."""

import numpy as np
import pytest

from mlpmf.pathcv import PathCV, image_distances, msd_and_gradient, path_cvs, resample, superpose


def rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def molecule(rng, n=6) -> np.ndarray:
    return rng.normal(scale=1.2, size=(n, 3))


def linear_path(rng, count=10, n=6):
    start = molecule(rng, n)
    end = start + rng.normal(scale=0.5, size=start.shape)
    return resample(np.array([start, end]), count)


def test_superposition_finds_a_rotation_but_never_a_reflection():
    rng = np.random.default_rng(1)
    reference = molecule(rng)
    moved = reference @ rotation(rng).T + np.array([1.0, -2.0, 0.5])
    msd, _ = msd_and_gradient(moved, reference)
    assert msd == pytest.approx(0.0, abs=1e-20)
    rotated, _ = superpose(moved, reference)
    assert np.linalg.det(rotated) == pytest.approx(1.0)
    mirror = reference * np.array([-1.0, 1.0, 1.0])  # a chiral set of points' mirror image
    assert msd_and_gradient(mirror, reference)[0] > 0.01
    assert msd_and_gradient(mirror, reference, align=False)[0] > 0.01


@pytest.mark.parametrize("component", ["progress", "distance"])
@pytest.mark.parametrize("align", [True, False])
def test_path_cv_gradients_match_finite_differences(component, align):
    rng = np.random.default_rng(2)
    images = linear_path(rng, count=8, n=5)
    atoms = (0, 2, 3, 5, 6)  # path atoms among 8; atoms 1, 4 and 7 do not enter
    cv = PathCV(atoms, images, component, align=align)
    positions = rng.normal(scale=1.0, size=(8, 3))
    positions[list(atoms)] = images[3] + rng.normal(scale=0.05, size=images[3].shape)
    gradient = cv.gradient(positions)
    step = 1e-6
    numeric = np.zeros_like(positions)
    for k in range(len(positions)):
        for i in range(3):
            shifted = positions.copy()
            shifted[k, i] += step
            up = cv.value(shifted)
            shifted[k, i] -= 2 * step
            numeric[k, i] = (up - cv.value(shifted)) / (2 * step)
    assert np.abs(gradient - numeric).max() < 1e-6 * max(1.0, np.abs(numeric).max())
    assert np.all(gradient[[1, 4, 7]] == 0.0)


def test_s_runs_from_0_to_1_across_evenly_spaced_images_and_z_is_near_0_on_them():
    rng = np.random.default_rng(3)
    images = linear_path(rng, count=11)
    progress, distance = path_cvs(range(6), images)
    s = np.array([progress.value(image) for image in images])
    z = np.array([distance.value(image) for image in images])
    spacing = image_distances(images).mean()
    assert s[0] < 0.02 and s[-1] > 0.98 and np.all(np.diff(s) > 0)
    # inside, the neighbours' weights balance: s is the image's index / (M - 1)
    assert np.abs(s[1:-1] - np.linspace(0, 1, 11)[1:-1]).max() < 1e-3
    assert np.all(np.abs(z) < 0.1 * spacing)  # -ln(1 + 2 e^-2.3) / lambda at most


def test_path_cvs_do_not_see_rigid_motion_and_batches_give_each_replica_its_own():
    rng = np.random.default_rng(4)
    images = linear_path(rng)
    progress, distance = path_cvs(range(6), images)
    between = 0.5 * (images[4] + images[5]) + rng.normal(scale=0.1, size=images[4].shape)
    moved = between @ rotation(rng).T + 3.0
    for cv in (progress, distance):
        assert cv.value(moved) == pytest.approx(cv.value(between), abs=1e-10)
    batch = np.array([between, moved, images[0]])
    assert progress.values(batch) == pytest.approx(
        [progress.value(between), progress.value(moved), progress.value(images[0])]
    )
    assert progress.gradients(batch)[2] == pytest.approx(progress.gradient(images[0]))


def test_z_grows_as_the_square_of_the_distance_from_the_path():
    rng = np.random.default_rng(5)
    images = linear_path(rng, count=9)
    _, distance = path_cvs(range(6), images, align=False)
    off = rng.normal(size=images[4].shape)
    along = images[5] - images[3]
    off -= (off * along).sum() / (along * along).sum() * along  # perpendicular to the path
    off /= np.sqrt((off**2).sum(axis=1).mean())  # MSD 1 Å^2
    z = [distance.value(images[4] + h * off) for h in (0.0, 0.2, 0.4)]
    assert z[1] - z[0] == pytest.approx(0.04, rel=0.05)  # h^2 Å^2: MSD of the offset
    assert z[2] - z[0] == pytest.approx(0.16, rel=0.05)


def test_a_kinked_path_is_resampled_evenly_and_s_keeps_rising_round_the_kink():
    rng = np.random.default_rng(6)
    corner = molecule(rng)
    first, second = np.zeros_like(corner), np.zeros_like(corner)
    first[0, 0], second[1, 1] = 1.0, 3.0  # a short leg, then a long one at right angles
    kinked = np.array([corner - first, corner, corner + second])
    images = resample(kinked, 12, align=False)
    steps = np.sqrt(image_distances(images, align=False))
    # equal steps along the path: the one chord across the corner is shorter, by at
    # most the right angle's 1/sqrt(2)
    corner_step = np.argmin(steps)
    assert np.allclose(np.delete(steps, corner_step), steps.max(), rtol=1e-9)
    assert steps[corner_step] >= steps.max() / np.sqrt(2) - 1e-12
    assert np.allclose(images[0], kinked[0]) and np.allclose(images[-1], kinked[-1])
    progress = PathCV(tuple(range(6)), images, align=False)
    walk = resample(kinked, 60, align=False)  # finer points along the same kinked path
    s = progress.values(walk)
    assert np.all(np.diff(s) > 0) and s[0] < 0.02 and s[-1] > 0.98


def test_bad_images_are_named():
    with pytest.raises(ValueError, match="path images"):
        PathCV((0, 1), np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="path images"):
        PathCV((0, 1, 2), np.zeros((4, 2, 3)))
    with pytest.raises(ValueError, match="component"):
        PathCV((0, 1), np.ones((2, 2, 3)), "sideways")


def test_a_path_cv_from_its_settings_follows_a_bond_through_images_in_a_file(tmp_path):
    """A dimer stretched through five images: with superposition s follows the bond
    length alone, 0 at the first image and 1 at the last, whatever the dimer's
    orientation; the images' file must fit the structure."""
    from ase import Atoms
    from ase.io import write

    from mlpmf.cvsettings import make_colvar

    lengths = np.linspace(2.5, 3.9, 5)
    images = [Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]]) for r in lengths]
    write(tmp_path / "path.extxyz", images)
    settings = {"kind": "path", "atoms": [0, 1], "images": str(tmp_path / "path.extxyz")}
    cv = make_colvar(settings, images[0])
    assert cv.unit == "" and cv.period is None
    tilted = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]) + np.array([[0, 0, 0], [1, 1, 1]])
    tilted[1] = tilted[0] + 3.2 * np.array([1.0, 1.0, 1.0]) / np.sqrt(3)
    along = [cv.value(np.array([[0, 0, 0], [r, 0, 0]])) for r in np.linspace(2.5, 3.9, 15)]
    assert np.all(np.diff(along) > 0) and along[0] < 0.1 / 4 and along[-1] > 1 - 0.1 / 4
    assert cv.value(tilted) == pytest.approx(cv.value(np.array([[0, 0, 0], [3.2, 0, 0]])))
    with pytest.raises(ValueError, match="collective_variable.images: .* of \\[2\\] atoms"):
        make_colvar(settings, Atoms("Ar3", positions=[[0, 0, 0], [3, 0, 0], [6, 0, 0]]))
    evenly = make_colvar({**settings, "resample_images": 3}, images[0])
    assert len(evenly.images) == 3


def test_an_upper_wall_on_z_pushes_back_only_beyond_it_and_keeps_md_near_the_path():
    """Forces are minus the gradient of the wall energy (finite differences), zero below
    the wall; a free atom diffusing at 300 K off a straight path stays within a few
    kT of the wall's energy of it."""
    from ase import Atoms

    from mlpmf.dynamics import LangevinSettings, integrate, walled
    from mlpmf.pathcv import UpperWall

    images = np.array([[[0.0, 0.0, 0.0]], [[3.0, 0.0, 0.0]]])
    images = resample(images, 7, align=False)
    _, distance = path_cvs([0], images, align=False)
    wall = UpperWall(distance, 0.25, 500.0)
    inside, outside = np.array([[1.5, 0.3, 0.0]]), np.array([[1.5, 0.9, 0.4]])
    assert np.all(wall.forces(inside) == 0.0) and wall.energies(inside) == 0.0
    step, numeric = 1e-6, np.zeros(3)
    for i in range(3):
        shifted = outside.copy()
        shifted[0, i] += step
        up = wall.energies(shifted)
        shifted[0, i] -= 2 * step
        numeric[i] = -(up - wall.energies(shifted)) / (2 * step)
    assert wall.forces(outside)[0] == pytest.approx(numeric, rel=1e-6)

    def free(structures, with_disagreement=True):
        return [{"forces": np.zeros((1, 3)), "energy": 0.0} for _ in structures]

    atoms = [Atoms("Ar", positions=[[1.5, 0.0, 0.0]]) for _ in range(4)]
    z = []
    integrate(
        atoms, LangevinSettings(300.0, 5.0, 0.05), 4000,
        [np.random.default_rng(k) for k in range(4)], [None] * 4, walled(free, wall),
    )  # fmt: skip
    for replica in atoms:
        z.append(distance.value(replica.positions))
    kt_ev = 8.617333e-5 * 300.0
    allowed = 0.25 + 4 * np.sqrt(kt_ev / (500.0 / 96.485))  # 4 sigma past the wall
    # (without it a free atom drifts several Å off the path in these 20 ps)
    assert max(z) < allowed
    assert walled(free, None) is free
