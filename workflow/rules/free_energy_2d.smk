# 2D umbrella sampling (umbrella.second_cv): the 2D PMF, whose projection on the first
# CV is pmf_{estimator}.csv (what rates and the comparison read, as in 1D).


rule estimate_pmf_2d:
    input:
        windows=f"{RESULTS}/umbrella/windows.csv",
        trajectories=window_trajectory_paths,
    output:
        pmf=estimate_path("pmf_{estimator}"),
        bootstrap=f"{RESULTS}/free_energy/pmf_{{estimator}}_bootstrap.npy",
        members=f"{RESULTS}/free_energy/pmf_{{estimator}}_members.npy",
        pmf_2d=estimate_path("pmf_2d_{estimator}"),
        summary=report(
            f"{RESULTS}/free_energy/pmf_2d_{{estimator}}.json",
            caption="../report/pmf_2d.rst",
            category="Free energy",
            labels={"estimator": "{estimator}"},
        ),
    log:
        f"logs/estimate_pmf_2d/{STUDY}_{{estimator}}.log",
    wildcard_constraints:
        estimator="wham|mbar",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        **settings_for("estimate_pmf_2d"),
        bin_edges=bin_edges(config).tolist(),
        bin_edges_2=second_bin_edges(config).tolist(),
        period=CV_PERIOD,
        period_2=SECOND_CV_PERIOD,
        seed=SEEDS["estimate_pmf"],
    script:
        "../scripts/estimate_pmf_2d.py"


rule plot_pmf_2d:
    input:
        pmf_2d=estimate_path("pmf_2d_mbar"),
        summary=f"{RESULTS}/free_energy/pmf_2d_mbar.json",
        windows=f"{RESULTS}/umbrella/windows.csv",
    output:
        report(
            f"{RESULTS}/plots/pmf_2d.png",
            caption="../report/pmf_2d.rst",
            category="Free energy",
        ),
    log:
        f"logs/plot_pmf_2d/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        **settings_for("plot_pmf_2d"),
        second_cv=cv_settings(SECOND_CV[1]),
    script:
        "../scripts/plot_pmf_2d.py"
