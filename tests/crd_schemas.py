"""CRD schemas from several folders, strict or not: what the CRD tests compare against (verify
itself reads one folder, through `crds.schemas_from_dir`)."""

from __future__ import annotations

import typing as t
from pathlib import Path

from stackgen import crds


def load_crd_schemas(dirs: Path | str | t.Iterable[Path | str], strict: bool = False) -> dict[crds.TypeKey, crds.Schema]:
    """Every CRD under each of `dirs` (a missing dir adds nothing); the first dir defining a type wins."""
    roots = [Path(dirs)] if isinstance(dirs, (str, Path)) else [Path(d) for d in dirs]
    found: dict[crds.TypeKey, crds.Schema] = {}
    for root in roots:
        for key, schema in crds._schemas_in_dir(root, strict).items():
            found.setdefault(key, schema)
    return found
