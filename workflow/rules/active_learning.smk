rule active_learning:
    input:
        **PATH_INPUT,
        train=f"{RESULTS}/dataset/train.extxyz",
        test=f"{RESULTS}/dataset/test.extxyz",
        reference=f"{RESULTS}/dataset/oracle.json",
        model=f"{RESULTS}/model/committee.pt",
        structure=config["system"]["structure"],
    output:
        model=f"{RESULTS}/active_learning/committee.pt",
        metrics=f"{RESULTS}/active_learning/metrics.json",
        oracle_calls=f"{RESULTS}/active_learning/oracle_calls.csv",
        iterations=f"{RESULTS}/active_learning/iterations.csv",
        disagreement=f"{RESULTS}/active_learning/disagreement.csv",
        dataset=f"{RESULTS}/active_learning/train.extxyz",
    log:
        f"logs/active_learning/{STUDY}.log",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=0,
    params:
        **settings_for("active_learning"),
        grid=canonical(GRID),
        second_cv=cv_settings(SECOND_CV[1]) if SECOND_CV else None,
        confirm_steps=confirm_steps(config),
        data_temperature_k=data_temperature_k(config),
        seed=SEEDS["active_learning"],
    script:
        "../scripts/active_learning.py"


rule plot_active_learning:
    input:
        **PATH_INPUT,
        metrics=f"{RESULTS}/active_learning/metrics.json",
        oracle_calls=f"{RESULTS}/active_learning/oracle_calls.csv",
        iterations=f"{RESULTS}/active_learning/iterations.csv",
        disagreement=f"{RESULTS}/active_learning/disagreement.csv",
        initial=f"{RESULTS}/dataset/train.extxyz",
    output:
        report(
            f"{RESULTS}/plots/active_learning.png",
            caption="../report/active_learning.rst",
            category="Active learning",
        ),
    log:
        f"logs/plot_active_learning/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        **settings_for("plot_active_learning"),
    script:
        "../scripts/plot_active_learning.py"
