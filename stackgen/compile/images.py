"""images: the container images a render pulls, and their rewrite onto a private registry mirror.

An image `ghcr.io/kubeflow/x:v1` mirrors to `<mirror>/ghcr.io/kubeflow/x:v1`: the source
registry stays in the path, so images of two registries never collide in the mirror and every
mirrored name maps back to its source (`stackgen images` prints both, for `crane copy` or
`skopeo copy`).

Overlays must be self-contained (Argo CD and Flux build them), so the rewrite is kustomize's
own, in each unit: `images:` for every container, and for the images upstream keeps elsewhere
(KServe's ClusterStorageContainer and JSON config, Knative's queue image, Katib's and Jupyter's
config, Argo's executor flag, the KFP driver) `replacements:` that swap just the part of the
string naming the image, its value carried in an annotation on the same object, so no upstream
text is copied into the overlay. Where each image sits is read from a catalog per upstream pin
(`images-<pin>.yaml`), generated from the real render and checked fresh by the tests.
"""

from __future__ import annotations

import functools
import json
import re
import typing as t
from dataclasses import dataclass
from importlib import resources as package_files

import yaml

Resource = t.Mapping[str, t.Any]

DOCKER_HUB = "docker.io"
# Keys nothing reads (KServe ships `_example` as documentation): dropped when mirroring rather
# than rewritten, since they would otherwise name unmirrored images.
DOCUMENTATION_KEYS = {("ConfigMap", "kubeflow", "inferenceservice-config"): ("_example",)}
_TOKEN = re.compile(r"[A-Za-z0-9][\w.\-/:@]*")
_TAGGED = re.compile(r"(:[\w][\w.\-]{0,127}|@sha256:[0-9a-f]{64})$")
_IMAGE_KEY = re.compile(r"image[\w-]*[\"']?\s*[:=]\s*[\"']?$", re.IGNORECASE)


@dataclass(frozen=True)
class ImageRef:
    """Where one image is named: a resource, and a JSON path inside it."""

    image: str
    kind: str
    namespace: str
    name: str
    path: str


@dataclass(frozen=True, order=True)
class EmbeddedImage:
    """Part of a string field naming images kustomize's `images:` does not reach.

    The string at `field_path` (kustomize notation) split on `delimiter` (none: the whole
    value) has `segment` at `index`; mirroring replaces the images inside that segment.
    """

    api_version: str
    kind: str
    namespace: str
    name: str
    field_path: str
    delimiter: str
    index: int
    segment: str
    images: tuple[str, ...]


@dataclass(frozen=True)
class ComponentImages:
    """What one component renders at a pin: container image names as written, and the rest."""

    names: tuple[str, ...]
    embedded: tuple[EmbeddedImage, ...] = ()


# --- image references --------------------------------------------------------------------


def split(image: str) -> tuple[str, str]:
    """`quay.io/a/b:v1@sha256:x` -> (`quay.io/a/b`, `:v1@sha256:x`); the name is what kustomize matches."""
    name, at, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon:]
    else:
        tag = ""
    return name, tag + (at + digest if at else "")


def qualified(name: str) -> str:
    """`nginx` -> `docker.io/library/nginx`, `kserve/agent` -> `docker.io/kserve/agent`; others as is."""
    first, slash, rest = name.partition("/")
    if not slash:
        return f"{DOCKER_HUB}/library/{name}"
    if "." in first or ":" in first or first == "localhost":
        return name
    return f"{DOCKER_HUB}/{name}"


def mirrored_name(name: str, mirror: str) -> str:
    return f"{mirror.rstrip('/')}/{qualified(name)}"


def mirrored(image: str, mirror: str) -> str:
    name, suffix = split(image)
    return mirrored_name(name, mirror) + suffix


def source_of(image: str, mirror: str | None) -> str:
    """The fully qualified image a (possibly mirrored) reference was made from."""
    prefix = f"{mirror.rstrip('/')}/" if mirror else None
    if prefix and image.startswith(prefix):
        return image[len(prefix):]
    name, suffix = split(image)
    return qualified(name) + suffix


def in_mirror(image: str, mirror: str) -> bool:
    return image.startswith(f"{mirror.rstrip('/')}/")


# --- finding images in rendered resources --------------------------------------------------


def image_refs(resource: Resource) -> t.Iterator[ImageRef]:
    """Every image a resource names: `image` fields at any depth, and images inside other strings."""
    kind, namespace, name = _identity(resource)
    for path, _, _, found in _named_images(resource):
        for image in found:
            yield ImageRef(image, kind, namespace, name, path)


def _identity(resource: Resource) -> tuple[str, str, str]:
    metadata = resource.get("metadata") or {}
    return str(resource.get("kind")), str(metadata.get("namespace", "")), str(metadata.get("name"))


def _named_images(resource: Resource) -> t.Iterator[tuple[str, str, str, list[str]]]:
    """(JSON path, kustomize field path, value, images it names) of every string naming images."""
    if resource.get("kind") == "CustomResourceDefinition":
        return  # a schema: megabytes of descriptions, and nothing a kubelet pulls
    skipped = DOCUMENTATION_KEYS.get(_identity(resource), ())
    for path, field, key, value in _strings(resource, "$", ""):
        # Metadata names nothing a kubelet pulls (the mirror's own annotations live there).
        if path.startswith("$.metadata.") or (path.startswith("$.data.") and key in skipped):
            continue
        found = [value] if key == "image" else images_in(value) if "/" in value else []
        if found:
            yield path, field, value, found


def images_in(text: str) -> list[str]:
    """Images named inside free text: `--executor-image=quay.io/argoproj/argoexec:v3.7.3`,
    `"image" : "kserve/agent:v0.16.0"`, `value: ghcr.io/kubeflow/x:v1`; never URLs."""
    found = []
    for match in _TOKEN.finditer(text):
        token = match.group(0).rstrip(".:")
        if "/" not in token or "://" in text[match.start():match.end() + 3] or token.startswith("/"):
            continue
        first = token.split("/", 1)[0]
        registry = ("." in first or first == "localhost") and _TAGGED.search(token)
        keyed = _IMAGE_KEY.search(text[max(0, match.start() - 40):match.start()])
        if registry or keyed:
            found.append(token)
    return found


def _strings(node: t.Any, path: str, field: str, key: str = "") -> t.Iterator[tuple[str, str, str, str]]:
    """(JSON path, kustomize field path, key, value) of every string, lists addressed by `name` where unique."""
    if isinstance(node, dict):
        for child_key, value in node.items():
            part = f"[{child_key}]" if "." in str(child_key) or "/" in str(child_key) else str(child_key)
            yield from _strings(value, f"{path}.{child_key}", f"{field}.{part}" if field else part, str(child_key))
    elif isinstance(node, list):
        names = [item.get("name") for item in node if isinstance(item, dict)]
        for index, value in enumerate(node):
            label = value.get("name") if isinstance(value, dict) else None
            step = f"[name={label}]" if isinstance(label, str) and names.count(label) == 1 else str(index)
            yield from _strings(value, f"{path}[{index}]", f"{field}.{step}", key)
    elif isinstance(node, str):
        yield path, field, key, node


# --- the catalog ---------------------------------------------------------------------------





def catalog_file(pin: str) -> str:
    return f"images-{pin}.yaml"


@functools.cache
def catalog(pin: str) -> t.Mapping[str, ComponentImages]:
    text = package_files.files("stackgen.compile").joinpath(catalog_file(pin)).read_text("utf-8")
    body = yaml.safe_load(text)
    return {
        component: ComponentImages(
            tuple(entry["names"]),
            tuple(EmbeddedImage(e["apiVersion"], e["kind"], e["namespace"], e["name"], e["fieldPath"], e["delimiter"], e["index"], e["segment"], tuple(e["images"]))
                  for e in entry.get("embedded", ())),
        )
        for component, entry in body["components"].items()
    }


# --- the overlay side: what a unit's kustomization gets -------------------------------------


def unit_rewrites(entry: ComponentImages, mirror: str) -> dict[str, t.Any]:
    """kustomization fields (`images`, `patches`, `replacements`) that move a unit onto `mirror`."""
    fields: dict[str, t.Any] = {}
    if entry.names:
        fields["images"] = [{"name": name, "newName": mirrored_name(name, mirror)} for name in entry.names]
    owners = sorted({(e.api_version, e.kind, e.namespace, e.name) for e in entry.embedded})
    if owners:
        fields["patches"] = [_annotation_patch(owner, entry.embedded, mirror) for owner in owners]
    if entry.embedded:
        fields["replacements"] = _replacements(entry.embedded)
    return fields


def annotation_key(entry: EmbeddedImage, entries: t.Sequence[EmbeddedImage]) -> str:
    """Named after the (first) image the segment holds; numbered where two on one object share a name."""
    base = split(entry.images[0])[0].rsplit("/", 1)[-1][:50]
    same = [e for e in entries if (e.kind, e.namespace, e.name) == (entry.kind, entry.namespace, entry.name)
            and split(e.images[0])[0].rsplit("/", 1)[-1][:50] == base]
    values = sorted({e.segment for e in same})
    suffix = f"-{values.index(entry.segment) + 1}" if len(values) > 1 else ""
    return f"images.stackgen.io/{base}{suffix}"


def replaced(entry: EmbeddedImage, mirror: str) -> str:
    segment = entry.segment
    for image in sorted(entry.images, key=len, reverse=True):
        segment = segment.replace(image, mirrored(image, mirror))
    return segment


def _annotation_patch(owner: tuple[str, str, str, str], entries: t.Sequence[EmbeddedImage], mirror: str) -> dict[str, t.Any]:
    api_version, kind, namespace, name = owner
    mine = [e for e in entries if (e.api_version, e.kind, e.namespace, e.name) == owner]
    metadata: dict[str, t.Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    annotations = {annotation_key(e, entries): replaced(e, mirror) for e in mine}
    if annotations:
        metadata["annotations"] = dict(sorted(annotations.items()))
    # A strategic merge patch: annotations upstream sets are kept, `null` drops a data key.
    body: dict[str, t.Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if DOCUMENTATION_KEYS.get((kind, namespace, name)):
        body["data"] = {key: None for key in DOCUMENTATION_KEYS[(kind, namespace, name)]}
    target = {"kind": kind, "name": name, **({"namespace": namespace} if namespace else {})}
    return {"target": target, "patch": yaml.safe_dump(body, sort_keys=False, width=4096)}


def _replacements(entries: t.Sequence[EmbeddedImage]) -> list[dict[str, t.Any]]:
    """One replacement per annotation, into every field segment that holds the same images."""
    grouped: dict[tuple[str, str, str, str], list[EmbeddedImage]] = {}
    for entry in entries:
        grouped.setdefault((entry.kind, entry.namespace, entry.name, annotation_key(entry, entries)), []).append(entry)
    replacements = []
    for (kind, namespace, name, key), users in sorted(grouped.items()):
        select = {"kind": kind, "name": name, **({"namespace": namespace} if namespace else {})}
        targets = []
        for user in users:
            target: dict[str, t.Any] = {"select": select, "fieldPaths": [user.field_path]}
            if user.delimiter:
                target["options"] = {"delimiter": user.delimiter, "index": user.index}
            targets.append(target)
        source: dict[str, str] = {**select, "fieldPath": f"metadata.annotations.[{key}]"}
        replacements.append({"source": source, "targets": targets})
    return replacements


# --- listing: what to copy into the mirror --------------------------------------------------


@dataclass(frozen=True)
class Pulled:
    """One image a cluster pulls: its source, where it comes from with the mirror set, and who names it."""

    source: str
    target: str | None
    refs: tuple[ImageRef, ...]


def pulled(resources: t.Iterable[Resource], mirror: str | None) -> list[Pulled]:
    by_source: dict[str, list[ImageRef]] = {}
    for resource in resources:
        for ref in image_refs(resource):
            by_source.setdefault(source_of(ref.image, mirror), []).append(ref)
    return [Pulled(source, mirrored(source, mirror) if mirror else None, tuple(refs)) for source, refs in sorted(by_source.items())]


def render_text(listing: t.Mapping[str, t.Sequence[Pulled]]) -> str:
    """Per cluster, one image per line; with a mirror, `source target`, ready for `crane copy`."""
    lines = []
    for cluster, images in sorted(listing.items()):
        lines.append(f"# {cluster}: {len(images)} images")
        lines += [f"{image.source} {image.target}" if image.target else image.source for image in images]
    return "".join(line + "\n" for line in lines)


def render_json(listing: t.Mapping[str, t.Sequence[Pulled]]) -> str:
    body = {
        cluster: [
            {
                "source": image.source,
                "target": image.target,
                "references": [{"kind": r.kind, "namespace": r.namespace, "name": r.name, "path": r.path} for r in image.refs],
            }
            for image in images
        ]
        for cluster, images in sorted(listing.items())
    }
    return json.dumps(body, indent=2) + "\n"
