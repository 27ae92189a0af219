"""What a study produces: every result file the workflow's final rule asks for, from the
study's config, and where a finished study's main results are."""

from collections.abc import Mapping


def uses_model(config: Mapping) -> bool:
    """True when the windows run on a trained MLIP (not the oracle or external ones)."""
    return config["potential"] not in ("oracle", "ase")


def uses_active_learning(config: Mapping) -> bool:
    """True when active learning refines the committee before the windows run."""
    return config["potential"] == "committee" and config["active_learning"]["max_iterations"] > 0


def result_targets(config: Mapping, results: str, two_d: bool) -> list[str]:
    """Every result of the study under ``results``, written whether or not it is
    trusted (``two_d``: 2D umbrella sampling, whose observables are not reweighted)."""
    free, plots = f"{results}/free_energy", f"{results}/plots"
    targets = [
        f"{results}/provenance.json",
        f"{results}/umbrella/windows.csv",
        *(f"{free}/{name}" for name in ("pmf_wham.csv", "pmf_mbar.csv", "rates.json",
                                        "barriers.csv", "diagnostics.json", "trust.json")),
        *(f"{plots}/{name}.png" for name in ("diagnostics", "pmf", "window_histograms")),
    ]  # fmt: skip
    if uses_model(config):
        targets += [
            f"{results}/model/metrics.json",
            f"{results}/model/gaussian_process_metrics.json",
            *(f"{plots}/{name}.png" for name in ("force_parity", "learning_curve",
                                                 "uncertainty_vs_error")),
        ]  # fmt: skip
    if uses_active_learning(config):
        targets += [f"{plots}/active_learning.png"]
    if uses_model(config):
        targets += [f"{results}/oracle_ledger.json"]
    if config["reference"]["pmf_file"] or config["free_energy"]["mirror_symmetric"]:
        targets += [f"{free}/comparison.json"]
    if two_d:  # observables are reweighted with 1D windows' biases only
        return targets + [
            *(f"{free}/pmf_2d_{name}" for name in ("mbar.csv", "wham.csv", "mbar.json",
                                                   "wham.json")),
            f"{plots}/pmf_2d.png",
        ]  # fmt: skip
    for name in config["observables"]:
        targets += [
            f"{free}/pmf_observable_{name}.csv",
            f"{free}/pmf2d_{name}.csv",
            f"{plots}/pmf2d_{name}.png",
        ]
    return targets


def completion_message(study: str, results: str) -> str:
    """Where the study's main results are, printed when the workflow succeeds."""
    return (
        f"\nStudy {study} complete.\n"
        f"  PMF:    {results}/free_energy/pmf_mbar.csv (and pmf_wham.csv)\n"
        f"  rate:   {results}/free_energy/rates.json\n"
        f"  plots:  {results}/plots/\n"
        f"  report: snakemake --report {results}/report.html\n"
    )
