"""The commented ector.yaml template, generated from the settings model so it cannot drift from it."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from ector.settings import Settings

_HEADER = """\
# Ector settings. Every key is optional; the values shown are the defaults.
# Precedence: command-line flags > ECTOR_ environment variables (ECTOR_SOURCE__URI, `__` nests) > this file.
# Secrets (source.password, privacy.*_key) belong in the environment, not in this file.
"""

_MAPPING_EXAMPLE = """\
  # tables:                    # canonical table -> its name and column names in your Gold layer
  #   cases:
  #     name: fact_surgical_case
  #     columns: {surgery_start: proc_start_ts, surgeon_id: primary_surgeon}
  #   surgeons: {name: dim_surgeon}
"""


def settings_template() -> str:
    """The text of a commented ector.yaml holding every setting at its default."""
    defaults = Settings.model_construct()
    lines = [_HEADER]
    for name, field in Settings.model_fields.items():
        value = getattr(defaults, name)
        if isinstance(value, BaseModel):
            lines.append(f"{field.alias or name}:")
            for sub_name, sub_field in type(value).model_fields.items():
                key = sub_field.alias or sub_name
                if key == "tables":
                    lines.append(_MAPPING_EXAMPLE.rstrip("\n"))
                    continue
                lines.append(_line(f"  {key}", getattr(value, sub_name), sub_field.description))
        else:
            lines.append(_line(field.alias or name, value, field.description))
    return "\n".join(lines) + "\n"


def _line(key: str, value: Any, description: str | None) -> str:
    if hasattr(value, "as_posix"):
        value = value.as_posix()
    if hasattr(value, "get_secret_value"):
        value = None
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    comment = f"  # {description}" if description else ""
    return f"{key}: {text}{comment}"
