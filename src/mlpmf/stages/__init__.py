"""The workflow's stages: one library entry point per rule, typed settings and paths in,
files out. A rule's script only reads ``snakemake.*`` and calls its stage, so what a
stage decides (error propagation, which columns a table gets, what is logged) is library
code with tests, not script code.

Stages sit on the top floor: they may use every other module, none uses them.
"""

import logging
import sys


def log_to(path: str) -> None:
    """Send this process's log (and anything written to stderr) to the rule's log file,
    line by line, so a long stage shows its progress there."""
    sys.stderr = open(path, "w", buffering=1)  # noqa: SIM115 - the process's stderr
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True)


def fail(message: str) -> None:
    """End the stage's job with ``message``: in the rule's log and on the terminal
    (Snakemake shows a failed job's own stderr), exit status 1, no traceback."""
    logging.error(message)
    print(message, file=sys.__stderr__)
    raise SystemExit(1)
