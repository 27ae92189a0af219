"""Rewrite the key table of config/README.md from the schema's descriptions and defaults.

    python workflow/schemas/document_config.py

The schema is the one source of every key's meaning and default; the table between the
markers in config/README.md is generated from it (tests check it is complete).
"""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
START, END = "<!-- keys: start -->", "<!-- keys: end -->"
LEAVES = {"umbrella.centers", "free_energy.bins", "observables.<name>.bins"}


def rows(node, prefix=""):
    children = dict(node.get("properties", {}))
    if isinstance(node.get("additionalProperties"), dict):
        children["<name>"] = node["additionalProperties"]
    for key, sub in children.items():
        path = f"{prefix}{key}"
        default = sub.get("default")
        shown = ""
        if default not in (None, {}):
            flow = yaml.safe_dump(default, default_flow_style=True).strip()
            shown = f"`{flow.removesuffix('...').strip()}`"
        nested = sub.get("type") == "object" and path not in LEAVES
        yield path, "" if nested else shown, sub.get("description", "").replace("\n", " ")
        if nested:
            yield from rows(sub, path + ".")


def render_table() -> str:
    """The markdown table of every config key."""
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    table = ["| key | default | meaning |", "| --- | --- | --- |"]
    table += [f"| `{path}` | {default} | {text} |" for path, default, text in rows(schema)]
    return "\n".join(table)


def main() -> None:
    readme = ROOT / "config/README.md"
    head, rest = readme.read_text().split(START)
    _, tail = rest.split(END)
    readme.write_text(f"{head}{START}\n{render_table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
