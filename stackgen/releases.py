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

from stackgen import catalog
from stackgen import mirror as mirrors
from stackgen.diagnostics import Finding, JsonPath
from stackgen.errors import UpstreamOptionError as UpstreamOptionError


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
    """The folder `--upstream` gave for `pin`, if any: its tagged one, else the untagged one,
    which the caller still checks with `serves` (and names, with what it holds, when it does not)."""
    return choice.tagged.get(pin, choice.plain)


def serves(root: Path, pin: str) -> bool:
    """Whether the folder is a mirror that can render `pin`."""
    return (root / "remotes.yaml").is_file() and held_release(root) in (pin, None)


# --- rollout waves -------------------------------------------------------------------------
#
# `spec.rollout.waves` names the fleet's clusters in rollout order, canary first. A wave may pin
# its own release and git revision; a cluster runs its wave's release (or the fleet's).

# Their codes, SG250-SG253, are in the one registry, stackgen/codes.py.


@dataclass(frozen=True)
class WaveAssignment:
    """The wave one cluster belongs to, as the model records it."""

    wave: str
    index: int
    release: str
    revision: str


class _InAWave(t.Protocol):
    @property
    def release(self) -> str | None: ...


def release_of(fleet: str, cluster: _InAWave) -> str:
    """The release a cluster runs: its wave's, else the fleet's."""
    return cluster.release or fleet


def unit_name(name: str, release: str, fleet: str) -> str:
    """Units of the fleet's release keep their names; another release's are `<unit>-<release>`.

    The release tag has a dot, which no cluster name (a DNS-1123 label) has, so the name never
    meets a per-cluster unit's; it is still valid in a folder, an object name and a label value.
    """
    return name if release == fleet else f"{name}-{release}"


def newer(release: str, than: str) -> bool:
    return catalog.SUPPORTED_RELEASES.index(release) > catalog.SUPPORTED_RELEASES.index(than)


def _members(spec: t.Mapping[str, t.Any]) -> tuple[dict[str, int], list[tuple[JsonPath, str, str, str]]]:
    """cluster name -> index of its wave, and the clashes: (path, cluster, this wave, the other).

    A wave naming a cluster wins over waves selecting it by role, so "canary: [gcp-euw4]; rest:
    [training]" puts gcp-euw4 in canary alone; two waves naming it, or (none naming it) two
    selecting it by role, clash. Linear: each selector is looked up in a name and a role index.
    """
    waves = (spec.get("rollout") or {}).get("waves") or []
    clusters = [c for c in spec.get("clusters") or [] if isinstance(c, dict)]
    names = {str(c.get("name")) for c in clusters}
    by_role: dict[str, list[str]] = {}
    for cluster in clusters:
        for role in cluster.get("roles") or ():
            by_role.setdefault(str(role), []).append(str(cluster.get("name")))
    selectors = [(("spec", "rollout", "waves", index, "clusters", position), index, selector)
                 for index, wave in enumerate(waves) for position, selector in enumerate(wave.get("clusters") or ())]
    clashes: list[tuple[JsonPath, str, str, str]] = []

    def pick(into: dict[str, int], path: JsonPath, name: str, index: int) -> None:
        earlier = into.setdefault(name, index)
        if earlier != index:
            clashes.append((path, name, waves[index]["name"], waves[earlier]["name"]))

    named: dict[str, int] = {}
    for path, index, selector in selectors:
        if selector in names:
            pick(named, path, selector, index)
    by_roles: dict[str, int] = {}
    for path, index, selector in selectors:
        if selector not in names:
            for name in by_role.get(selector, []):
                if name not in named:
                    pick(by_roles, path, name, index)
    return {**by_roles, **named}, clashes


def assign(spec: t.Mapping[str, t.Any]) -> dict[str, WaveAssignment]:
    """cluster name -> its wave. Empty without waves."""
    waves = (spec.get("rollout") or {}).get("waves") or []
    fleet_release = (spec.get("upstream") or {}).get("kubeflow", catalog.DEFAULT_RELEASE)
    fleet_revision = (spec.get("gitops") or {}).get("revision", "main")
    members, _ = _members(spec)
    return {name: WaveAssignment(waves[i]["name"], i, waves[i].get("kubeflow", fleet_release), waves[i].get("revision", fleet_revision))
            for name, i in members.items()}


def wave_findings(spec: t.Mapping[str, t.Any]) -> list[Finding]:
    """Each cluster in exactly one wave; no later wave on a newer release than an earlier one.

    Linear in clusters x selectors: each selector is looked up in a name and role index.
    """
    waves = (spec.get("rollout") or {}).get("waves")
    if not isinstance(waves, list):
        return []
    clusters = [c for c in spec.get("clusters") or [] if isinstance(c, dict)]
    known = {str(c.get("name")) for c in clusters} | {str(r) for c in clusters for r in c.get("roles") or ()}
    members, clashes = _members(spec)
    findings = [Finding(path, "SG251", f"cluster `{name}` is in wave `{other}` already; a cluster is in exactly one wave",
                        hint="name it in one wave only (a wave that names a cluster wins over role matches)")
                for path, name, _, other in clashes]
    fleet_release = (spec.get("upstream") or {}).get("kubeflow", catalog.DEFAULT_RELEASE)
    oldest: tuple[str, str] | None = None  # (release, wave): the oldest release an earlier wave runs
    for index, wave in enumerate(waves):
        base: JsonPath = ("spec", "rollout", "waves", index)
        for position, selector in enumerate(wave.get("clusters") or ()):
            if selector not in known:
                findings.append(Finding((*base, "clusters", position), "SG250",
                                        f"wave `{wave['name']}` names `{selector}`, which is no cluster and no role of a cluster",
                                        hint="a cluster name, or one of training, serving, notebooks, edge that a cluster has"))
        release = wave.get("kubeflow", fleet_release)
        if oldest is not None and newer(release, oldest[0]):
            where = (*base, "kubeflow") if "kubeflow" in wave else (*base, "name")
            findings.append(Finding(where, "SG253",
                                    f"wave `{wave['name']}` runs kubeflow/manifests {release}, newer than {oldest[0]} of the earlier wave "
                                    f"`{oldest[1]}`; a release reaches the earlier (canary) waves first",
                                    hint=f"give `{oldest[1]}` {release} first, or this wave {oldest[0]}"))
        if oldest is None or newer(oldest[0], release):
            oldest = (release, wave["name"])
    for position, cluster in enumerate(clusters):
        if cluster.get("name") not in members:
            findings.append(Finding(("spec", "clusters", position), "SG252",
                                    f"cluster `{cluster.get('name')}` is in no wave of spec.rollout.waves; every cluster is in exactly one",
                                    hint="name it (or one of its roles) in a wave"))
    return findings
