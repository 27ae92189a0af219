"""What produced a study's results: versions, revision, configuration, seeds, machine."""

import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

PACKAGES = ("mlpmf", "torch", "ase", "numpy", "scipy", "pandas", "pymbar", "snakemake")


def package_versions() -> dict[str, str]:
    """Installed version of every package the results depend on."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_revision(directory: str | Path) -> dict[str, str | bool]:
    """Commit of the workflow's repository and whether its work tree had changes."""

    def git(*arguments):
        return subprocess.run(
            ["git", "-C", str(directory), *arguments], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "modified": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown (not a git checkout)", "modified": False}


def compute_device() -> str:
    """The device torch would use: a CUDA GPU's name, or 'cpu'."""
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return "cpu"


def provenance(config: Mapping, workflow_directory: str | Path, seeds: Mapping[str, int]) -> dict:
    """The provenance record written to results/<study>/provenance.json."""
    return {
        "packages": package_versions(),
        "python": platform.python_version(),
        "workflow_revision": git_revision(workflow_directory),
        "host": platform.node(),
        "platform": platform.platform(),
        "device": compute_device(),
        "seeds": dict(seeds),
        "config": dict(config),
    }
