"""Single sign-on: `spec.signOn` connectors -> patches of upstream's Dex in `auth-<cluster>`.

Upstream's Dex (common/dex/base) reads its whole configuration from ConfigMap `auth/dex`
(`config.yaml`, mounted at /etc/dex/cfg) and its credentials from the environment: `envFrom`
Secrets `dex-oidc-client` (the client it shares with oauth2-proxy) and `dex-passwords` (the
bcrypt hash of the static user user@example.com, `hashFromEnv: DEX_USER_PASSWORD`). Dex expands
`$VAR` in its config file with Go's os.ExpandEnv unless DEX_EXPAND_ENV is falsy (dexidp/dex
config.yaml.dist, "Dex can expand environment variables in the config file"), so a connector's
client secret or bind password stays in a Secret: the config names `$DEX_<ID>_<FIELD>` and the
Deployment maps that variable from the Secret key (`secretKeyRef`). CA bundles are files in
Dex's connector config (ldap `rootCA`, saml `ca`), so their Secret is mounted instead.

Declaring connectors turns the static user off (`enablePasswordDB: false`, no
`staticPasswords`): the Deployment no longer reads `dex-passwords`, which place then no longer
replaces. oauth2-proxy, its RequestAuthentication (`dex-jwt`, issuer
http://dex.auth.svc.cluster.local:5556/dex) and Dex's static client stay as upstream ships
them: the issuer is unchanged, only where Dex sends the browser after an upstream login
(`redirectURI`, https://<ingressHost>/dex/callback, the path upstream's VirtualService routes to
Dex) depends on the cluster. So the patches are per cluster and live in `auth-<cluster>`.
"""

from __future__ import annotations

import typing as t

from stackgen import yamlio
from stackgen.model import Cluster, Connector, SecretKey, SignOn

Object = dict[str, t.Any]
DEX_NAMESPACE = "auth"
# Upstream's Dex issuer (common/dex/base/config-map.yaml): oauth2-proxy redeems tokens there
# and the `dex-jwt` RequestAuthentication trusts it, so it stays.
DEX_ISSUER = "http://dex.auth.svc.cluster.local:5556/dex"
# Where stackgen mounts the CA bundles connectors read from files.
CA_ROOT = "/etc/dex/stackgen"
_DEX = {"group": "apps", "version": "v1", "kind": "Deployment", "name": "dex", "namespace": DEX_NAMESPACE}
_DEX_CONFIG = {"version": "v1", "kind": "ConfigMap", "name": "dex", "namespace": DEX_NAMESPACE}
# The Secret Dex shares with oauth2-proxy (OIDC_CLIENT_ID / OIDC_CLIENT_SECRET): still read.
_CLIENT_SECRET = "dex-oidc-client"


def callback(cluster: Cluster) -> str:
    """Where an upstream provider sends the browser back: Dex's callback, under the gateway's host."""
    assert cluster.ingress_host is not None, "place refuses sign-on without ingressHost (SG273)"
    scheme = "https" if cluster.tls is not None else "http"
    return f"{scheme}://{cluster.ingress_host}/dex/callback"


def env_name(connector: Connector, field: str) -> str:
    """`github`, `clientSecret` -> DEX_GITHUB_CLIENT_SECRET (ids are DNS labels: unique once upper-cased)."""
    snake = "".join(f"_{c}" if c.isupper() else c.upper() for c in field)
    return f"DEX_{connector.id.upper().replace('-', '_')}_{snake}"


def _secret_env(connector: Connector, field: str, ref: SecretKey) -> Object:
    return {"name": env_name(connector, field), "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}


def _ca_path(connector: Connector) -> str:
    return f"{CA_ROOT}/{connector.id}/ca.crt"


def _ca_volume(connector: Connector) -> str:
    return f"sg-{connector.id}-ca"


def _connector_config(connector: Connector, cluster: Cluster) -> Object:
    """Dex's `config:` block of one connector, with its keys as Dex's docs name them."""
    config: Object
    if connector.github is not None:  # dexidp.io/docs/connectors/github
        github = connector.github
        config = {"clientID": github.client_id, "clientSecret": f"${env_name(connector, 'clientSecret')}", "redirectURI": callback(cluster)}
        if github.orgs:
            config["orgs"] = [{"name": o.name, **({"teams": list(o.teams)} if o.teams else {})} for o in github.orgs]
        if github.host_name:
            config["hostName"] = github.host_name
        return config
    if connector.oidc is not None:  # dexidp.io/docs/connectors/oidc
        oidc = connector.oidc
        config = {"issuer": oidc.issuer, "clientID": oidc.client_id, "clientSecret": f"${env_name(connector, 'clientSecret')}",
                  "redirectURI": callback(cluster)}
        if oidc.scopes:
            config["scopes"] = list(oidc.scopes)
        if oidc.insecure_enable_groups is not None:
            config["insecureEnableGroups"] = oidc.insecure_enable_groups
        if oidc.user_name_key:
            config["userNameKey"] = oidc.user_name_key
        return config
    if connector.ldap is not None:  # dexidp.io/docs/connectors/ldap
        ldap = connector.ldap
        config = {"host": ldap.host}
        if ldap.start_tls is not None:
            config["startTLS"] = ldap.start_tls
        if ldap.root_ca is not None:
            config["rootCA"] = _ca_path(connector)
        config["bindDN"] = ldap.bind_dn
        config["bindPW"] = f"${env_name(connector, 'bindPassword')}"
        users = ldap.user_search
        config["userSearch"] = {"baseDN": users.base_dn, **({"filter": users.filter} if users.filter else {}), "username": users.username,
                                "idAttr": users.id_attr, "emailAttr": users.email_attr, "nameAttr": users.name_attr}
        if ldap.group_search is not None:
            groups = ldap.group_search
            config["groupSearch"] = {"baseDN": groups.base_dn, **({"filter": groups.filter} if groups.filter else {}),
                                     "userMatchers": [{"userAttr": groups.user_attr, "groupAttr": groups.group_attr}],
                                     "nameAttr": groups.name_attr}
        return config
    assert connector.saml is not None, "place refuses a connector without exactly one provider (SG271)"
    saml = connector.saml  # dexidp.io/docs/connectors/saml
    config = {"ssoURL": saml.sso_url, "ca": _ca_path(connector), "redirectURI": callback(cluster)}
    if saml.entity_issuer:
        config["entityIssuer"] = saml.entity_issuer
    config |= {"usernameAttr": saml.username_attr, "emailAttr": saml.email_attr}
    if saml.groups_attr:
        config["groupsAttr"] = saml.groups_attr
    return config


def dex_config(sign_on: SignOn, cluster: Cluster) -> str:
    """Dex's config.yaml on `cluster`: upstream's storage, web and client, the connectors, no static user."""
    config = {
        "issuer": DEX_ISSUER,
        "storage": {"type": "kubernetes", "config": {"inCluster": True}},
        "web": {"http": "0.0.0.0:5556"},
        "logger": {"level": "info", "format": "text"},
        "oauth2": {"skipApprovalScreen": True},
        # The static user (user@example.com) is off once a connector is declared.
        "enablePasswordDB": False,
        # oauth2-proxy's client, as upstream declares it (dexidp/dex#1664: ids from the environment).
        "staticClients": [{"idEnv": "OIDC_CLIENT_ID", "redirectURIs": ["/oauth2/callback"], "name": "Kubeflow",
                           "secretEnv": "OIDC_CLIENT_SECRET"}],
        "connectors": [{"type": c.types[0], "id": c.id, "name": c.display_name, "config": _connector_config(c, cluster)}
                       for c in sign_on.connectors],
    }
    return yamlio.OVERLAYS.dump(config)


def secret_fields(connector: Connector) -> tuple[tuple[str, SecretKey], ...]:
    """(field, reference) of each credential the connector reads from the environment."""
    fields: list[tuple[str, SecretKey]] = []
    if connector.github is not None:
        fields.append(("clientSecret", connector.github.client_secret))
    if connector.oidc is not None:
        fields.append(("clientSecret", connector.oidc.client_secret))
    if connector.ldap is not None:
        fields.append(("bindPassword", connector.ldap.bind_password))
    return tuple(fields)


def _ca_secret(connector: Connector) -> SecretKey | None:
    if connector.ldap is not None:
        return connector.ldap.root_ca
    return connector.saml.ca if connector.saml is not None else None


def dex_patches(sign_on: SignOn, cluster: Cluster) -> tuple[t.Mapping[str, t.Any], ...]:
    """The patches of `auth-<cluster>`: Dex's config, and the Deployment reading each credential.

    JSON patches with `target:` selectors (Dex's Deployment has one container, `dex`): the
    `envFrom` list is replaced so that it no longer names `dex-passwords`, whose upstream Secret
    the shared unit deletes and nothing replaces once the static user is off.
    """
    container = "/spec/template/spec/containers/0"
    operations: list[Object] = [{"op": "replace", "path": f"{container}/envFrom", "value": [{"secretRef": {"name": _CLIENT_SECRET}}]}]
    for connector in sign_on.connectors:
        for field, ref in secret_fields(connector):
            operations.append({"op": "add", "path": f"{container}/env/-", "value": _secret_env(connector, field, ref)})
        ca = _ca_secret(connector)
        if ca is not None:
            volume = _ca_volume(connector)
            operations.append({"op": "add", "path": "/spec/template/spec/volumes/-",
                               "value": {"name": volume, "secret": {"secretName": ca.name, "items": [{"key": ca.key, "path": "ca.crt"}]}}})
            operations.append({"op": "add", "path": f"{container}/volumeMounts/-",
                               "value": {"name": volume, "mountPath": f"{CA_ROOT}/{connector.id}", "readOnly": True}})
    config = [{"op": "replace", "path": "/data/config.yaml", "value": dex_config(sign_on, cluster)}]
    return (
        {"target": dict(_DEX_CONFIG), "patch": yamlio.OVERLAYS.dump(config)},
        {"target": dict(_DEX), "patch": yamlio.OVERLAYS.dump(operations)},
    )
