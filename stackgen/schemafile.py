"""Where stack.yaml's JSON Schema is: inside the package when installed from a wheel, in
`schemas/` in a checkout. Read by validate, printed by `stackgen schema` and `init`, and part of
what a build record is keyed by (buildcache): a changed schema may reject a stack it accepted."""

from __future__ import annotations

import functools
from pathlib import Path


def schema_path() -> Path:
    # Beside this file, not through importlib.resources: the same place for a package on disk,
    # and `validate` does not pay for that import (issue 19).
    here = Path(__file__).resolve().parent
    packaged = here / "stack.schema.json"
    if packaged.is_file():  # installed from a wheel, which carries the schema inside the package
        return packaged
    return here.parent / "schemas" / "stack.schema.json"


@functools.cache
def schema_text() -> str:
    return schema_path().read_text("utf-8")
