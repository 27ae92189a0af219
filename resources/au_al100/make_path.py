"""The reaction path of the Au adatom's hop on Al(100) for the path-CV study
(config/studies/au_al100_path.yaml), built by mlpmf.pathbuild from the two hollow sites
with the study's EMT oracle: the ends relaxed, IDPP, a climbing-image NEB.

Writes ``path.extxyz`` (the band's images, whole structures, reactant first, with one
image more at each end: the first and last steps carried on past the hollow sites, so
that both basins lie inside the path, where s still changes, not at its ends where it
stops) and ``path.json`` (the candidates' barriers and energies along the band) beside
this script. Run from the repository: ``python resources/au_al100/make_path.py``.
"""

import json
from pathlib import Path

from ase.calculators.emt import EMT
from ase.io import read, write

from mlpmf.pathbuild import PathBuildSettings, build_path, extended

HERE = Path(__file__).parent
HOP_A = 2.864  # to the next hollow site along x: the Al(100) surface spacing a / sqrt(2)

start = read(HERE / "initial.extxyz")
end = start.copy()
end.positions[27, 0] += HOP_A
settings = PathBuildSettings(images=9, candidates=1, fmax_ev_a=0.005)
result = build_path(start, end, EMT, settings, seed=2026)
write(HERE / "path.extxyz", extended(result.best.images, align=False))
(HERE / "path.json").write_text(json.dumps(result.summary(), indent=2) + "\n")
print(f"barrier {result.best.barrier_kj_mol:.2f} kJ/mol, converged {result.best.converged}")
