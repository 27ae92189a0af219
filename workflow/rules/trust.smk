rule check_trust:
    input:
        unpack(trust_metrics_input),
        windows=f"{RESULTS}/umbrella/windows.csv",
        trajectories=window_trajectory_paths,
    output:
        report(
            f"{RESULTS}/free_energy/trust.json",
            caption="../report/trust.rst",
            category="Free energy",
        ),
    log:
        f"logs/check_trust/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        **settings_for("check_trust"),
        period=CV_PERIOD,
        period_2=SECOND_CV_PERIOD,
    script:
        "../scripts/check_trust.py"


rule mark_trust:
    input:
        estimate=estimate_path("{table}"),
        trust=f"{RESULTS}/free_energy/trust.json",
    output:
        report(
            f"{RESULTS}/free_energy/{{table}}.csv",
            caption="../report/pmf_table.rst",
            category="Free energy",
            labels={"table": "{table}"},
        ),
    log:
        f"logs/mark_trust/{STUDY}_{{table}}.log",
    wildcard_constraints:
        table="pmf_(2d_)?(mbar|wham)",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        period=CV_PERIOD,
        period_2=SECOND_CV_PERIOD,
    script:
        "../scripts/mark_trust.py"


rule trust_gate:
    input:
        trust=f"{RESULTS}/free_energy/trust.json",
        results=result_targets(),
    output:
        f"{RESULTS}/free_energy/trust_accepted.json",
    log:
        f"logs/trust_gate/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        cv_unit=CV_UNIT,
    script:
        "../scripts/trust_gate.py"
