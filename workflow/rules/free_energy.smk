if not SECOND_CV:  # 1D umbrella sampling; in 2D, free_energy_2d.smk writes these

    rule estimate_pmf:
        input:
            windows=f"{RESULTS}/umbrella/windows.csv",
            trust=f"{RESULTS}/free_energy/trust.json",
            trajectories=window_trajectory_paths,
        output:
            pmf=report(
                f"{RESULTS}/free_energy/pmf_{{estimator}}.csv",
                caption="../report/pmf_table.rst",
                category="Free energy",
                labels={"estimator": "{estimator}"},
            ),
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
            temperature_k=config["temperature_k"],
            bin_edges=bin_edges(config).tolist(),
            period=cv_period(),
            free_energy=settings_of(
                "free_energy",
                "decorrelate",
                "detect_equilibration",
                "bootstrap_samples",
                "uncertainty",
            ),
            seed=SEEDS["estimate_pmf"],
        script:
            "../scripts/estimate_pmf.py"


rule diagnostics:
    input:
        windows=f"{RESULTS}/umbrella/windows.csv",
        trajectories=window_trajectory_paths,
        mbar=f"{RESULTS}/free_energy/pmf_mbar.csv",
        trust=f"{RESULTS}/free_energy/trust.json",
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
        temperature_k=config["temperature_k"],
        bin_edges=bin_edges(config).tolist(),
        period=cv_period(),
        free_energy=settings_of(
            "free_energy", "decorrelate", "detect_equilibration", "overlap_threshold"
        ),
        bin_edges_2=second_bin_edges(config).tolist() if SECOND_CV else None,
        period_2=second_cv_period(),
    script:
        "../scripts/diagnostics.py"


rule transmission:
    input:
        unpack(window_inputs),
        pmf=f"{RESULTS}/free_energy/pmf_mbar.csv",
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
        system=config["system"],
        potential=config["potential"],
        external_potential=config["external_potential"],
        oracle=config["oracle"],
        collective_variable=config["collective_variable"],
        temperature_k=config["temperature_k"],
        umbrella=window_md_settings(),
        spring_constants_kj_mol=SPRING_CONSTANTS.tolist(),
        rates=config["rates"],
        transmission=config["transmission"],
        seed=SEEDS["transmission"],
    script:
        "../scripts/transmission.py"


rule rates:
    input:
        unpack(reference_barrier_inputs),
        unpack(transmission_inputs),
        mbar=f"{RESULTS}/free_energy/pmf_mbar.csv",
        mbar_bootstrap=f"{RESULTS}/free_energy/pmf_mbar_bootstrap.npy",
        wham=f"{RESULTS}/free_energy/pmf_wham.csv",
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
        temperature_k=config["temperature_k"],
        collective_variable=config["collective_variable"],
        friction_per_fs=config["umbrella"]["friction_per_fs"],
        rates=config["rates"],
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
        temperature_k=config["temperature_k"],
        bin_edges=bin_edges(config).tolist(),
        period=cv_period(),
        observable=observable_settings,
        free_energy=settings_of(
            "free_energy", "decorrelate", "detect_equilibration", "bootstrap_samples"
        ),
        seed=SEEDS["reweight_observable"],
    script:
        "../scripts/reweight_observable.py"


rule compare_pmf:
    input:
        unpack(reference_pmf_inputs("reference")),
        mbar=f"{RESULTS}/free_energy/pmf_mbar.csv",
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
        mirror_symmetric=config["free_energy"]["mirror_symmetric"],
        mirrored=config["reference"]["pmf_mirrored"],
        below_kj_mol=config["reference"]["compare_below_kj_mol"],
    script:
        "../scripts/compare_pmf.py"
