"""The ``mlpmf pmf`` command on other engines' files built from exact umbrella samples:
it must give the library's PMF (and pymbar's) on the same samples, whatever the file
format and units, and stop with a message naming the likely cause on the usual unit
mistakes (kcal for kJ, radians for degrees, a forgotten period)."""

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpmf.cli import main
from mlpmf.estimators import mbar
from mlpmf.readers import FormatError, read_timeseries, read_wham_metadata, read_window_columns
from mlpmf.samples import UmbrellaSamples
from tests.test_estimators import (
    CENTERS,
    GRID,
    KAPPA,
    KT,
    TEMPERATURE_K,
    double_well,
    exact_umbrella_samples,
    torsion,
)

NM = 10.0  # Å per nm


@pytest.fixture(scope="module")
def samples_a():
    """Exact double-well umbrella samples, Å; KAPPA kJ/mol/Å^2."""
    return exact_umbrella_samples(double_well, GRID, CENTERS, KAPPA, 2000, np.random.default_rng(1))


def write_xvg(path, values):
    lines = ['# gmx wham -ix pullx files', '@    title "Pull COM"', '@ s0 legend "1"',
             '@ s1 legend "1 dZ"']  # fmt: skip
    lines += [f"{0.02 * t:.3f} {x:.9f} 0.0" for t, x in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def gromacs_dir(samples_a, tmp_path_factory):
    """pullx.xvg files in nm listed in a WHAM metadata file with k in kJ/mol/nm^2."""
    folder = tmp_path_factory.mktemp("gromacs")
    meta = ["# path center k"]
    for k, (values, center) in enumerate(zip(samples_a, CENTERS, strict=True)):
        write_xvg(folder / f"pullx_{k}.xvg", values / NM)
        meta.append(f"pullx_{k}.xvg {center / NM:.6f} {KAPPA * NM**2:.6f}")
    (folder / "metadata.dat").write_text("\n".join(meta) + "\n")
    return folder


def run(tmp_path, *arguments):
    code = main(["pmf", *map(str, arguments), "-q", "-o", str(tmp_path / "out")])
    return code


def test_the_command_is_installed_and_documents_itself():
    names = [e.name for e in entry_points(group="console_scripts")]
    assert "mlpmf" in names
    help_text = subprocess.run(
        [sys.executable, "-m", "mlpmf.cli", "pmf", "--help"], capture_output=True, text=True
    ).stdout
    assert "examples:" in help_text and "--spring-unit" in help_text
    for default in ("(default: half)", "(default: mbar)", "(default: 100)", "(default: 0)"):
        assert default in help_text, default


def test_xvg_files_with_metadata_reproduce_the_library_and_pymbar(samples_a, gromacs_dir, tmp_path):
    from pymbar import FES

    edges_a = np.linspace(-1.5, 1.5, 61)
    arguments = ["--metadata", gromacs_dir / "metadata.dat", "--cv-unit", "nm", "--temperature",
                 TEMPERATURE_K, "--bins=-0.15:0.15:60", "--no-decorrelate"]  # fmt: skip
    assert run(tmp_path, *arguments) == 0
    table = pd.read_csv(tmp_path / "out.csv", comment="#")
    assert list(table.columns) == ["cv", "free_energy_kj_mol", "uncertainty_kj_mol", "samples"]
    kappa = np.full(len(CENTERS), KAPPA)
    ours = mbar(UmbrellaSamples(samples_a, CENTERS, kappa, TEMPERATURE_K), edges_a)
    np.testing.assert_allclose(table["cv"], ours.cv / NM, atol=1e-9)
    np.testing.assert_allclose(table["free_energy_kj_mol"], ours.free_energy, atol=1e-3)
    np.testing.assert_allclose(table["uncertainty_kj_mol"], ours.uncertainty, rtol=1e-3)
    # pymbar on the same samples, its own way (the full K x N matrix)
    x = np.concatenate(samples_a)
    u_kn = 0.5 * kappa[:, None] * (x[None, :] - CENTERS[:, None]) ** 2 / KT
    fes = FES(u_kn, np.array([len(s) for s in samples_a]))
    fes.generate_fes(np.zeros(len(x)), x, fes_type="histogram",
                     histogram_parameters={"bin_edges": edges_a})  # fmt: skip
    theirs = fes.get_fes(ours.cv, reference_point="from-lowest")["f_i"] * KT
    np.testing.assert_allclose(table["free_energy_kj_mol"], theirs - theirs.min(), atol=1e-3)
    assert (tmp_path / "out.png").stat().st_size > 10_000


def test_barrier_and_rate_in_kcal_with_a_mass(gromacs_dir, tmp_path):
    arguments = ["--metadata", gromacs_dir / "metadata.dat", "--cv-unit", "nm", "--temperature",
                 TEMPERATURE_K, "--energy-unit", "kcal/mol", "--reactant", -0.13, -0.05,
                 "--product", 0.05, 0.13, "--mass-amu", 12.0]  # fmt: skip
    assert run(tmp_path, *arguments) == 0
    table = pd.read_csv(tmp_path / "out.csv", comment="#")
    rates = json.loads((tmp_path / "out.json").read_text())
    # exact barrier of 12 kJ/mol (binned: a little below), within 3 standard errors
    assert abs(rates["barrier_kj_mol"] - 12.0) < 3 * rates["barrier_uncertainty_kj_mol"] + 0.5
    top = table.loc[(table["cv"] - rates["transition_state_cv"]).abs().idxmin()]
    assert top["free_energy_kcal_mol"] == pytest.approx(
        rates["barrier_kj_mol"] / 4.184, abs=0.2
    )  # kcal column, kJ/mol JSON (as the workflow's rates.json)
    assert rates["rate_constant_per_s"] > 0 and rates["effective_mass_amu"] == pytest.approx(1200)


def write_colvar(path, values_rad):
    bias = np.zeros_like(values_rad)
    rows = "\n".join(f"{0.5 * t:.1f} {v:.9f} {b:.4f}" for t, (v, b) in
                     enumerate(zip(values_rad, bias, strict=True)))  # fmt: skip
    path.write_text(f"#! FIELDS time phi restraint.bias\n#! SET min_phi -pi\n#! SET max_phi pi\n"
                    f"{rows}\n")  # fmt: skip


@pytest.fixture(scope="module")
def plumed_torsion(tmp_path_factory):
    """COLVAR files of a torsion in rad; RESTRAINT KAPPA in kJ/mol/rad^2; also in deg."""
    folder = tmp_path_factory.mktemp("plumed")
    centers = np.linspace(-180.0, 165.0, 24)
    grid = np.linspace(-180.0, 180.0, 36001)
    kappa_deg = 0.05  # kJ/mol/deg^2
    samples = exact_umbrella_samples(torsion, grid, centers, kappa_deg, 1500,
                                     np.random.default_rng(3), period=360.0)  # fmt: skip
    paths = []
    for k, values in enumerate(samples):
        paths.append(folder / f"COLVAR.{k}")
        write_colvar(paths[-1], np.radians(values))
    return paths, centers, kappa_deg, samples


def test_plumed_colvar_in_radians_equals_the_library_in_degrees(plumed_torsion, tmp_path):
    paths, centers, kappa_deg, samples = plumed_torsion
    kappa_rad = kappa_deg * (180.0 / np.pi) ** 2
    centers_rad = ",".join(f"{c:.12f}" for c in np.radians(centers))
    assert run(tmp_path, *paths, "--cv", "phi", "--cv-unit", "rad", "--periodic",
               f"--centers={centers_rad}", "--spring-constant", kappa_rad, "--temperature",
               TEMPERATURE_K, "--bins", 72, "--no-decorrelate") == 0  # fmt: skip
    table = pd.read_csv(tmp_path / "out.csv", comment="#")
    edges = np.linspace(-180.0, 180.0, 73)
    ours = mbar(
        UmbrellaSamples(samples, centers, np.full(24, kappa_deg), TEMPERATURE_K, 360.0), edges
    )
    np.testing.assert_allclose(np.degrees(table["cv"]), ours.cv, atol=1e-6)
    np.testing.assert_allclose(table["free_energy_kj_mol"], ours.free_energy, atol=1e-3)


def test_a_spring_constant_in_kcal_given_as_kj_is_named(gromacs_dir, tmp_path):
    meta = [line.split() for line in (gromacs_dir / "metadata.dat").read_text().splitlines()[1:]]
    kcal = [f"{p} {c} {float(k) / 4.184}" for p, c, k in meta]  # the same springs, in kcal
    (gromacs_dir / "kcal.dat").write_text("\n".join(kcal) + "\n")
    with _stderr() as err:
        code = run(tmp_path, "--metadata", gromacs_dir / "kcal.dat", "--cv-unit", "nm",
                   "--temperature", TEMPERATURE_K)  # fmt: skip
    assert code == 2
    assert "--spring-unit kcal/mol/nm^2 would fit" in err.text
    assert not (tmp_path / "out.csv").exists()  # stopped before solving
    assert run(tmp_path, "--metadata", gromacs_dir / "kcal.dat", "--cv-unit", "nm",
               "--spring-unit", "kcal/mol/nm^2", "--temperature", TEMPERATURE_K) == 0  # fmt: skip


def test_a_spring_constant_per_radian_with_degrees_is_named(plumed_torsion, tmp_path):
    paths, centers, kappa_deg, samples = plumed_torsion
    for path, values in zip(paths, samples, strict=True):  # degrees, as GROMACS writes
        write_xvg(path.parent / f"{path.name}.xvg", values)
    xvg = [p.parent / f"{p.name}.xvg" for p in paths]
    kappa_rad = kappa_deg * (180.0 / np.pi) ** 2
    with _stderr() as err:
        code = run(tmp_path, *xvg, "--cv-unit", "deg", "--periodic", "--centers=-180:165:24",
                   "--spring-constant", kappa_rad, "--temperature", TEMPERATURE_K)  # fmt: skip
    assert code == 2 and "--spring-unit kJ/mol/rad^2 would fit" in err.text
    assert "window 0 (centre -180)" in err.text


def test_a_torsion_without_its_period_warns(plumed_torsion, tmp_path, caplog):
    paths, centers, kappa_deg, samples = plumed_torsion
    xvg = [p.parent / f"{p.name}.xvg" for p in paths]
    for path, values in zip(xvg, samples, strict=True):
        write_xvg(path, values)
    main(["pmf", *map(str, xvg), "--cv-unit", "deg", "--centers=-180:165:24",
          "--spring-constant", str(kappa_deg), "--temperature", "300", "--no-unit-check",
          "-o", str(tmp_path / "out")])  # fmt: skip
    assert "full turn" in caplog.text and "--periodic" in caplog.text


def test_windows_that_do_not_overlap_are_named(samples_a, tmp_path):
    keep = [0, 1, 2, 3, 13, 14, 15, 16]  # a gap of 1 Å between 3 and 13
    files = []
    for k in keep:
        files.append(tmp_path / f"w{k}.dat")
        np.savetxt(files[-1], np.column_stack([np.arange(2000.0), samples_a[k]]))
    centers = ",".join(f"{CENTERS[k]:g}" for k in keep)
    with _stderr() as err:
        code = run(tmp_path, *files, "--cv-unit", "A", f"--centers={centers}",
                   "--spring-constant", KAPPA, "--temperature", TEMPERATURE_K)  # fmt: skip
    assert code == 2
    assert f"{CENTERS[3]:g} and {CENTERS[13]:g}" in err.text


def test_readers_name_what_is_wrong(tmp_path):
    colvar = tmp_path / "COLVAR"
    colvar.write_text("#! FIELDS time d1 d2\n0 1.0 2.0\n1 1.1 2.1\n2 1.2\n")  # last row cut
    assert read_timeseries(colvar, "d2").values.tolist() == [2.0, 2.1]
    with pytest.raises(FormatError, match="no column named 'd3'.*'d1', 'd2'"):
        read_timeseries(colvar, "d3")
    meta = tmp_path / "meta"
    meta.write_text("COLVAR 1.0\n")
    with pytest.raises(FormatError, match="meta:1: expected 'path center spring_constant"):
        read_wham_metadata(meta)
    meta.write_text("COLVAR 1.0 500 0 310  # tau, T\n")
    (window,) = read_wham_metadata(meta)
    assert window.path == colvar and window.temperature_k == 310.0
    csv = tmp_path / "window.csv"
    csv.write_text("time_fs,cv,max_force_disagreement_ev_a\n2.5,1.5,\n5,1.6,\n")  # oracle: NaN
    assert read_timeseries(csv).values.tolist() == [1.5, 1.6]
    (table,) = read_window_columns([csv], ["cv", "max_force_disagreement_ev_a"])
    assert table["cv"].tolist() == [1.5, 1.6] and table.iloc[:, 1].isna().all()
    with pytest.raises(FormatError, match=r"window.csv: expected columns \['cv_2'\]"):
        read_window_columns([csv], ["cv", "cv_2"])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FormatError, match="empty.csv: expected columns"):
        read_window_columns([empty], ["cv"])


class _stderr:
    """Capture what main() prints to stderr."""

    def __enter__(self):
        import io

        self._old, self._buffer = sys.stderr, io.StringIO()
        sys.stderr = self._buffer
        return self

    def __exit__(self, *exc):
        sys.stderr = self._old
        self.text = self._buffer.getvalue()
        return False


def test_wham_with_bootstrap_errors_in_kt_equals_the_library(samples_a, gromacs_dir, tmp_path):
    from mlpmf.estimators import wham

    assert run(tmp_path, "--metadata", gromacs_dir / "metadata.dat", "--cv-unit", "nm",
               "--temperature", TEMPERATURE_K, "--bins=-0.15:0.15:60", "--no-decorrelate",
               "--estimator", "wham", "--bootstrap-samples", 20, "--seed", 3,
               "--energy-unit", "kT") == 0  # fmt: skip
    table = pd.read_csv(tmp_path / "out.csv", comment="#")
    ours = wham(
        UmbrellaSamples(samples_a, CENTERS, np.full(len(CENTERS), KAPPA), TEMPERATURE_K),
        np.linspace(-1.5, 1.5, 61),
        bootstrap_samples=20,
        seed=3,
    )
    np.testing.assert_allclose(table["free_energy_kt"], ours.free_energy / KT, atol=1e-6)
    np.testing.assert_allclose(table["uncertainty_kt"], ours.uncertainty / KT, rtol=1e-6)


# pymbar's umbrella-sampling example (tests/data/pymbar_valine_chi/README.md): GROMACS
# windows of a torsion in degrees, window 0 centred at -180 with samples past +-180.
VALINE = Path(__file__).parent / "data" / "pymbar_valine_chi"


def valine_windows():
    """(files, centres in degrees, spring constants in kJ/mol/rad^2), file order."""
    centers, springs = np.loadtxt(VALINE / "centers.dat", unpack=True)
    return [VALINE / f"prod{k}_dihed.xvg" for k in range(len(centers))], centers, springs


def valine(tmp_path, *extra, files=None, centers=None, name="out"):
    paths, given, springs = valine_windows()
    centers = given if centers is None else centers
    arguments = [*(paths if files is None else files), f"--centers={','.join(map(str, centers))}",
                 f"--spring-constant={','.join(map(str, springs))}", "--spring-unit",
                 "kJ/mol/rad^2", "--cv-unit", "deg", "--periodic", "--temperature", 300,
                 "--bins", 36, *extra]  # fmt: skip
    return main(["pmf", *map(str, arguments), "-q", "-o", str(tmp_path / name)])


def test_real_torsion_data_across_the_seam_equals_pymbar(tmp_path):
    """The window centred at -180 written as 180 gives the same PMF (wrapped before any
    check), and both equal pymbar's FES on the same kept samples (minimum-image biases,
    pymbar's own full K x N evaluation) within 0.01 kJ/mol."""
    from pymbar import FES

    from mlpmf.solver import wrap
    from mlpmf.timeseries import kept_indices

    paths, centers, springs = valine_windows()
    assert valine(tmp_path) == 0
    seam = centers.copy()
    seam[0] = 180.0
    assert valine(tmp_path, centers=seam, name="seam") == 0
    table = pd.read_csv(tmp_path / "out.csv", comment="#")
    moved = pd.read_csv(tmp_path / "seam.csv", comment="#")
    pd.testing.assert_frame_equal(table, moved)
    series = [wrap(read_timeseries(p).values, 360.0, -180.0) for p in paths]
    kept = kept_indices(series, True, True, wrap(centers, 360.0, -180.0), 360.0)
    samples = [s[k] for s, k in zip(series, kept, strict=True)]
    x = np.concatenate(samples)
    kappa = springs * (np.pi / 180.0) ** 2  # kJ/mol/deg^2
    offsets = (x[None, :] - centers[:, None] + 180.0) % 360.0 - 180.0
    u_kn = 0.5 * kappa[:, None] * offsets**2 / KT
    fes = FES(u_kn, np.array([len(s) for s in samples]))
    edges = np.linspace(-180.0, 180.0, 37)
    fes.generate_fes(np.zeros(len(x)), x, fes_type="histogram",
                     histogram_parameters={"bin_edges": edges})  # fmt: skip
    theirs = fes.get_fes(table["cv"].to_numpy(), reference_point="from-lowest")["f_i"] * KT
    ours = table["free_energy_kj_mol"].to_numpy()
    filled = np.isfinite(ours) & np.isfinite(theirs)
    assert filled.sum() >= 30
    difference = (ours - theirs)[filled]
    assert np.abs(difference - difference.mean()).max() < 0.01
    assert table["samples"].sum() == len(x)


def test_the_table_says_what_its_uncertainty_and_zero_are(tmp_path):
    assert valine(tmp_path) == 0
    header = [line for line in (tmp_path / "out.csv").read_text().splitlines() if line[0] == "#"]
    text = "\n".join(header)
    assert "one standard error" in text and "not relative to the zero bin" in text
    table = pd.read_csv(tmp_path / "out.csv", comment="#")
    zero = table.loc[table["free_energy_kj_mol"] == 0.0]
    assert len(zero) == 1 and f"0 at cv = {zero['cv'].iloc[0]:g}" in text


def test_the_zero_sits_on_a_well_sampled_bin():
    """A flat profile whose first bin holds two stray samples: noise alone can put such a
    bin kT below the rest; the zero goes on the lowest well-sampled bin instead."""
    from mlpmf.estimators import zero_bin

    free = np.array([-9.0, 0.4, 0.1, 0.3, 0.2, np.nan])
    counts = np.array([2, 900, 1000, 950, 1010, 0])
    assert zero_bin(free, counts) == 2
    assert zero_bin(free, np.array([2, 3, 1, 2, 2, 0])) == 0  # none well sampled


def test_a_wrong_bias_convention_is_named_not_solved(tmp_path):
    """--bias-convention full on data made with k/2 (x-c)^2: every spread is sqrt(2) too
    wide for the springs, which is what the convention does; it stops, naming it."""
    with _stderr() as err:
        assert valine(tmp_path, "--bias-convention", "full") == 2
    assert "--bias-convention half would fit" in err.text
    assert not (tmp_path / "out.csv").exists()
    assert valine(tmp_path, "--bias-convention", "full", "--no-unit-check") == 0


def test_centres_in_another_order_than_the_files_are_named(tmp_path):
    """Centres sorted while the files are not (pymbar's list ends with -165, 20, 120): on
    a periodic CV too, the windows whose samples sit round another centre are named."""
    paths, centers, springs = valine_windows()
    with _stderr() as err:
        assert valine(tmp_path, centers=np.sort(centers)) == 2
    assert "another order than the files" in err.text and "prod" in err.text
    assert not (tmp_path / "out.csv").exists()


def test_a_periodic_barrier_takes_the_lower_way_round(tmp_path):
    """Basins at -90..-40 and 150..180: the way round through -125 is lower than the one
    through 0; the headline barrier is that path's, the rate the sum of both."""
    assert valine(tmp_path, "--reactant", -90, -40, "--product", 150, 180,
                  "--mass-amu", 3.0) == 0  # fmt: skip
    rates = json.loads((tmp_path / "out.json").read_text())
    table = pd.read_csv(tmp_path / "out.csv", comment="#")
    paths = sorted(rates["paths"], key=lambda path: path["barrier_kj_mol"])
    assert len(paths) == 2 and paths[0]["barrier_kj_mol"] < paths[1]["barrier_kj_mol"] - 3
    assert rates["barrier_kj_mol"] == paths[0]["barrier_kj_mol"]
    assert -180 < rates["transition_state_cv"] < -90  # through -125, not 0
    assert rates["rate_constant_per_s"] == pytest.approx(
        sum(path["rate_constant_per_s"] for path in paths)
    )
    basin = table[(table["cv"] >= -90) & (table["cv"] <= -40)]["free_energy_kj_mol"].min()
    top = table.loc[(table["cv"] - rates["transition_state_cv"]).abs().idxmin()]
    assert rates["barrier_kj_mol"] == pytest.approx(top["free_energy_kj_mol"] - basin, abs=1e-6)


@pytest.mark.parametrize(
    "change, message",
    [
        (["--temperature", 0], "--temperature: expected a temperature above 0 K"),
        (["--temperature", -5], "above 0 K"),
        (["--bins=100:-100:36"], "--bins: expected start < stop"),
        (["--bins", 0], "--bins: expected a whole number of bins"),
        (["--bins=0:180:36"], "span one period"),
        (["--period", 360], "--periodic and --period: give one"),
        (["--reactant", 10, -10, "--product", 20, 40], "--reactant: expected LO < HI"),
        (["--reactant", -90, -40], "needs both --reactant and --product"),
        (["--reactant", 60, 61, "--product", 150, 180], "--reactant [60.0, 61.0]: no PMF bin"),
        (["--skip", 1e9], "no samples at or after --skip"),
    ],
)
def test_impossible_options_are_named_before_solving(tmp_path, change, message):
    with _stderr() as err:
        assert valine(tmp_path, *change) == 2
    assert message in err.text and "Traceback" not in err.text


def test_rows_that_are_not_numbers_are_named(tmp_path):
    paths, centers, springs = valine_windows()
    broken = tmp_path / "prod1_dihed.xvg"
    lines = paths[1].read_text().splitlines()
    lines[40] = "   8.0000   nan"
    broken.write_text("\n".join(lines) + "\n")
    with _stderr() as err:
        assert valine(tmp_path, files=[paths[0], broken, *paths[2:]]) == 2
    assert f"{broken}: 1 of 501 samples are not numbers" in err.text
