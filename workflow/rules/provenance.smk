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
        config=STUDY_SETTINGS,  # what the rules read (mlpmf.scope.effective_config)
        seeds=canonical(SEEDS),
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
        **settings_for("oracle_ledger"),
    script:
        "../scripts/oracle_ledger.py"
