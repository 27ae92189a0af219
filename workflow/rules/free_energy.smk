rule estimate_pmf:
    input:
        windows=f"{RESULTS}/umbrella/windows.csv",
        trajectories=window_trajectory_paths(),
    output:
        report(
            f"{RESULTS}/free_energy/pmf_{{estimator}}.csv",
            caption="../report/pmf_table.rst",
            category="Free energy",
            labels={"estimator": "{estimator}"},
        ),
    log:
        f"logs/estimate_pmf/{STUDY}_{{estimator}}.log",
    wildcard_constraints:
        estimator="wham|mbar",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        temperature_k=config["temperature_k"],
        bin_edges=bin_edges(config).tolist(),
        free_energy=config["free_energy"],
        seed=child_seed(config["seed"], 3),
    script:
        "../scripts/estimate_pmf.py"


rule rates:
    input:
        unpack(reference_barrier_inputs),
        mbar=f"{RESULTS}/free_energy/pmf_mbar.csv",
        wham=f"{RESULTS}/free_energy/pmf_wham.csv",
        structure=config["system"]["structure"],
    output:
        rates=report(
            f"{RESULTS}/free_energy/rates.json",
            caption="../report/rates.rst",
            category="Free energy",
        ),
        barriers=report(
            f"{RESULTS}/free_energy/barriers.csv",
            caption="../report/barriers.rst",
            category="Free energy",
        ),
    log:
        f"logs/rates/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        temperature_k=config["temperature_k"],
        collective_variable=config["collective_variable"],
        rates=config["rates"],
    script:
        "../scripts/rates.py"
