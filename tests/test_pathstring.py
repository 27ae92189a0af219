"""The finite-temperature string's update of a path's images: superposition, a path
that the windows' means already lie on stays put, a bent valley is found from a
straight start, rigid motions of the means change nothing."""

import numpy as np
import pytest

from mlpmf.pathcv import resample
from mlpmf.pathstring import (
    MeanConfigurations,
    displacement,
    image_noise,
    interpolated,
    settled,
    superposed,
    superposed_mean,
    targets,
    updated_path,
)


def rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def moved_rigidly(rng, positions):
    return positions @ rotation(rng).T + rng.normal(size=3)


def straight_path(rng, count=11, n=6):
    start = rng.normal(scale=1.2, size=(n, 3))
    end = start + rng.normal(scale=0.5, size=start.shape)
    return resample(np.array([start, end]), count)


def test_superposed_frames_lie_on_the_reference_and_their_mean_is_the_centre_of_the_tube():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(7, 3))
    noise = rng.normal(scale=0.05, size=(400, 7, 3))
    frames = np.array([moved_rigidly(rng, reference + dx) for dx in noise])
    assert np.allclose(superposed(moved_rigidly(rng, reference), reference), reference)
    mean = superposed_mean(frames, reference)
    # 400 frames of noise 0.05 Å per coordinate: the mean within 4 standard errors
    assert np.abs(mean - reference).max() < 4 * 0.05 / np.sqrt(400) * 1.5
    assert np.abs(superposed_mean(frames, reference, align=False) - reference).max() > 0.3


def test_a_path_through_the_windows_means_does_not_move():
    rng = np.random.default_rng(5)
    images = straight_path(rng)
    centres = np.linspace(0.04, 0.96, 18)
    means = np.array([moved_rigidly(rng, interpolated(images, c)) for c in centres])
    new = updated_path(images, centres, means)
    assert displacement(images, new).max() < 1e-9


def test_images_beyond_the_windows_keep_their_place():
    rng = np.random.default_rng(7)
    images = straight_path(rng)
    centres = np.linspace(0.25, 0.75, 6)
    means = np.array([interpolated(images, c) + 0.3 for c in centres])
    goal, reached = targets(images, centres, means, align=False)
    s = np.arange(len(images)) / (len(images) - 1)
    assert np.array_equal(reached, (s >= 0.25) & (s <= 0.75))
    assert np.allclose(goal[~reached], images[~reached])
    assert np.allclose(goal[reached], images[reached] + 0.3)


def valley_mean(point: np.ndarray) -> np.ndarray:
    """Where a tube round ``point`` of the path holds its weight in a bent valley
    y = 1 - x^2 (a narrow one: the mean sits on the valley's floor at the same x)."""
    x = point[0, 0]
    return np.array([[x, 1.0 - x**2, 0.0]])


def test_a_straight_start_finds_a_bent_valley_and_stops_moving():
    start = np.array([[[-1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]]])
    images = resample(start, 11, align=False)  # the 0 K chord between the basins
    centres = np.linspace(0.1, 0.9, 17)
    moves = []
    for _ in range(40):
        means = np.array([valley_mean(interpolated(images, c, align=False)) for c in centres])
        new = updated_path(images, centres, means, step=1.0, smoothing=0.1, align=False)
        moves.append(displacement(images, new, align=False).max())
        images = new
    floor = 1.0 - images[1:-1, 0, 0] ** 2
    # the interior on the valley's floor within what the smoothing bends it by
    assert np.abs(images[1:-1, 0, 1] - floor).max() < 0.05
    assert images[5, 0, 1] > 0.9  # the middle climbed from the chord (y 0) to the top
    assert moves[-1] < 1e-3 < moves[0]
    steps = np.linalg.norm(np.diff(images[:, 0], axis=0), axis=1)
    assert steps.std() / steps.mean() < 0.05  # still evenly placed


def test_rigid_motions_of_the_means_change_nothing():
    rng = np.random.default_rng(11)
    images = straight_path(rng)
    centres = np.linspace(0.04, 0.96, 12)
    bend = np.zeros_like(images[0])
    bend[0] = [0.3, 0.0, 0.0]  # one atom pulled off the chord: not a rigid motion
    bent = np.array([interpolated(images, c) + np.sin(np.pi * c) * bend for c in centres])
    turned = np.array([moved_rigidly(rng, mean) for mean in bent])
    one, two = updated_path(images, centres, bent), updated_path(images, centres, turned)
    assert np.allclose(one, two, atol=1e-9)
    assert displacement(images, one).max() > 0.05


def test_a_path_too_short_or_too_few_windows_is_refused():
    rng = np.random.default_rng(13)
    images = straight_path(rng, count=3)
    with pytest.raises(ValueError, match="at least 4 images"):
        updated_path(images, np.array([0.2, 0.8]), images[:2])
    with pytest.raises(ValueError, match="at least 2 windows"):
        updated_path(straight_path(rng), np.array([0.5]), images[:1])


def test_the_two_halves_of_a_window_measure_the_noise_of_its_mean():
    """Frames of n atoms scattered by sigma per coordinate, each moved rigidly: their
    superposed mean is off by an RMSD of sqrt(3) sigma / sqrt(N) times sqrt((3n-6)/3n)
    (superposition takes the rigid part of the scatter out); the halves' estimate
    recovers it (50 windows: within 10%)."""
    from ase import Atoms

    rng = np.random.default_rng(17)
    sigma, frames, windows, n = 0.1, 200, 50, 8
    reference = rng.normal(scale=1.5, size=(n, 3))
    gathered = MeanConfigurations(range(n), [reference] * windows, n, frames // 2)
    for k in range(windows):
        for dx in rng.normal(scale=sigma, size=(frames, n, 3)):
            gathered.add(k, Atoms(f"H{n}", positions=moved_rigidly(rng, reference + dx)))
    expected = np.sqrt(3) * sigma / np.sqrt(frames) * np.sqrt((3 * n - 6) / (3 * n))
    assert np.mean(gathered.standard_errors()) == pytest.approx(expected, rel=0.1)
    assert np.abs(gathered.means() - reference).max() < 5 * sigma / np.sqrt(frames)
    at_images = image_noise(np.array([0.2, 0.8]), np.array([0.01, 0.03]), 5)
    assert np.allclose(at_images, [0.01, 0.01 + 0.02 / 12, 0.02, 0.03 - 0.02 / 12, 0.03])


def test_an_image_has_settled_when_it_moves_less_than_the_tolerance_or_its_noise():
    moves = np.array([0.01, 0.05, 0.05, 0.2])
    noise = np.array([0.0, 0.0, 0.02, 0.02])
    assert list(settled(moves, noise, 0.03)) == [True, False, True, False]


def test_images_sliding_along_the_path_are_no_change_of_its_shape():
    """The same straight path with its images shifted along it lies on the old one (0),
    a bend of 0.1 Å at one image shows as 0.1 there."""
    start = np.array([[[0.0, 0.0, 0.0]], [[2.0, 0.0, 0.0]]])
    old = resample(start, 11, align=False)
    slid = old.copy()
    slid[1:-1, 0, 0] += 0.07  # every inner image 0.07 Å on along the line
    assert displacement(old, slid, align=False).max() < 1e-9
    bent = old.copy()
    bent[5, 0, 1] = 0.1
    moved = displacement(old, bent, align=False)
    assert moved[5] == pytest.approx(0.1, abs=1e-6) and np.delete(moved, 5).max() < 1e-9
