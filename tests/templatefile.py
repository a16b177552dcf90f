"""What Terraform's `templatefile()` does to the workflow definitions, for the tests that read them.

A `${name}` placeholder becomes `values[name]`; `$${` becomes a literal `${` (how a definition writes
an expression of its own, such as a GCP Workflows one). A placeholder with no value is an error, as
it is in Terraform. Only plain names are supported: the definitions use nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}")


def placeholders(text: str) -> set[str]:
    """The names of a template's placeholders (escaped `$${...}` expressions excluded)."""
    return {m.group(1).strip() for m in _TOKEN.finditer(text) if m.group(1) is not None}


def render(text: str, values: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"
        name = match.group(1).strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"placeholder ${{{name}}} is not a plain name")
        if name not in values:
            raise KeyError(f"no value for the placeholder ${{{name}}}")
        return values[name]

    return _TOKEN.sub(substitute, text)
