"""The layout compile gives the overlays: which pieces each cluster aggregates and how each piece
is built, so render never reads it back out of the YAML compile wrote.

A piece is a folder kustomize builds on its own: a unit (`units/<unit>`) or a cluster's own
objects (`clusters/<cluster>/own`). Most are built whole. A per-cluster unit over a shared one
(`base`) is built from the shared unit's render instead: its own files added, and, where it
patches named objects of the shared unit, only those objects built again with the patches. That
is what keeps a per-cluster value from rendering a large component once per cluster (issue 19).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

Resource = dict[str, t.Any]  # one Kubernetes object as kustomize printed it
OWN = "own"  # the folder, under clusters/<cluster>/, of the objects stackgen writes for that cluster alone


@dataclass(frozen=True)
class Piece:
    path: str  # relative to the overlays root: "units/<unit>" or "clusters/<cluster>/own"
    files: tuple[str, ...] = ()  # its own object files, by name, in its folder
    # Upstream's folders it lists, as written in its kustomization (a remote URL, or a path into
    # the vendored copy), and as catalog paths (`applications/pipeline/overlays`).
    upstream: tuple[str, ...] = ()
    upstream_paths: tuple[str, ...] = ()
    components: tuple[str, ...] = ()  # the layers it applies, relative to its folder
    base: str | None = None  # "units/<unit>": the shared unit a per-cluster unit is built over
    # Inline patches to named objects of `base` (each with a `target` of kind and name).
    patches: tuple[t.Mapping[str, t.Any], ...] = ()
    # Whether it changes what upstream renders (a namespace, a layer, a patch, an image rewrite):
    # then the upgrade plan and the golden need upstream's own render of its folders beside it.
    modifies_upstream: bool = False
    # A shared unit whose only changes to upstream are patches to named objects (its layers' and
    # its own, as {target, patch text}): its render is upstream's own with those objects built
    # again, so render builds the folders once for every unit over them (istio-aws and
    # istio-azure; kserve-edge and the goldens' kserve) and a few objects per unit. None where
    # anything else changes upstream (a namespace, image rewrites): then it is built whole.
    named_patches: tuple[t.Mapping[str, t.Any], ...] | None = None


@dataclass(frozen=True)
class Layout:
    clusters: t.Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # cluster -> its pieces, in order
    pieces: t.Mapping[str, Piece] = field(default_factory=dict)  # path -> piece, bases included
