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
    params:
        system=config["system"],
        potential=config["potential"],
        oracle=config["oracle"],
        collective_variable=config["collective_variable"],
        observables=config["observables"],
        temperature_k=config["temperature_k"],
        umbrella=window_md_settings(),
        center=window_center,
        spring_constant_kj_mol=window_spring_constant,
        seed=window_seed,
    script:
        "../scripts/umbrella_window.py"
