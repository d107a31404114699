"""The image catalog's generator: which images each component's render names, and where
(stackgen/compile/images-<pin>.yaml). It runs on the real render, from the tests
(`python3 -m pytest tests/test_upstream_builds.py -k image_catalog --update-goldens`); stackgen
itself only reads the catalog it wrote."""

from __future__ import annotations

import re
import typing as t

import yaml

from stackgen.compile import images

Resource = t.Mapping[str, t.Any]
# Where a string may hold part of an image: these split it into fields, the narrowest wins.
DELIMITERS = ('"', "'", "=", " ", "\n")
_HASH_SUFFIX = re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{10}$")


def embedded(resource: Resource, exclude: t.Callable[[str], bool]) -> list[images.EmbeddedImage]:
    """The parts of `resource`'s strings that name images `exclude` does not accept (already mirrored)."""
    kind, namespace, name = images._identity(resource)
    owner = (str(resource.get("apiVersion")), kind, namespace, _generated_name(kind, name))
    found = []
    for _, field, value, named in images._named_images(resource):
        wanted = sorted({image for image in named if not exclude(image)})
        if wanted:
            found += _segments(owner, field, value, wanted)
    return found


def _generated_name(kind: str, name: str) -> str:
    """kustomize selects a generated ConfigMap or Secret by the name it was generated with,
    before its content-hash suffix (`-` and ten letters of kustomize's hash alphabet)."""
    if kind in ("ConfigMap", "Secret") and _HASH_SUFFIX.search(name):
        return _HASH_SUFFIX.sub("", name)
    return name


def _segments(owner: tuple[str, str, str, str], field: str, value: str, wanted: list[str]) -> list[images.EmbeddedImage]:
    """Every occurrence of each image, in the narrowest fields of `value` split on one of
    DELIMITERS (or the whole value)."""
    result: dict[tuple[str, int], images.EmbeddedImage] = {}
    for image in wanted:
        delimiter = min(("", *DELIMITERS), key=lambda d: (_narrowest(value, d, image), d != ""))
        parts = value.split(delimiter) if delimiter else [value]
        for index, segment in enumerate(parts):
            if image in segment:
                # Every wanted image in the segment: its replacement must not undo another's.
                inside = tuple(sorted(other for other in wanted if other in segment))
                result[(delimiter, index)] = images.EmbeddedImage(*owner, field, delimiter, index, segment, inside)
    return [result[key] for key in sorted(result)]


def _narrowest(value: str, delimiter: str, image: str) -> int:
    """The longest segment holding `image` when `value` is split on `delimiter`: small is precise."""
    parts = value.split(delimiter) if delimiter else [value]
    return max(len(part) for part in parts if image in part)


def container_names(resources: t.Iterable[Resource]) -> tuple[str, ...]:
    """Names (without tag or digest, as written) of every `image` field: what `images:` matches."""
    return tuple(sorted({images.split(ref.image)[0] for r in resources for ref in images.image_refs(r) if ref.path.endswith(".image")}))


def catalog_entry(names: tuple[str, ...], after_images: t.Iterable[Resource], mirror: str) -> images.ComponentImages:
    """A component's catalog entry from its render with `images:` applied for `names` onto `mirror`:
    whatever still names an unmirrored image is what `replacements:` must reach."""
    leftovers = sorted({e for r in after_images for e in embedded(r, lambda image: images.in_mirror(image, mirror))})
    return images.ComponentImages(names, tuple(leftovers))


def dump_catalog(pin: str, entries: t.Mapping[str, images.ComponentImages]) -> str:
    body = {
        "pin": pin,
        "components": {
            component: {"names": list(entry.names), **({"embedded": [_embedded_json(e) for e in entry.embedded]} if entry.embedded else {})}
            for component, entry in sorted(entries.items())
        },
    }
    header = (
        f"# Images each component renders at kubeflow/manifests {pin}, for `spec.registry.mirror`.\n"
        "# Generated from the real render: python3 -m pytest tests/test_upstream_builds.py tests/test_releases.py -k image_catalog --update-goldens\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False, width=4096)


def _embedded_json(entry: images.EmbeddedImage) -> dict[str, t.Any]:
    return {
        "apiVersion": entry.api_version, "kind": entry.kind, "namespace": entry.namespace, "name": entry.name, "fieldPath": entry.field_path,
        "delimiter": entry.delimiter, "index": entry.index, "segment": entry.segment, "images": list(entry.images),
    }
