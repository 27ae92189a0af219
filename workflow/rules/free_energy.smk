if not SECOND_CV:  # 1D umbrella sampling; in 2D, free_energy_2d.smk writes these

    rule estimate_pmf:
        input:
            windows=f"{RESULTS}/umbrella/windows.csv",
            trajectories=window_trajectory_paths,
        output:
            pmf=estimate_path("pmf_{estimator}"),
            bootstrap=f"{RESULTS}/free_energy/pmf_{{estimator}}_bootstrap.npy",
            members=f"{RESULTS}/free_energy/pmf_{{estimator}}_members.npy",
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
            **settings_for("estimate_pmf"),
            bin_edges=bin_edges(config).tolist(),
            period=CV_PERIOD,
            seed=SEEDS["estimate_pmf"],
        script:
            "../scripts/estimate_pmf.py"


rule diagnostics:
    input:
        unpack(trust_metrics_input),
        windows=f"{RESULTS}/umbrella/windows.csv",
        trajectories=window_trajectory_paths,
    output:
        summary=report(
            f"{RESULTS}/free_energy/diagnostics.json",
            caption="../report/diagnostics_summary.rst",
            category="Umbrella sampling",
        ),
        plot=report(
            f"{RESULTS}/plots/diagnostics.png",
            caption="../report/diagnostics.rst",
            category="Umbrella sampling",
        ),
    log:
        f"logs/diagnostics/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        **settings_for("diagnostics"),
        bin_edges=bin_edges(config).tolist(),
        period=CV_PERIOD,
        bin_edges_2=second_bin_edges(config).tolist() if SECOND_CV else None,
        period_2=SECOND_CV_PERIOD,
    script:
        "../scripts/diagnostics.py"


rule transmission:
    input:
        unpack(window_inputs),
        pmf=estimate_path("pmf_mbar"),
    output:
        result=report(
            f"{RESULTS}/free_energy/transmission.json",
            caption="../report/transmission.rst",
            category="Free energy",
        ),
        plot=report(
            f"{RESULTS}/plots/transmission.png",
            caption="../report/transmission.rst",
            category="Free energy",
        ),
    log:
        f"logs/transmission/{STUDY}.log",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        **settings_for("transmission"),
        spring_constants_kj_mol=SPRING_CONSTANTS.tolist(),
        seed=SEEDS["transmission"],
    script:
        "../scripts/transmission.py"


rule rates:
    input:
        unpack(reference_barrier_inputs),
        unpack(reference_pmf_inputs("reference_pmf")),
        unpack(transmission_inputs),
        **WINDOW_PATH_INPUT,
        mbar=estimate_path("pmf_mbar"),
        mbar_bootstrap=f"{RESULTS}/free_energy/pmf_mbar_bootstrap.npy",
        wham=estimate_path("pmf_wham"),
        wham_bootstrap=f"{RESULTS}/free_energy/pmf_wham_bootstrap.npy",
        mbar_members=f"{RESULTS}/free_energy/pmf_mbar_members.npy",
        trust=f"{RESULTS}/free_energy/trust.json",
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
        **settings_for("rates"),
    script:
        "../scripts/rates.py"


rule reweight_observable:
    input:
        windows=f"{RESULTS}/umbrella/windows.csv",
        trajectories=window_trajectory_paths,
    output:
        pmf=report(
            f"{RESULTS}/free_energy/pmf_observable_{{observable}}.csv",
            caption="../report/pmf_observable.rst",
            category="Free energy",
            labels={"observable": "{observable}"},
        ),
        pmf2d=f"{RESULTS}/free_energy/pmf2d_{{observable}}.csv",
        plot=report(
            f"{RESULTS}/plots/pmf2d_{{observable}}.png",
            caption="../report/pmf2d.rst",
            category="Free energy",
            labels={"observable": "{observable}"},
        ),
    log:
        f"logs/reweight_observable/{STUDY}_{{observable}}.log",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        **settings_for("reweight_observable"),
        bin_edges=bin_edges(config).tolist(),
        period=CV_PERIOD,
        observable=observable_settings,
        seed=SEEDS["reweight_observable"],
    script:
        "../scripts/reweight_observable.py"


rule compare_pmf:
    input:
        unpack(reference_pmf_inputs("reference")),
        mbar=estimate_path("pmf_mbar"),
    output:
        report(
            f"{RESULTS}/free_energy/comparison.json",
            caption="../report/comparison.rst",
            category="Free energy",
        ),
    log:
        f"logs/compare_pmf/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        **settings_for("compare_pmf"),
    script:
        "../scripts/compare_pmf.py"
