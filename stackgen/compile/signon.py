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

import json
import typing as t

from stackgen import yamlio
from stackgen.model import Cluster, Connector, ExternalIssuer, SecretKey, SignOn

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


# --- an external issuer for oauth2-proxy, without Dex -------------------------------------

OAUTH2_PROXY_NAMESPACE = "oauth2-proxy"
OAUTH2_PROXY_CONFIG = "stackgen-oauth2-proxy"
_OAUTH2_PROXY = {"group": "apps", "version": "v1", "kind": "Deployment", "name": "oauth2-proxy", "namespace": OAUTH2_PROXY_NAMESPACE}
# Upstream's RequestAuthentication that turns the JWT oauth2-proxy forwards into Kubeflow's
# user and groups headers (common/oauth2-proxy/components/istio-external-auth).
_DEX_JWT = {"group": "security.istio.io", "version": "v1beta1", "kind": "RequestAuthentication", "name": "dex-jwt",
            "namespace": "istio-system"}


def oauth2_proxy_redirect(cluster: Cluster) -> str:
    """The callback the external provider must know: absolute, under the gateway's host."""
    assert cluster.ingress_host is not None, "place refuses sign-on without ingressHost (SG273)"
    return f"{'https' if cluster.tls is not None else 'http'}://{cluster.ingress_host}/oauth2/callback"


def oauth2_proxy_config(external: ExternalIssuer, cluster: Cluster) -> str:
    """oauth2-proxy's config file on `cluster`, signing in with `external` by OIDC discovery.

    Upstream's file (common/oauth2-proxy/base/oauth2_proxy.cfg) is written for Dex: discovery
    skipped, relative login and redirect URLs under the same host, `prompt = "none"`. A
    provider elsewhere needs discovery (oauth2-proxy then takes its endpoints from the
    provider's metadata: "Use the discovered values rather than any specified values",
    pkg/providers) and an absolute redirect URL registered with it. Kubeflow's own choices are
    kept: a static 200 upstream (oauth2-proxy only checks, as Istio's ext_authz), 401 instead of
    a redirect for API paths, the Authorization header Istio verifies, the same cookie name.
    """
    # TOML basic strings take JSON's escapes, so json.dumps quotes any value safely.
    lines = [
        'provider = "oidc"',
        f"oidc_issuer_url = {json.dumps(external.issuer, ensure_ascii=False)}",
        f"provider_display_name = {json.dumps(external.display_name, ensure_ascii=False)}",
        f"scope = {json.dumps(' '.join(external.scopes))}",
        'email_domains = [ "*" ]',
        'upstreams = [ "static://200" ]',
        'api_routes = [ "/api/", "/apis/", "^/ml_metadata" ]',
        'skip_provider_button = false',
        'custom_sign_in_logo = "/custom-theme/kubeflow-logo.svg"',
        'banner = "-"',
        'footer = "-"',
        'set_authorization_header = true',
        'set_xauthrequest = true',
        'cookie_name = "oauth2_proxy_kubeflow"',
        'cookie_expire = "24h"',
        # Providers' ID tokens live about an hour, and Istio rejects an expired one: refresh the
        # session well before (needs a refresh token: `offline_access` where the provider asks for it).
        'cookie_refresh = "30m"',
        'code_challenge_method = "S256"',
        f"redirect_url = {json.dumps(oauth2_proxy_redirect(cluster))}",
    ]
    return "\n".join(lines) + "\n"


def oauth2_proxy_objects(external: ExternalIssuer, cluster: Cluster, labels: t.Mapping[str, str]) -> dict[str, Object]:
    """File name -> object in `auth-<cluster>`: oauth2-proxy's config file for this cluster."""
    return {f"configmap-{OAUTH2_PROXY_NAMESPACE}-{OAUTH2_PROXY_CONFIG}.yaml": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": OAUTH2_PROXY_CONFIG, "namespace": OAUTH2_PROXY_NAMESPACE, "labels": dict(labels)},
        "data": {"oauth2_proxy.cfg": oauth2_proxy_config(external, cluster)},
    }}


def oauth2_proxy_patches(external: ExternalIssuer) -> tuple[t.Mapping[str, t.Any], ...]:
    """oauth2-proxy reads stackgen's config file and the provider's client; Istio trusts the provider.

    Upstream's Deployment (common/oauth2-proxy/base/deployment.yaml) lists its environment in a
    fixed order: client id, client secret and cookie secret from Secret `oauth2-proxy`, then
    parameters. Each replaced entry is `test`ed by name first, so a reordered upstream fails the
    build instead of patching the wrong variable. oauth2-proxy reads environment over its config
    file (oauth2-proxy docs, Configuration: "environment variables will overwrite configuration
    file settings"), so the client id and secret are set there.
    """
    env = "/spec/template/spec/containers/0/env"
    secret = external.client_secret
    operations: list[Object] = [
        {"op": "test", "path": "/spec/template/spec/volumes/0/name", "value": "oauth2-proxy-config"},
        {"op": "replace", "path": "/spec/template/spec/volumes/0/configMap", "value": {"name": OAUTH2_PROXY_CONFIG}},
        {"op": "test", "path": f"{env}/0/name", "value": "OAUTH2_PROXY_CLIENT_ID"},
        {"op": "replace", "path": f"{env}/0", "value": {"name": "OAUTH2_PROXY_CLIENT_ID", "value": external.client_id}},
        {"op": "test", "path": f"{env}/1/name", "value": "OAUTH2_PROXY_CLIENT_SECRET"},
        {"op": "replace", "path": f"{env}/1", "value": {"name": "OAUTH2_PROXY_CLIENT_SECRET",
                                                           "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}}}},
        # Upstream accepts self-signed issuers (kind's in-cluster one); a provider on the
        # internet is verified.
        {"op": "test", "path": f"{env}/4/name", "value": "OAUTH2_PROXY_SSL_INSECURE_SKIP_VERIFY"},
        {"op": "replace", "path": f"{env}/4", "value": {"name": "OAUTH2_PROXY_SSL_INSECURE_SKIP_VERIFY", "value": "false"}},
    ]
    issuer = [{"op": "replace", "path": "/spec/jwtRules/0/issuer", "value": external.issuer}]
    return (
        {"target": dict(_OAUTH2_PROXY), "patch": yamlio.OVERLAYS.dump(operations)},
        {"target": dict(_DEX_JWT), "patch": yamlio.OVERLAYS.dump(issuer)},
    )


def secure_cookie_patch() -> t.Mapping[str, t.Any]:
    """Where the gateway serves HTTPS (clusters[].tls), oauth2-proxy's session cookie is `Secure`.

    Upstream reads `--cookie-secure` from ConfigMap oauth2-proxy-parameters (FORCE_HTTPS, false
    but on EKS), through the environment, which wins over a config file: the entry is set here.
    """
    env = "/spec/template/spec/containers/0/env"
    operations = [
        {"op": "test", "path": f"{env}/3/name", "value": "OAUTH2_PROXY_COOKIE_SECURE"},
        {"op": "replace", "path": f"{env}/3", "value": {"name": "OAUTH2_PROXY_COOKIE_SECURE", "value": "true"}},
    ]
    return {"target": dict(_OAUTH2_PROXY), "patch": yamlio.OVERLAYS.dump(operations)}
