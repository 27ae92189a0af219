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


rule oracle_ledger:
    input:
        unpack(ledger_inputs),
        reference=f"{RESULTS}/dataset/oracle.json",
        windows=f"{RESULTS}/umbrella/windows.csv",
    output:
        report(
            f"{RESULTS}/oracle_ledger.json",
            caption="../report/oracle_ledger.rst",
            category="Provenance",
        ),
    log:
        f"logs/oracle_ledger/{STUDY}.log",
    localrule: True
    conda:
        "../../envs/mlpmf.yaml"
    params:
        steps_per_window=config["umbrella"]["steps"]
        + config["umbrella"]["equilibration_steps"],
        production_steps=config["umbrella"]["steps"],
        oracle_every=config["umbrella"]["oracle_every"],
    script:
        "../scripts/oracle_ledger.py"
