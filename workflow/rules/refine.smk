rule refine_path:
    input:
        unpack(refine_inputs),
    output:
        images=refined_images_path(STUDY),
        summary=report(
            f"{RESULTS}/path/refinement.json",
            caption="../report/refinement.rst",
            category="Reaction path",
        ),
    log:
        f"logs/refine_path/{STUDY}.log",
    conda:
        "../../envs/mlpmf.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
        gpu=0,
    params:
        **settings_for("refine_path"),
        windows=all_window_specs(),
        bin_edges=bin_edges(config).tolist(),
        seed=SEEDS["refine_path"],
    script:
        "../scripts/refine_path.py"
