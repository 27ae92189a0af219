rule umbrella_windows:
    output:
        f"{RESULTS}/umbrella/windows.csv",
    log:
        f"logs/umbrella_windows/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        centers=CENTERS.tolist(),
        spring_constants_kj_mol=SPRING_CONSTANTS.tolist(),
    script:
        "../scripts/umbrella_windows.py"


if config["umbrella"]["windows_per_job"] == 1:

    rule umbrella_window:
        input:
            unpack(window_inputs),
        output:
            f"{RESULTS}/umbrella/window_{{window}}.csv",
        log:
            f"logs/umbrella_window/{STUDY}/{{window}}.log",
        conda:
            "../../envs/mlpmf.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=120,
            gpu=0,
        params:
            windows=window_specs,
            system=config["system"],
            potential=config["potential"],
            external_potential=config["external_potential"],
            device=config["device"],
            oracle=config["oracle"],
            collective_variable=config["collective_variable"],
            observables=config["observables"],
            temperature_k=config["temperature_k"],
            umbrella=window_md_settings(),
        script:
            "../scripts/umbrella_window.py"

else:

    for group, members in enumerate(window_groups()):

        rule:
            name:
                f"umbrella_window_group_{group:03d}"
            input:
                unpack(window_inputs),
            output:
                [window_path(window) for window in members],
            log:
                f"logs/umbrella_window/{STUDY}/group_{group:03d}.log",
            conda:
                "../../envs/mlpmf.yaml"
            threads: 1
            resources:
                mem_mb=2000,
                runtime=120,
                gpu=0,
            params:
                windows=[window_spec(window) for window in members],
                system=config["system"],
                potential=config["potential"],
                external_potential=config["external_potential"],
                device=config["device"],
                oracle=config["oracle"],
                collective_variable=config["collective_variable"],
                observables=config["observables"],
                temperature_k=config["temperature_k"],
                umbrella=window_md_settings(),
            script:
                "../scripts/umbrella_window.py"
