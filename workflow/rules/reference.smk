rule sample_reference:
    input:
        **PATH_INPUT,
        structure=config["system"]["structure"],
    output:
        train=f"{RESULTS}/dataset/train.extxyz",
        test=f"{RESULTS}/dataset/test.extxyz",
        oracle=f"{RESULTS}/dataset/oracle.json",
    log:
        f"logs/sample_reference/{STUDY}.log",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        **settings_for("sample_reference"),
        scan_centers=scan_centers(config, CENTERS),
        seed=SEEDS["sample_reference"],
    script:
        "../scripts/sample_reference.py"
