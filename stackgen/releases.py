"""releases: which kubeflow/manifests release each cluster runs, and which mirror renders it.

`--upstream` takes one mirror per release: `--upstream TAG=DIR` (repeatable), or a plain
`--upstream DIR`, which serves the release its `remotes.yaml` maps (any release when it maps
none). A mirror that holds another release than the one asked for is never used for it: a
v1.11.0 render from a 26.03 mirror would fail late, or worse, render the wrong release.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from stackgen import mirror as mirrors


class UpstreamOptionError(ValueError):
    """An `--upstream` value that names no folder, or two folders for one release."""


@dataclass(frozen=True)
class MirrorChoice:
    """What `--upstream` named: folders per release tag, and at most one untagged folder."""

    tagged: t.Mapping[str, Path] = field(default_factory=dict)
    plain: Path | None = None


def parse_upstream(values: t.Sequence[str]) -> MirrorChoice:
    tagged: dict[str, Path] = {}
    plain: Path | None = None
    for value in values:
        tag, equals, folder = value.partition("=")
        # `TAG=DIR` only where TAG could be a release tag: a folder may have `=` in its name.
        if equals and tag and "/" not in tag and folder:
            if tag in tagged and tagged[tag] != Path(folder):
                raise UpstreamOptionError(f"--upstream names two mirrors for kubeflow/manifests {tag}: {tagged[tag]} and {folder}")
            tagged[tag] = Path(folder)
        else:
            if plain is not None and plain != Path(value):
                raise UpstreamOptionError(f"--upstream names two untagged mirrors ({plain} and {value}); tag them: --upstream TAG=DIR")
            plain = Path(value)
    return MirrorChoice(tagged, plain)


def held_release(root: Path) -> str | None:
    """The release the mirror at `root` holds, None when its remote map names none or is unreadable."""
    try:
        return mirrors.kubeflow_ref(mirrors.open_mirror(root))
    except (mirrors.MirrorError, OSError):
        return None


def explicit_for(choice: MirrorChoice, pin: str) -> Path | None:
    """The folder `--upstream` gave for `pin`, if any."""
    if pin in choice.tagged:
        return choice.tagged[pin]
    if choice.plain is not None and held_release(choice.plain) in (pin, None):
        return choice.plain
    return None


def serves(root: Path, pin: str) -> bool:
    """Whether the folder is a mirror that can render `pin`."""
    return (root / "remotes.yaml").is_file() and held_release(root) in (pin, None)
