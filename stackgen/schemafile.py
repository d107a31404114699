"""Where stack.yaml's JSON Schema is: inside the package when installed from a wheel, in
`schemas/` in a checkout. Read by validate, printed by `stackgen schema` and `init`, and part of
what a build record is keyed by (buildcache): a changed schema may reject a stack it accepted."""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path


def schema_path() -> Path:
    packaged = importlib.resources.files("stackgen") / "stack.schema.json"
    if packaged.is_file():  # installed from a wheel, which carries the schema inside the package
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas" / "stack.schema.json"


@functools.cache
def schema_text() -> str:
    return schema_path().read_text("utf-8")
