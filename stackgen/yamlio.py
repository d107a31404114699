"""Safe YAML reading for the files stages read back (renders, goldens, CRDs, kustomizations).

libyaml's parser where present: renders and CRDs are megabytes, which pure-Python PyYAML parses
several times slower. stack.yaml itself is read by `load`, from its event stream, not here.
"""

from __future__ import annotations

import typing as t

import yaml

LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str | bytes) -> t.Any:
    return yaml.load(text, Loader=LOADER)


def load_all(text: str | bytes) -> t.Iterator[t.Any]:
    return yaml.load_all(text, Loader=LOADER)
