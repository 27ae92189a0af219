"""End the run with an error when the results are untrusted and the config does not
accept that; every other result has been written (and marked) before this runs."""

import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

from mlpmf.io import read_json, write_json
from mlpmf.trust import UNTRUSTED_ADVICE, describe

document = read_json(snakemake.input.trust)
message = describe(document, f" {snakemake.params.cv_unit}")
if not document["trusted"] and not document["accepted"]:
    message = (
        f"{message}. The PMF, barrier and rate were written but are marked untrusted "
        "(free_energy/trust.json, the 'trusted' column of the PMF tables, rates.json; "
        "the HTML report's front page says the same: make run builds it anyway, by hand "
        f"snakemake --report {Path(snakemake.input.trust).parents[1]}/report.html). "
        f"What to do: {UNTRUSTED_ADVICE}"
    )
    logging.error(message)
    print(message, file=sys.__stderr__)
    sys.exit(1)
logging.info(message)
write_json({"trusted": document["trusted"], "accepted": document["accepted"]}, snakemake.output[0])
