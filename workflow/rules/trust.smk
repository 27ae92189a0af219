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
        period=cv_period(),
        period_2=second_cv_period(),
        potential=config["potential"],
        accept_untrusted=config["accept_untrusted"],
        temperature_k=config["temperature_k"],
        oracle_tolerance_kj_mol=config["umbrella"]["oracle_tolerance_kj_mol"],
    script:
        "../scripts/check_trust.py"


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
        cv_unit=cv_unit(),
    script:
        "../scripts/trust_gate.py"
