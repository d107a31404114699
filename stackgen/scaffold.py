"""scaffold: `stackgen init` writes a commented starter stack.yaml and the schema editors read.

The starter validates and builds as written, for every cloud and engine: one cluster per cloud
asked for, a dataset on the first cluster, a training job beside it (data does not move) and a
model served on every cluster. It lists no component that brings upstream's default
credentials (Dex, MySQL), since on Azure and on-prem those need secret references only the
user can name; the template shows how to add them.

Its modeline points at `stack.schema.json`, written beside it with the bytes `stackgen schema`
prints. A relative file beside the stack is the one reference that works wherever the
repository is cloned, offline, and whichever Python or virtualenv installed stackgen (an
absolute path into site-packages breaks on every other machine; a URL needs the network and
may not match the installed version).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

from stackgen.errors import Exists as Exists

Engine = t.Literal["argocd", "flux"]
CLOUDS: tuple[Cloud, ...] = ("aws", "gcp", "azure", "onprem")
ENGINES: tuple[Engine, ...] = ("argocd", "flux")

if t.TYPE_CHECKING:  # the CLI reads CLOUDS and ENGINES for its options; only `init` needs the rest
    import jinja2

    from stackgen.model import Cloud
SCHEMA_NAME = "stack.schema.json"


@dataclass(frozen=True)
class Site:
    """One starter cluster: realistic names, and the identity its cloud needs to read data."""

    cloud: Cloud
    name: str
    region: str
    server: str
    gpu_type: str
    identity: str | None  # the cloud's workload identity (the template names its field)
    data_uri: str
    model_uri: str
    store: str
    store_key: str


SITES: t.Mapping[Cloud, Site] = {
    "aws": Site("aws", "aws-use1", "us-east-1", "https://EXAMPLE0123456789.gr7.us-east-1.eks.amazonaws.com", "a100",
                "arn:aws:iam::123456789012:role/ml-platform-workloads",
                "s3://example-ml-data/datasets/example", "s3://example-ml-models/example/v1",
                "aws-secrets-manager", "ml-platform/example"),
    "gcp": Site("gcp", "gcp-euw4", "europe-west4", "https://203.0.113.10", "l4",
                "ml-workloads@example-ml-project.iam.gserviceaccount.com",
                "gs://example-ml-data/datasets/example", "gs://example-ml-models/example/v1",
                "gcp-secret-manager", "ml-platform-example"),
    "azure": Site("azure", "azure-weu", "westeurope", "https://ml-platform-weu.hcp.westeurope.azmk8s.io:443", "a100",
                  "0b8f7c1e-4d2a-4f6b-9c3e-5a7d1e2f3b4c",
                  "az://example-ml-data/datasets/example", "https://examplemlmodels.blob.core.windows.net/models/example/v1",
                  "azure-key-vault", "ml-platform-kv/example"),
    "onprem": Site("onprem", "onprem-fra", "fra", "https://k8s.fra.example.internal:6443", "l40s", None,
                   "pvc://example-data", "s3://example-ml-models/example/v1",
                   "vault", "https://vault.example.internal:8200/secret/ml/example"),
}


def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("stackgen", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # YAML, not HTML
    )


def sites(clouds: t.Sequence[Cloud]) -> tuple[Site, ...]:
    """One site per cloud, in the order first asked for (a repeated cloud adds nothing)."""
    return tuple(SITES[cloud] for cloud in dict.fromkeys(clouds or ("aws",)))


def render(clouds: t.Sequence[Cloud], engine: Engine) -> str:
    """The starter stack.yaml: pure, the same text for the same clouds and engine."""
    return _environment().get_template("stack.yaml.j2").render(sites=sites(clouds), engine=engine, schema=SCHEMA_NAME)


def files(output: Path, clouds: t.Sequence[Cloud], engine: Engine) -> dict[Path, bytes]:
    """What init writes: the schema first, so the stack never names a schema that is missing."""
    from stackgen.schemafile import schema_text

    return {output.parent / SCHEMA_NAME: schema_text().encode(), output: render(clouds, engine).encode()}


def write(output: Path, clouds: t.Sequence[Cloud], engine: Engine) -> list[Path]:
    """Write the starter files, refusing (before writing anything) to replace one that differs.

    The stack is never overwritten; a schema with the same bytes is kept, since init run for a
    second stack in the same folder shares it. Returns the paths actually written.
    """
    if output.name == SCHEMA_NAME:
        raise Exists(f"{output} is where the schema goes; choose another name for the stack")
    planned = files(output, clouds, engine)
    if output.exists() or output.is_symlink():
        raise Exists(f"{output} exists; not overwriting it (remove it, or choose another path with -o)")
    schema = output.parent / SCHEMA_NAME
    if schema.is_file() and schema.read_bytes() != planned[schema]:
        raise Exists(f"{schema} exists and differs from this stackgen's schema; not overwriting it "
                     f"(refresh it with `stackgen schema > {schema}`, or choose another folder with -o)")
    if schema.exists() and not schema.is_file():
        raise Exists(f"{schema} exists and is not a file")
    output.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for path, data in planned.items():
        if path == schema and schema.is_file():
            continue  # identical, checked above
        _create(path, data)
        written.append(path)
    return written


def _create(path: Path, data: bytes) -> None:
    """Exclusive create: a file that appeared since the checks above is never clobbered."""
    try:
        with path.open("xb") as handle:
            handle.write(data)
    except FileExistsError:
        raise Exists(f"{path} exists; not overwriting it") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
