rule provenance:
    output:
        report(
            f"{RESULTS}/provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        f"logs/provenance/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        config={k: v for k, v in STUDY_CONFIG.items() if k != "device"},  # results' inputs
        seeds=SEEDS,
        workflow_directory=workflow.basedir,
    script:
        "../scripts/provenance.py"
