rule umbrella_windows:
    input:
        unpack(final_window_table),
    output:
        f"{RESULTS}/umbrella/windows.csv",
    log:
        f"logs/umbrella_windows/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        grid=canonical(grid_columns(GRID)),
    script:
        "../scripts/umbrella_windows.py"


rule umbrella_window:
    input:
        unpack(batch_inputs),
    output:
        batch_path("{batch}"),
    log:
        f"logs/umbrella_window/{STUDY}/{{batch}}.log",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
        gpu=0,
    params:
        **settings_for("umbrella_window"),
        windows=batch_specs,
        second_cv=SECOND_CV[0] if SECOND_CV else None,
    script:
        "../scripts/umbrella_window.py"


rule window_series:
    input:
        lambda wildcards: batch_path(batch_of(wildcards.window)),
    output:
        window_path("{window}"),
    log:
        f"logs/window_series/{STUDY}/{{window}}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    script:
        "../scripts/window_series.py"


checkpoint adapt_windows:
    input:
        unpack(adaptive_round_inputs),
    output:
        table=f"{RESULTS}/umbrella/adaptive/round_{{round}}.csv",
    log:
        f"logs/adapt_windows/{STUDY}_{{round}}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        **settings_for("adapt_windows"),
        windows=canonical(static_window_rows()),
        windows_per_job=config["umbrella"]["windows_per_job"],
        bin_edges=bin_edges(config).tolist(),
        period=CV_PERIOD,
    script:
        "../scripts/adapt_windows.py"
