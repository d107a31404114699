"""compile, external services: a cluster's own MySQL and object store in place of upstream's.

With `database`, Pipelines', Katib's and Model Registry's in-cluster MySQL leaves their units
and their pods are pointed at the external server; with `objectStore`, SeaweedFS leaves
Pipelines' unit and everything that reads or writes artifacts is pointed at the bucket. Both
go in the small per-cluster unit over the shared one (`<component>-<cluster>`), beside the
ExternalSecrets that fill the logins (place decides which, `_external_credentials`).
"""

from __future__ import annotations

import hashlib
import typing as t
from pathlib import Path

from stackgen import catalog, storage, yamlio
from stackgen.compile import workloads
from stackgen.model import Cluster, Database, ObjectStore


def patches(component: str, cluster: Cluster) -> list[t.Mapping[str, t.Any]]:
    """The patches of `<component>-<cluster>` that point `component` at the cluster's external services."""
    found: list[t.Mapping[str, t.Any]] = []
    if cluster.database and component in catalog.DATABASE_USERS:
        found += _external_database(catalog.DATABASE_USERS[component], cluster.database)
    if cluster.object_store and component == "pipelines":
        found += _external_object_store(cluster, cluster.object_store)
    return found


HOOK_CONFIGMAP = "stackgen-kfp-profile-hook"
HOOK_SOURCE = (Path(__file__).parent / "kfp_profile_hook.py").read_text("utf-8")


def objects(component: str, cluster: Cluster) -> dict[str, t.Mapping[str, t.Any]]:
    """Objects stackgen authors in `<component>-<cluster>` beside its patches: with an external
    object store, the profile controller's sync hook (compile/kfp_profile_hook.py)."""
    if component == "pipelines" and cluster.object_store:
        return {f"configmap-kubeflow-{HOOK_CONFIGMAP}.yaml": {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": HOOK_CONFIGMAP, "namespace": "kubeflow", "labels": dict(workloads.MANAGED_BY)},
            "data": {"sync.py": HOOK_SOURCE},
        }}
    return {}


def _external_object_store(cluster: Cluster, store: ObjectStore) -> list[t.Mapping[str, t.Any]]:
    """SeaweedFS leaves the unit, and every part of Pipelines that reads or writes artifacts is
    pointed at the external bucket (kubeflow.org, "Object Store Configuration")."""
    api = storage.s3_api(store, cluster)  # place refused (SG285) what has no S3 API
    patches = [_delete(group, version, kind, name, "kubeflow") for group, version, kind, name in catalog.SEAWEEDFS_OBJECTS]
    endpoint = api.host if api.port in (443, 80) else f"{api.host}:{api.port}"
    secure, port, secret = ("true" if api.secure else "false"), str(api.port), catalog.OBJECT_STORE_SECRET
    keys = [{"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for name, key in (("AWS_ACCESS_KEY_ID", "accesskey"), ("AWS_SECRET_ACCESS_KEY", "secretkey"))]
    # The API server's bucket comes from pipeline-install-config `bucketName`; runs in `kubeflow`
    # itself root at the bucket's v2/artifacts, as upstream's minio root does.
    patches.append(_merge_patch("", "v1", "ConfigMap", "pipeline-install-config", "kubeflow",
                                {"data": {"bucketName": store.bucket, "defaultPipelineRoot": f"s3://{store.bucket}/v2/artifacts"}}))
    # The API server keeps pipeline specs in the store through minio-go: OBJECTSTORECONFIG_HOST,
    # _PORT, _REGION, _SECURE, with the keys of mlpipeline-minio-artifact (upstream sets the
    # host to seaweedfs.kubeflow:9000, insecure).
    patches.append(_container_env("ml-pipeline", "ml-pipeline-api-server", [
        {"name": "OBJECTSTORECONFIG_HOST", "value": api.host}, {"name": "OBJECTSTORECONFIG_PORT", "value": port},
        {"name": "OBJECTSTORECONFIG_REGION", "value": api.region}, {"name": "OBJECTSTORECONFIG_SECURE", "value": secure}]))
    # The launcher of runs in `kubeflow` reads kfp-launcher there: the `s3` provider for the bucket.
    launcher = kfp_launcher(store.bucket, "v2/artifacts", endpoint, api)
    patches.append(_merge_patch("", "v1", "ConfigMap", "kfp-launcher", "kubeflow", {"data": launcher}))
    # Argo's cluster-wide default artifact repository (logs archive), as upstream's
    # workflow-controller-configmap-patch.yaml shapes it, at the external endpoint over TLS.
    repository = {"archiveLogs": True, "s3": {
        "endpoint": endpoint, "bucket": store.bucket, "region": api.region, "insecure": not api.secure,
        "keyFormat": "private-artifacts/{{workflow.namespace}}/{{workflow.name}}/{{workflow.creationTimestamp.Y}}/"
                     "{{workflow.creationTimestamp.m}}/{{workflow.creationTimestamp.d}}/{{pod.name}}",
        "accessKeySecret": {"name": secret, "key": "accesskey"}, "secretKeySecret": {"name": secret, "key": "secretkey"}}}
    patches.append(_merge_patch("", "v1", "ConfigMap", "workflow-controller-configmap", "kubeflow",
                                {"data": {"artifactRepository": yamlio.OVERLAYS.dump(repository)}}))
    # The UI reads minio:// artifacts with MINIO_HOST.MINIO_NAMESPACE:MINIO_PORT (an empty
    # namespace: the host alone) and s3:// ones with the AWS_* variables (kubeflow/pipelines
    # frontend/server/configs.ts); upstream leaves the host at its default and the namespace a fieldRef.
    patches.append(_container_env("ml-pipeline-ui", "ml-pipeline-ui", [
        {"name": "MINIO_HOST", "value": api.host}, {"name": "MINIO_PORT", "value": port}, {"name": "MINIO_SSL", "value": secure},
        {"name": "MINIO_NAMESPACE", "value": "", "valueFrom": None}, *keys,
        {"name": "AWS_REGION", "value": api.region}, {"name": "AWS_S3_ENDPOINT", "value": api.host}, {"name": "AWS_SSL", "value": secure}]))
    # The profile controller's own hook mints per-namespace keys through SeaweedFS's IAM API and
    # aims every namespace at SeaweedFS: it runs stackgen's hook instead, with the store's
    # address, and no longer names SeaweedFS (its IAM and S3 endpoints and OBJECT_STORE_HOST).
    # Upstream's hook ConfigMap (generated, so named with a hash) goes: nothing mounts it any more.
    patches.append(_delete("", "v1", "ConfigMap", "kubeflow-pipelines-profile-controller-code", "kubeflow"))
    hook_digest = hashlib.sha256(HOOK_SOURCE.encode("utf-8")).hexdigest()
    env: list[dict[str, t.Any]] = [{"name": name, "$patch": "delete"} for name in ("AWS_ENDPOINT_URL", "S3_ENDPOINT_URL", "OBJECT_STORE_HOST")]
    env += [{"name": "AWS_REGION", "value": api.region}, {"name": "STACKGEN_OBJECT_STORE_BUCKET", "value": store.bucket},
            {"name": "STACKGEN_OBJECT_STORE_HOST", "value": api.host}, {"name": "STACKGEN_OBJECT_STORE_PORT", "value": port},
            {"name": "STACKGEN_OBJECT_STORE_REGION", "value": api.region}, {"name": "STACKGEN_OBJECT_STORE_SECURE", "value": secure}]
    patches.append(_merge_patch("apps", "v1", "Deployment", "kubeflow-pipelines-profile-controller", "kubeflow", {"spec": {"template": {
        # A new hook rolls the controller's pod (a ConfigMap's change alone restarts nothing).
        "metadata": {"annotations": {"stackgen.io/hook-sha256": hook_digest}},
        "spec": {"containers": [{"name": "profile-controller", "env": env}],
                 "volumes": [{"name": "hooks", "configMap": {"name": HOOK_CONFIGMAP}}]}}}}))
    return patches


def kfp_launcher(bucket: str, prefix: str, endpoint: str, api: storage.S3Api) -> dict[str, str]:
    """kfp-launcher's data: a pipeline root in `bucket` and the `s3` provider (kubeflow.org,
    "Object Store Configuration", KFP Launcher), keys from mlpipeline-minio-artifact."""
    provider = {"s3": {"default": {
        "endpoint": endpoint, "region": api.region, "disableSSL": not api.secure, "forcePathStyle": True,
        "credentials": {"fromEnv": False, "secretRef": {"secretName": catalog.OBJECT_STORE_SECRET, "accessKeyKey": "accesskey",
                                                        "secretKeyKey": "secretkey"}}}}}
    return {"defaultPipelineRoot": f"s3://{bucket}/{prefix}", "providers": yamlio.OVERLAYS.dump(provider)}


def _container_env(deployment: str, container: str, env: list[dict[str, t.Any]]) -> t.Mapping[str, t.Any]:
    return _merge_patch("apps", "v1", "Deployment", deployment, "kubeflow",
                        {"spec": {"template": {"spec": {"containers": [{"name": container, "env": env}]}}}})


def _external_database(user: catalog.InClusterDatabase, database: Database) -> list[t.Mapping[str, t.Any]]:
    """The component's own MySQL leaves the unit (its Deployment, Service, claim and mesh
    policies), and its pods are pointed at the external server."""
    patches = [_delete(group, version, kind, name, "kubeflow") for group, version, kind, name in user.objects]
    host, port = database.host, str(database.port)
    if user.component == "pipelines":
        # Every KFP server reads the database address from pipeline-install-config: the API server
        # (DBCONFIG_MYSQLCONFIG_HOST <- mysqlHost, and the relic DBCONFIG_HOST <- dbHost), the cache
        # server (DBCONFIG_HOST_NAME <- dbHost) and metadata-grpc (MYSQL_HOST <- dbHost)
        # (applications/pipeline/upstream/base/installs/generic/pipeline-install-config.yaml).
        patches.append(_merge_patch("", "v1", "ConfigMap", "pipeline-install-config", "kubeflow",
                                    {"data": {"dbHost": host, "dbPort": port, "mysqlHost": host, "mysqlPort": port}}))
    elif user.component == "katib":
        # katib-db-manager dials DB_HOST:DB_PORT as DB_USER, defaulting to katib-mysql:3306 as root
        # (kubeflow/katib pkg/db/v1beta1/common/const.go); upstream sets none of them.
        env = [{"name": "DB_HOST", "value": host}, {"name": "DB_PORT", "value": port},
               {"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": user.secret, "key": "DB_USER"}}}]
        patches.append(_merge_patch("apps", "v1", "Deployment", "katib-db-manager", "kubeflow",
                                    {"spec": {"template": {"spec": {"containers": [{"name": "katib-db-manager", "env": env}]}}}}))
    elif user.component == "model-registry":
        # Model Registry's DSN names the in-cluster Service `model-registry-db` literally
        # (applications/model-registry/upstream/overlays/db/patches/model-registry-deployment.yaml):
        # its args are replaced whole (a strategic merge replaces a list of strings), with the host
        # from the parameters ConfigMap; the sidecar still leaves the database port alone, as upstream.
        patches.append(_merge_patch("", "v1", "ConfigMap", "model-registry-db-parameters", "kubeflow",
                                    {"data": {"MYSQL_HOST": host, "MYSQL_PORT": port,
                                              "MYSQL_DATABASE": catalog.EXTERNAL_DATABASES["model-registry"][0]}}))
        args = ["--hostname=0.0.0.0", "--port=$(MODEL_REGISTRY_REST_SERVICE_PORT)", "--datastore-type=$(MODEL_REGISTRY_DATA_STORE_TYPE)",
                "--embedmd-database-dsn=$(MYSQL_USER_NAME):$(MYSQL_ROOT_PASSWORD)@tcp($(MYSQL_HOST):$(MYSQL_PORT))/$(MYSQL_DATABASE)?charset=utf8mb4"]
        patches.append(_merge_patch("apps", "v1", "Deployment", "model-registry-deployment", "kubeflow", {"spec": {"template": {
            "metadata": {"annotations": {"traffic.sidecar.istio.io/excludeOutboundPorts": port}},
            "spec": {"containers": [{"name": "rest-container", "args": args}]}}}}))
    return patches


def _target(group: str, version: str, kind: str, name: str, namespace: str) -> dict[str, str]:
    target = {"group": group, "version": version, "kind": kind, "name": name, "namespace": namespace}
    if not group:
        del target["group"]
    return target


def _delete(group: str, version: str, kind: str, name: str, namespace: str) -> t.Mapping[str, t.Any]:
    identity = {"name": name, "namespace": namespace}
    body = {"$patch": "delete", "apiVersion": f"{group}/{version}" if group else version, "kind": kind, "metadata": identity}
    return {"target": _target(group, version, kind, name, namespace), "patch": yamlio.OVERLAYS.dump(body)}


def _merge_patch(group: str, version: str, kind: str, name: str, namespace: str, body: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    full = {"apiVersion": f"{group}/{version}" if group else version, "kind": kind, "metadata": {"name": name, "namespace": namespace}, **body}
    return {"target": _target(group, version, kind, name, namespace), "patch": yamlio.OVERLAYS.dump(full)}
