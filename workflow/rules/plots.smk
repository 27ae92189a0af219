rule plot_pmf:
    input:
        unpack(reference_barrier_inputs),
        unpack(reference_pmf_inputs("reference_pmf")),
        mbar=f"{RESULTS}/free_energy/pmf_mbar.csv",
        wham=f"{RESULTS}/free_energy/pmf_wham.csv",
        rates=f"{RESULTS}/free_energy/rates.json",
        windows=f"{RESULTS}/umbrella/windows.csv",
        trajectories=window_trajectory_paths,
    output:
        pmf=report(
            f"{RESULTS}/plots/pmf.png",
            caption="../report/pmf.rst",
            category="Free energy",
        ),
        histograms=report(
            f"{RESULTS}/plots/window_histograms.png",
            caption="../report/window_histograms.rst",
            category="Umbrella sampling",
        ),
    log:
        f"logs/plot_pmf/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        **settings_for("plot_pmf"),
        exact_oracle=exact_pmf_oracle(config),
    script:
        "../scripts/plot_pmf.py"


rule plot_model:
    input:
        model=f"{RESULTS}/model/committee.pt",
        metrics=f"{RESULTS}/model/metrics.json",
        gaussian_process=f"{RESULTS}/model/gaussian_process.pt",
        gaussian_process_metrics=f"{RESULTS}/model/gaussian_process_metrics.json",
        test=f"{RESULTS}/dataset/test.extxyz",
    output:
        parity=report(
            f"{RESULTS}/plots/force_parity.png",
            caption="../report/force_parity.rst",
            category="Committee",
        ),
        learning_curve=report(
            f"{RESULTS}/plots/learning_curve.png",
            caption="../report/learning_curve.rst",
            category="Committee",
        ),
        uncertainty=report(
            f"{RESULTS}/plots/uncertainty_vs_error.png",
            caption="../report/uncertainty_vs_error.rst",
            category="Committee",
        ),
    log:
        f"logs/plot_model/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    script:
        "../scripts/plot_model.py"
