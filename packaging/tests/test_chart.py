"""Tests of charts/essp and of the plain manifests rendered from it.

Run with the venv of packaging/ci.sh:

    .venv/bin/python -m pytest packaging/tests -q

What is checked, for the chart defaults and every values-<env>.yaml:
- `helm lint --strict` (Helm's Go SDK through helm-python-sdk) for Kubernetes
  1.29 and 1.33, with the chart's values.schema.json;
- every rendered object against the Kubernetes OpenAPI schemas of 1.29 and
  1.33 with kubernetes-validate in strict mode (unknown fields fail).
  kubernetes-validate has no schema for the Prometheus Operator's CRDs: the
  ServiceMonitor is the only kind it skips, and it is validated instead
  against the prometheus-operator models of cloudcoil (generated from the
  CRD's OpenAPI schema), strictly: fields the model does not know fail;
- the runbook's names: Deployments, Services and ports, ConfigMap
  ims-api-config with the §7.1 keys, the §4.2 Secrets and keys, ims-api-hpa
  (§9.1), essp-ingress, the PDBs, labels app=<name> and
  app.kubernetes.io/part-of=essp-platform on every object, the §8 probes,
  the migration hook, the security context, and the §1.3 environment matrix;
- the rendered configuration is accepted by the real binary
  (`essp config check`, from $ESSP_BIN or target/debug/essp);
- packaging/k8s/<env>/ is what packaging/k8s/render.py produces now.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "essp"
KUBE_VERSIONS = ["1.29.0", "1.33.0"]
ENVS = {"default": "essp-prod", "dev": "essp-dev", "staging": "essp-staging", "prod": "essp-prod"}

# The runbook's deployments: name -> (role, Service port).
ROLES = {
    "ims-api": 8080,
    "ssot-school": 8081,
    "ssot-devices": 8082,
    "ssot-parts": 8083,
    "sync-worker": None,  # no port in the runbook; a headless Service for metrics
}
# Runbook §7.1 ConfigMap keys, and the §7.3 feature flags.
CONFIGMAP_KEYS_7_1 = [
    "APP_ENV", "HTTP_ADDR", "LOG_LEVEL", "REDIS_ADDR", "REDIS_DB", "NATS_URL",
    "MINIO_ENDPOINT", "MINIO_USE_SSL", "MINIO_REGION", "MINIO_PRESIGN_EXPIRY_SECONDS",
    "ATTACHMENTS_BUCKET", "ATTACHMENTS_PUBLIC_BASE_URL", "SCHOOL_SSOT_BASE_URL",
    "DEVICE_SSOT_BASE_URL", "PARTS_SSOT_BASE_URL", "SSOT_SYNC_PAGE_SIZE", "AUTH_ENABLED",
    "AUTH_AUDIENCE", "AUTH_ISSUER", "AUTH_JWKS_URL", "TENANT_HEADER", "SCHOOL_HEADER",
    "CORS_ALLOWED_ORIGINS", "AUTO_ROUTE_WORK_ORDERS", "DEFAULT_REPAIR_LOCATION",
    "RATE_LIMIT_ENABLED", "RATE_LIMIT_READ_RPM", "RATE_LIMIT_WRITE_RPM", "RATE_LIMIT_BURST",
]
FEATURE_FLAGS_7_3 = ["CORS_ENABLED", "ENABLE_WORK_ORDER_SCHEDULING", "ENABLE_SSOT_SYNC", "SSOT_SYNC_INTERVAL"]
# Runbook §4.2: Secret -> keys.
SECRETS_4_2 = {
    "database-secrets": ["db-username", "db-password", "pg-dsn"],
    "redis-secrets": ["redis-password"],
    "minio-secrets": ["minio-access-key", "minio-secret-key"],
    "nats-secrets": ["nats-username", "nats-password"],
    "jwt-secrets": ["jwt-secret"],
}
# Runbook §1.3, per environment file.
MATRIX = {
    "dev": dict(ims=1, ssot=1, sync=1, hpa=False, pdb=False, netpol=False, tls=False, auth="false",
                log="debug", req=(25, 50), lim=(100, 200), pull="Always", sync_interval="1m"),
    "staging": dict(ims=2, ssot=1, sync=1, hpa=True, pdb=True, netpol=True, tls=True, auth="true",
                    log="info", req=(50, 100), lim=(200, 500), pull="IfNotPresent", sync_interval="5m"),
    "prod": dict(ims=(3, 20), ssot=2, sync=2, hpa=True, pdb=True, netpol=True, tls=True, auth="true",
                 log="warn", req=(100, 200), lim=(500, 1000), pull="IfNotPresent", sync_interval="5m"),
}
# Runbook §9.1, verbatim.
HPA_BEHAVIOR_9_1 = {
    "scaleDown": {"stabilizationWindowSeconds": 300, "policies": [{"type": "Percent", "value": 50, "periodSeconds": 15}]},
    "scaleUp": {
        "stabilizationWindowSeconds": 0,
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}, {"type": "Pods", "value": 2, "periodSeconds": 15}],
        "selectPolicy": "Max",
    },
}
# Kinds kubernetes-validate has no schema for (CRDs), validated otherwise below.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def values_for(env: str) -> dict[str, Any]:
    if env == "default":
        return {}
    return yaml.safe_load((CHART / f"values-{env}.yaml").read_text()) or {}


def render(values: dict[str, Any], namespace: str, name: str = "essp") -> list[dict[str, Any]]:
    with helm_python.Chart.load(str(CHART)) as chart:
        rendered = chart.render(values=values, name=name, namespace=namespace, is_install=True)
    objs = []
    for path in sorted(rendered):
        if path.endswith((".yaml", ".yml")):
            objs.extend(d for d in yaml.safe_load_all(rendered[path]) if d)
    return objs


_CACHE: dict[str, list[dict[str, Any]]] = {}


def objects(env: str) -> list[dict[str, Any]]:
    if env not in _CACHE:
        _CACHE[env] = render(values_for(env), ENVS[env])
    return copy.deepcopy(_CACHE[env])


def by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def one(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = by_kind(objs, kind)
    assert name in found, f"{kind}/{name} not rendered (have {sorted(found)})"
    return found[name]


def container(dep: dict[str, Any]) -> dict[str, Any]:
    return dep["spec"]["template"]["spec"]["containers"][0]


def millicores(q: str) -> int:
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


ALL_ENVS = list(ENVS)
ENV_FILES = ["dev", "staging", "prod"]


# --------------------------------------------------------------------------
# lint and schema validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("env", ALL_ENVS)
def test_helm_lint_strict(env: str, kube: str) -> None:
    report = helm_python.lint(str(CHART), values_for(env) or None, strict=True, kube_version=f"v{kube}", namespace=ENVS[env])
    # Severity: 1 info ("icon is recommended"), 2 warning, 3 error; strict fails on warnings.
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


def test_values_schema_rejects_a_typo() -> None:
    report = helm_python.lint(str(CHART), {"imsApi": {"replicas": 3}}, strict=True, kube_version="v1.29.0")
    assert report["errors"], "values.schema.json should reject unknown keys"


def _validate_servicemonitor(obj: dict[str, Any]) -> None:
    from cloudcoil.models.prometheus_operator import v1 as prom_v1

    model = prom_v1.ServiceMonitor.model_validate(obj)
    # The models accept unknown fields silently; a lossless round trip proves there were none.
    assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == obj, "unknown ServiceMonitor fields"


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("env", ALL_ENVS)
def test_kubernetes_validate_strict(env: str, kube: str) -> None:
    skipped = []
    for obj in objects(env):
        try:
            kubernetes_validate.validate(obj, kube, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            key = (obj["apiVersion"], obj["kind"])
            assert key in CRD_KINDS, f"no schema for {key}: not a known CRD"
            skipped.append(obj)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for {kube}: {path}: {e.message}")
    for obj in skipped:
        _validate_servicemonitor(obj)


def test_servicemonitor_validation_is_strict() -> None:
    sm = one(objects("prod"), "ServiceMonitor", "essp-services")
    sm["spec"]["endpoints"][0]["bogus"] = True
    with pytest.raises(AssertionError):
        _validate_servicemonitor(sm)


# --------------------------------------------------------------------------
# the runbook's names
# --------------------------------------------------------------------------


@pytest.mark.parametrize("env", ALL_ENVS)
def test_deployments_and_services(env: str) -> None:
    objs = objects(env)
    deps, svcs = by_kind(objs, "Deployment"), by_kind(objs, "Service")
    assert set(deps) == set(ROLES)
    for name, port in ROLES.items():
        c = container(deps[name])
        assert c["name"] == name
        assert c["args"] == ["serve", "--role", name]
        http = next(p for p in c["ports"] if p["name"] == "http")
        svc = svcs[name]
        assert svc["spec"]["ports"][0]["name"] == "http"
        assert svc["spec"]["ports"][0]["targetPort"] == "http"
        if port is not None:
            assert http["containerPort"] == port
            assert svc["spec"]["ports"][0]["port"] == port
            assert svc["spec"].get("clusterIP") != "None"
        else:
            assert svc["spec"]["clusterIP"] == "None", "sync-worker: headless Service for metrics"
        # Service selector selects this Deployment's pods (runbook §11.1).
        pod_labels = deps[name]["spec"]["template"]["metadata"]["labels"]
        assert selector_matches(svc["spec"]["selector"], pod_labels)
        assert selector_matches(deps[name]["spec"]["selector"]["matchLabels"], pod_labels)
        env_vars = {e["name"]: e for e in c["env"]}
        assert env_vars["HTTP_ADDR"]["value"] == f":{http['containerPort']}"


@pytest.mark.parametrize("env", ALL_ENVS)
def test_labels_everywhere(env: str) -> None:
    for obj in objects(env):
        labels = obj["metadata"].get("labels", {})
        what = f"{obj['kind']}/{obj['metadata']['name']}"
        assert labels.get("app"), f"{what}: no app label"
        assert labels.get("app.kubernetes.io/part-of") == "essp-platform", what
        assert obj["metadata"].get("namespace") == ENVS[env], f"{what}: namespace"
        template = obj.get("spec", {}).get("template")
        if template:
            tl = template["metadata"]["labels"]
            assert tl.get("app") == labels["app"] and tl.get("app.kubernetes.io/part-of") == "essp-platform", what
    for name in ROLES:
        dep = one(objects(env), "Deployment", name)
        assert dep["metadata"]["labels"]["app"] == name
        # kubectl ... -l app=<name> selects the role's pods.
        assert dep["spec"]["template"]["metadata"]["labels"]["app"] == name


@pytest.mark.parametrize("env", ALL_ENVS)
def test_configmap(env: str) -> None:
    cm = one(objects(env), "ConfigMap", "ims-api-config")
    data = cm["data"]
    missing = [k for k in CONFIGMAP_KEYS_7_1 + FEATURE_FLAGS_7_3 if k not in data]
    assert not missing, f"ims-api-config lacks {missing}"
    assert all(isinstance(v, str) for v in data.values())
    ns = ENVS[env]
    assert data["SCHOOL_SSOT_BASE_URL"] == f"http://ssot-school.{ns}.svc.cluster.local:8081"
    assert data["DEVICE_SSOT_BASE_URL"] == f"http://ssot-devices.{ns}.svc.cluster.local:8082"
    assert data["PARTS_SSOT_BASE_URL"] == f"http://ssot-parts.{ns}.svc.cluster.local:8083"
    assert data["NATS_URL"] == f"nats://nats.{ns}.svc.cluster.local:4222"
    assert data["HTTP_ADDR"] == ":8080"
    for dep in by_kind(objects(env), "Deployment").values():
        assert {"configMapRef": {"name": "ims-api-config"}} in container(dep)["envFrom"]


@pytest.mark.parametrize("env", ALL_ENVS)
def test_secrets_referenced_by_runbook_names(env: str) -> None:
    objs = objects(env)
    wanted = {
        "PG_DSN": ("database-secrets", "pg-dsn"),
        "REDIS_PASSWORD": ("redis-secrets", "redis-password"),
        "MINIO_ACCESS_KEY": ("minio-secrets", "minio-access-key"),
        "MINIO_SECRET_KEY": ("minio-secrets", "minio-secret-key"),
        "NATS_USER": ("nats-secrets", "nats-username"),
        "NATS_PASSWORD": ("nats-secrets", "nats-password"),
        "JWT_SECRET": ("jwt-secrets", "jwt-secret"),
    }
    for dep in by_kind(objs, "Deployment").values():
        refs = {
            e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in container(dep)["env"]
            if "valueFrom" in e
        }
        assert refs == wanted, dep["metadata"]["name"]
    secrets = by_kind(objs, "Secret")
    if values_for(env).get("secrets", {}).get("create"):
        assert set(secrets) == set(SECRETS_4_2)
        for name, keys in SECRETS_4_2.items():
            assert sorted(secrets[name]["stringData"]) == sorted(keys), name
    else:
        assert not secrets, "existing secrets are referenced, never created"


def test_secrets_created_on_request() -> None:
    objs = render({"secrets": {"create": True, "database": {"username": "u", "password": "p w+/@:"}}}, "essp-x")
    secrets = by_kind(objs, "Secret")
    assert set(secrets) == set(SECRETS_4_2)
    dsn = secrets["database-secrets"]["stringData"]["pg-dsn"]
    # Credentials are percent-encoded in the URL.
    assert dsn == "postgres://u:p%20w%2B%2F%40%3A@postgresql.essp-x.svc.cluster.local:5432/ssp_ims?sslmode=require"
    # The migration hook reads database-secrets: it must exist before the hook runs.
    ann = secrets["database-secrets"]["metadata"]["annotations"]
    assert ann["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(ann["helm.sh/hook-weight"]) < int(one(objs, "Job", "essp-migration-0-1-0")["metadata"]["annotations"]["helm.sh/hook-weight"])


@pytest.mark.parametrize("env", ALL_ENVS)
def test_probes(env: str) -> None:
    for dep in by_kind(objects(env), "Deployment").values():
        c = container(dep)
        assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert c["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        # Runbook §8 timings.
        assert (c["readinessProbe"]["periodSeconds"], c["readinessProbe"]["timeoutSeconds"], c["readinessProbe"]["failureThreshold"]) == (5, 3, 3)
        assert (c["livenessProbe"]["periodSeconds"], c["livenessProbe"]["timeoutSeconds"], c["livenessProbe"]["failureThreshold"]) == (10, 5, 3)
        assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] == 150


@pytest.mark.parametrize("env", ALL_ENVS)
def test_security_context(env: str) -> None:
    pods = [d["spec"]["template"]["spec"] for d in by_kind(objects(env), "Deployment").values()]
    pods += [j["spec"]["template"]["spec"] for j in by_kind(objects(env), "Job").values()]
    for pod in pods:
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        c = pod["containers"][0]
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        data_dir = next(e["value"] for e in c["env"] if e["name"] == "ESSP_DATA_DIR")
        if data_dir != "/tmp/essp":
            assert "emptyDir" in volumes[mounts[data_dir]], "ESSP_DATA_DIR on an emptyDir"


@pytest.mark.parametrize("env", ALL_ENVS)
def test_anti_affinity(env: str) -> None:
    for name, dep in by_kind(objects(env), "Deployment").items():
        anti = dep["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        terms = anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])
        term = terms[0]["podAffinityTerm"] if terms else anti["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"]["app"] == name


@pytest.mark.parametrize("env", ALL_ENVS)
def test_migration_hook(env: str) -> None:
    objs = objects(env)
    jobs = by_kind(objs, "Job")
    assert list(jobs) == ["essp-migration-0-1-0"]
    job = jobs["essp-migration-0-1-0"]
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in ann["helm.sh/hook-delete-policy"]
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["migrate", "up"]
    pg = next(e for e in c["env"] if e["name"] == "PG_DSN")
    assert pg["valueFrom"]["secretKeyRef"] == {"name": "database-secrets", "key": "pg-dsn"}
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # With the hook on, pods never migrate themselves.
    for dep in by_kind(objs, "Deployment").values():
        assert {"name": "ESSP_MIGRATE_ON_START", "value": "false"} in container(dep)["env"]


def test_runbook_image_overrides() -> None:
    """Runbook §5.1 step 7: --set imsApi.image.tag=$VERSION … --set global.imageRegistry=$REGISTRY."""
    sets = {"global": {"imageRegistry": "registry.example.com"}}
    for key in ["imsApi", "ssotSchool", "ssotDevices", "ssotParts", "syncWorker"]:
        sets[key] = {"image": {"tag": "v1.0.0"}}
    objs = render(sets, "essp-prod")
    for dep in by_kind(objs, "Deployment").values():
        assert container(dep)["image"] == "registry.example.com/essp/essp:v1.0.0"
    # …and the migration Job is named as in the runbook's §6.1.
    assert list(by_kind(objs, "Job")) == ["essp-migration-v1-0-0"]


@pytest.mark.parametrize("env", ["default", "staging", "prod"])
def test_hpa(env: str) -> None:
    hpa = one(objects(env), "HorizontalPodAutoscaler", "ims-api-hpa")
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ims-api"}
    metrics = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert metrics == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }
    assert spec["behavior"] == HPA_BEHAVIOR_9_1
    # The HPA owns the replica count.
    assert "replicas" not in one(objects(env), "Deployment", "ims-api")["spec"]


@pytest.mark.parametrize("env", ALL_ENVS)
def test_ingress(env: str) -> None:
    ing = one(objects(env), "Ingress", "essp-ingress")
    assert ing["spec"]["ingressClassName"] == "nginx"
    backends = {p["backend"]["service"]["name"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"ims-api"}
    paths = {p["path"]: p["pathType"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
    # The runbook's `curl https://<host>/health`; /metrics and /readyz are not public.
    assert paths.get("/health") == "Exact" and "/v1" in paths
    assert "/metrics" not in paths and "/" not in paths
    if MATRIX.get(env, MATRIX["prod"])["tls"]:
        assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        assert ing["spec"]["tls"][0]["hosts"] == [ing["spec"]["rules"][0]["host"]]
    if env == "prod":
        # Runbook §14.2: kubectl describe certificate essp-prod-tls.
        assert ing["spec"]["tls"][0]["secretName"] == "essp-prod-tls"


@pytest.mark.parametrize("env", ["default", "staging", "prod"])
def test_pdbs(env: str) -> None:
    objs = objects(env)
    pdbs = by_kind(objs, "PodDisruptionBudget")
    assert set(pdbs) == {f"{n}-pdb" for n in ROLES}
    for name in ROLES:
        pod_labels = one(objs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert selector_matches(pdbs[f"{name}-pdb"]["spec"]["selector"]["matchLabels"], pod_labels)


@pytest.mark.parametrize("env", ["default", "staging", "prod"])
def test_network_policies(env: str) -> None:
    objs = objects(env)
    nps = by_kind(objs, "NetworkPolicy")
    assert set(nps) == {f"{n}-netpol" for n in ROLES}
    for name in ROLES:
        spec = nps[f"{name}-netpol"]["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        pod_labels = one(objs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert selector_matches(spec["podSelector"]["matchLabels"], pod_labels)
        egress_ports = {p["port"] for rule in spec["egress"] for p in rule["ports"]}
        # DNS, the platform itself, Postgres, NATS, Redis, MinIO, Keycloak; nothing else.
        assert egress_ports == {53, "http", 5432, 4222, 6379, 9000, 8080, 8443, 443}
        assert all(rule.get("to") for rule in spec["egress"]), "every egress rule names its peers"
        from_controller = any(
            peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "ingress-nginx"
            for rule in spec["ingress"]
            for peer in rule["from"]
        )
        assert from_controller == (name == "ims-api"), "only ims-api is reached from the ingress controller"


@pytest.mark.parametrize("env", ["default", "staging", "prod"])
def test_servicemonitor(env: str) -> None:
    objs = objects(env)
    sm = one(objs, "ServiceMonitor", "essp-services")
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    assert sm["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/part-of": "essp-platform"}
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}]
    # Every role's Service is scraped, and job=<name> for the ServiceDown alert.
    assert sm["spec"]["jobLabel"] == "app"
    for name in ROLES:
        svc = one(objs, "Service", name)
        assert selector_matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"])
        assert svc["metadata"]["labels"]["app"] == name


def test_metrics_on_their_own_port() -> None:
    objs = render({"metrics": {"port": 9090}}, "essp-prod")
    sm = one(objs, "ServiceMonitor", "essp-services")
    assert sm["spec"]["endpoints"][0]["port"] == "metrics"
    for name in ROLES:
        c = container(one(objs, "Deployment", name))
        assert {"name": "ESSP_METRICS_ADDR", "value": ":9090"} in c["env"]
        assert any(p["name"] == "metrics" for p in one(objs, "Service", name)["spec"]["ports"])


# --------------------------------------------------------------------------
# the environment matrix (runbook §1.3)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENV_FILES)
def test_environment_matrix(env: str) -> None:
    m = MATRIX[env]
    objs = objects(env)
    deps = by_kind(objs, "Deployment")
    hpas = by_kind(objs, "HorizontalPodAutoscaler")
    if m["hpa"]:
        lo, hi = m["ims"] if isinstance(m["ims"], tuple) else (m["ims"], None)
        assert hpas["ims-api-hpa"]["spec"]["minReplicas"] == lo
        if hi:
            assert hpas["ims-api-hpa"]["spec"]["maxReplicas"] == hi
    else:
        assert not hpas
        assert deps["ims-api"]["spec"]["replicas"] == m["ims"]
    for name in ["ssot-school", "ssot-devices", "ssot-parts"]:
        assert deps[name]["spec"]["replicas"] == m["ssot"], name
    assert deps["sync-worker"]["spec"]["replicas"] == m["sync"]
    assert bool(by_kind(objs, "PodDisruptionBudget")) == m["pdb"]
    assert bool(by_kind(objs, "NetworkPolicy")) == m["netpol"]
    assert bool(one(objs, "Ingress", "essp-ingress")["spec"].get("tls")) == m["tls"]
    data = one(objs, "ConfigMap", "ims-api-config")["data"]
    assert data["AUTH_ENABLED"] == m["auth"]
    assert data["LOG_LEVEL"] == m["log"]
    assert data["SSOT_SYNC_INTERVAL"] == m["sync_interval"]
    for name, dep in deps.items():
        c = container(dep)
        assert c["imagePullPolicy"] == m["pull"]
        req, lim = millicores(c["resources"]["requests"]["cpu"]), millicores(c["resources"]["limits"]["cpu"])
        assert m["req"][0] <= req <= m["req"][1], f"{name} cpu request {req}m"
        assert m["lim"][0] <= lim <= m["lim"][1], f"{name} cpu limit {lim}m"
        assert c["resources"]["requests"].get("memory"), "memory request (the HPA's memory target needs it)"
    if env == "dev":
        dsn = one(objs, "Secret", "database-secrets")["stringData"]["pg-dsn"]
        assert dsn.endswith("sslmode=disable") and ".essp-dev.svc" in dsn


# --------------------------------------------------------------------------
# the configuration is one the binary accepts
# --------------------------------------------------------------------------


def essp_binary() -> Path:
    for candidate in [os.environ.get("ESSP_BIN"), REPO / "target" / "debug" / "essp", REPO / "target" / "release" / "essp"]:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail("no essp binary: build it (cargo build -p essp) or set ESSP_BIN")


FAKE_SECRETS = {
    "PG_DSN": "postgres://essp_admin:secret@postgresql:5432/ssp_ims?sslmode=require",
    "REDIS_PASSWORD": "redis-secret",
    "MINIO_ACCESS_KEY": "essp_service_account",
    "MINIO_SECRET_KEY": "minio-secret-key",
    "NATS_USER": "essp_nats",
    "NATS_PASSWORD": "nats-secret",
    "JWT_SECRET": "0123456789abcdef0123456789abcdef0123456789",
}


def pod_environment(objs: list[dict[str, Any]], c: dict[str, Any]) -> dict[str, str]:
    """The environment a container would see: envFrom ConfigMaps, then env (which wins)."""
    env: dict[str, str] = {}
    cms = by_kind(objs, "ConfigMap")
    for src in c.get("envFrom", []):
        env.update(cms[src["configMapRef"]["name"]]["data"])
    for e in c.get("env", []):
        env[e["name"]] = e["value"] if "value" in e else FAKE_SECRETS[e["name"]]
    return env


@pytest.mark.parametrize("env", ALL_ENVS)
def test_essp_config_check_accepts_rendered_config(env: str, tmp_path: Path) -> None:
    objs = objects(env)
    binary = essp_binary()
    containers = [container(d) for d in by_kind(objs, "Deployment").values()]
    containers += [j["spec"]["template"]["spec"]["containers"][0] for j in by_kind(objs, "Job").values()]
    for c in containers:
        environment = {"PATH": "/usr/bin:/bin", **pod_environment(objs, c)}
        environment["ESSP_DATA_DIR"] = str(tmp_path / "data")
        out = subprocess.run([str(binary), "config", "check"], env=environment, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"{c['name']}: essp config check failed:\n{out.stdout}\n{out.stderr}"
        effective = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        assert effective.get("PG_DSN", "").startswith("postgres://"), c["name"]


# --------------------------------------------------------------------------
# packaging/k8s is up to date
# --------------------------------------------------------------------------


def test_rendered_manifests_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("essp_render", REPO / "packaging" / "k8s" / "render.py")
    assert spec and spec.loader
    render_mod = importlib.util.module_from_spec(spec)
    sys.modules["essp_render"] = render_mod
    spec.loader.exec_module(render_mod)
    problems = render_mod.stale(render_mod.render_all())
    assert not problems, "run: .venv/bin/python packaging/k8s/render.py\n" + "\n".join(problems)


@pytest.mark.parametrize("env", ENV_FILES)
def test_rendered_manifests_validate(env: str) -> None:
    """The committed plain manifests are valid too (they drop Helm's hook annotations)."""
    root = REPO / "packaging" / "k8s" / env
    files = sorted(root.rglob("*.yaml"))
    assert files
    for f in files:
        for obj in yaml.safe_load_all(f.read_text()):
            if not obj:
                continue
            assert obj["metadata"].get("namespace") == ENVS[env] or obj["kind"] == "Namespace", f
            for kube in KUBE_VERSIONS:
                try:
                    kubernetes_validate.validate(obj, kube, strict=True)
                except kubernetes_validate.SchemaNotFoundError:
                    assert (obj["apiVersion"], obj["kind"]) in CRD_KINDS
                    _validate_servicemonitor(obj)
