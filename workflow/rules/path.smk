rule build_path:
    input:
        reactant=config["collective_variable"]["reactant"],
        product=config["collective_variable"]["product"],
    output:
        images=images_path(STUDY),
        summary=report(
            path_summary(STUDY),
            caption="../report/path.rst",
            category="Reaction path",
        ),
    log:
        f"logs/build_path/{STUDY}.log",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        **settings_for("build_path"),
        seed=SEEDS["build_path"],
    script:
        "../scripts/build_path.py"
