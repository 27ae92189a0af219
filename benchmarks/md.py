"""Benchmark: batched MD replica-steps per second, this code against an earlier commit.

    python benchmarks/md.py [--baseline 2db212a] [--steps 200] [--threads 2]

Two systems, each driven by a committee with weights from a fixed seed (speed does not
depend on training), float32 and float64, with an umbrella bias per replica, the mean
force every step and every member's forces every 5th (as windows record):

- alanine dipeptide (22 atoms, no cell; benchmarks/common.py's committee: radial, ANI
  angular and chiral terms) at 1, 8 and 32 replicas, against GFN2-xTB's calls per
  second on the same molecule (one replica-step costs one xTB call when xTB drives MD);
- the default study's Au/Al(100) slab (28 atoms, periodic in x and y, radial terms
  only, as config/config.yaml) at 9 replicas, a window job of that study.

The earlier commit runs from a git worktree in its own process, this one in another, one
after the other (two torch processes at once slow each other down 5-10x), so the ratios
come from one run on one machine: three interleaved rounds, the best of each (this
machine's speed drifts by tens of percent within minutes). Appends rows to benchmarks/results/md.md.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import append_rows

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SLAB = REPO / "resources/au_al100/initial.extxyz"


def measure(steps: int, threads: int) -> list[dict]:
    """Replica-steps per second of every case, with the mlpmf found on sys.path."""
    import numpy as np
    import torch
    from ase.io import read
    from common import alanine_dipeptide, committee_for, recording_hooks

    from mlpmf.calculator import BatchedCommittee
    from mlpmf.colvars import Dihedral, Position
    from mlpmf.descriptors import Descriptor
    from mlpmf.dynamics import LangevinSettings, UmbrellaBias, integrate
    from mlpmf.models import Committee

    torch.set_num_threads(threads)
    alanine = alanine_dipeptide()
    slab = read(SLAB)
    torch.manual_seed(0)
    species = tuple(sorted(set(int(z) for z in slab.numbers)))
    descriptor = Descriptor(species, num_angular_sections=0)
    width = descriptor.num_features
    slab_committee = Committee(
        descriptor, 4, [32, 32], torch.zeros(2, width), torch.ones(2, width), torch.zeros(2), 0.05
    )
    cases = [
        ("alanine dipeptide", alanine, committee_for(alanine, "cpu"), Dihedral((1, 3, 4, 6)),
         np.linspace(-180.0, 165.0, 32), 0.04, 0.5),
        ("Au/Al(100) slab", slab, slab_committee, Position((27,), "x"),
         np.linspace(1.1, 4.6, 9), 200.0, 4.0),
    ]  # fmt: skip
    rows = []
    for name, structure, committee, cv, all_centers, kappa, timestep in cases:
        counts = (1, 8, 32) if len(all_centers) == 32 else (len(all_centers),)
        for dtype in (torch.float32, torch.float64):
            for count in counts:
                field = BatchedCommittee(committee, dtype)
                centers = all_centers[:: len(all_centers) // count][:count]
                atoms = [structure.copy() for _ in range(count)]
                biases = [UmbrellaBias(cv, c, kappa) for c in centers]
                rngs = [np.random.default_rng(k) for k in range(count)]
                settings = LangevinSettings(300.0, timestep, 0.01)
                hooks = recording_hooks(lambda step: step % 5 == 0)
                integrate(atoms, settings, 5, rngs, biases, field, **hooks)
                started = time.perf_counter()
                integrate(atoms, settings, steps, rngs, biases, field, **hooks)
                rate = count * steps / (time.perf_counter() - started)
                rows.append({"system": name, "precision": str(dtype).removeprefix("torch."),
                             "replicas": count, "rate": rate})  # fmt: skip
    return rows


def xtb_rate(calls: int) -> float:
    """GFN2-xTB energy+force calls per second on displaced alanine dipeptide."""
    import numpy as np
    from common import alanine_dipeptide
    from tblite.ase import TBLite

    structure = alanine_dipeptide()
    calculator = TBLite(method="GFN2-xTB", verbosity=0)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(calls + 1):
        atoms = structure.copy()
        atoms.positions += rng.normal(scale=0.02, size=atoms.positions.shape)
        atoms.calc = calculator
        started = time.perf_counter()
        atoms.get_forces()
        times.append(time.perf_counter() - started)
    return 1.0 / float(np.mean(times[1:]))


def run_in(source: Path, steps: int, threads: int) -> list[dict]:
    """``measure`` in a fresh process importing mlpmf from ``source``."""
    command = [sys.executable, __file__, "--measure", "--steps", str(steps),
               "--threads", str(threads)]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": f"{source / 'src'}:{HERE}"}
    output = subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def best(rounds: list[list[dict]]) -> list[dict]:
    """Each case's highest rate over the rounds."""
    return [max(case, key=lambda row: row["rate"]) for case in zip(*rounds, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="2db212a", help="commit to compare against")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(HERE / "results/md.md"))
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.steps, args.threads)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        worktree = Path(scratch) / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree),
                        args.baseline], check=True, capture_output=True)  # fmt: skip
        before, after = [], []
        try:  # interleaved rounds, the best of each: this machine's speed drifts
            for _ in range(args.rounds):
                before.append(run_in(worktree, args.steps, args.threads))
                after.append(run_in(REPO, args.steps, args.threads))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                            str(worktree)], check=False)  # fmt: skip
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    before, after = best(before), best(after)
    xtb = max(xtb_rate(100) for _ in range(args.rounds))
    machine = f"{platform.machine()}, {args.threads} torch threads"
    rows = []
    for old, new in zip(before, after, strict=True):
        versus_xtb = f"{new['rate'] / xtb:.1f}x" if new["system"] == "alanine dipeptide" else ""
        rows.append(
            f"| {machine} | {new['system']} | {new['precision']} | {new['replicas']} "
            f"| {old['rate']:.0f} | {new['rate']:.0f} | {new['rate'] / old['rate']:.2f}x "
            f"| {xtb:.0f} | {versus_xtb} | {args.baseline} -> {head} |"
        )
    append_rows(args.out, rows)


if __name__ == "__main__":
    main()
