rule train_committee:
    input:
        train=f"{RESULTS}/dataset/train.extxyz",
        test=f"{RESULTS}/dataset/test.extxyz",
    output:
        model=f"{RESULTS}/model/committee.pt",
        metrics=f"{RESULTS}/model/metrics.json",
    log:
        f"logs/train_committee/{STUDY}.log",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    params:
        **settings_for("train_committee"),
        data_temperature_k=data_temperature_k(config),
        seed=SEEDS["train_committee"],
    script:
        "../scripts/train_committee.py"


rule train_gaussian_process:
    input:
        train=f"{RESULTS}/dataset/train.extxyz",
        test=f"{RESULTS}/dataset/test.extxyz",
    output:
        model=f"{RESULTS}/model/gaussian_process.pt",
        metrics=f"{RESULTS}/model/gaussian_process_metrics.json",
    log:
        f"logs/train_gaussian_process/{STUDY}.log",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    params:
        **settings_for("train_gaussian_process"),
        seed=SEEDS["train_gaussian_process"],
    script:
        "../scripts/train_gaussian_process.py"
