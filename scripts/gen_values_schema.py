#!/usr/bin/env python3
"""Writes deploy/chart/chartpilot/values.schema.json.

The schema is kept as code so every object gets `additionalProperties:
false` without fail: an unknown key (or a secret written inline, which has
no key to go to) is refused by `helm install` and by check-jsonschema.
No `required` at the top: a values file
gives only what it changes, and the chart's defaults fill the rest. Run
after changing values.yaml; scripts/validate-deploy.sh checks that the
committed file matches this output.
"""
import json
import sys
from pathlib import Path


def obj(props, required=(), **extra):
    out = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = list(required)
    out.update(extra)
    return out


def s(desc=None, **kw):
    out = {"type": "string", **kw}
    if desc:
        out["description"] = desc
    return out


def b(desc=None):
    return {"type": "boolean", **({"description": desc} if desc else {})}


def i(minimum=0, desc=None, **kw):
    out = {"type": "integer", "minimum": minimum, **kw}
    if desc:
        out["description"] = desc
    return out


def strs(**kw):
    return {"type": "array", "items": {"type": "string"}, **kw}


DURATION = s("A duration like 30s, 5m, 2h, 3d", pattern=r"^([0-9]+(ms|s|m|h|d))+$")
URL_OR_EMPTY = s(pattern=r"^(https?://.+)?$")
LABEL_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
ANY_MAP = {"type": "object"}
SECRET_KEY = s("A key of secrets.existingSecret; empty: not used", pattern=r"^([-._a-zA-Z0-9]+)?$")
RESOURCES = obj(
    {
        "requests": obj({"cpu": {"type": ["string", "number"]}, "memory": s()}),
        "limits": obj({"cpu": {"type": ["string", "number"]}, "memory": s()}),
    }
)
AUTO = {"enum": ["auto", True, False], "description": "auto: on when the cluster serves monitoring.coreos.com/v1"}
# NetworkPolicyPeer; selectors are label maps, so their insides stay open.
PEER = obj({"namespaceSelector": ANY_MAP, "podSelector": ANY_MAP, "ipBlock": ANY_MAP})


def scaled_role():
    return obj(
        {
            "replicas": i(1),
            "resources": RESOURCES,
            "autoscaling": obj(
                {
                    "enabled": b(),
                    "minReplicas": i(1),
                    "maxReplicas": i(1),
                    "targetCPUUtilizationPercentage": i(1, maximum=100),
                }
            ),
            "podDisruptionBudget": obj({"enabled": b(), "minAvailable": {"type": ["integer", "string"]}}),
        }
    )


CONFIG = obj(
    {
        "log": obj({"level": s()}),
        "queue": obj(
            {
                "maxAttempts": i(1, maximum=100),
                "prefix": s(pattern=r"^[-_.a-zA-Z0-9]+$"),
                "prefetch": i(1, maximum=65535),
                "retryDelays": {"type": "array", "items": DURATION, "minItems": 1},
                "jobTimeout": DURATION,
                "lanes": i(1, maximum=256),
            }
        ),
        "github": obj({"apiUrl": s(pattern=r"^https?://.+"), "appId": i(0)}),
        "alertmanager": obj({"apiUrl": URL_OR_EMPTY}),
        "git": obj(
            {
                "provider": {"enum": ["github", "local"]},
                "repository": s("owner/name", pattern=r"^([^/\s]+/[^/\s]+)?$"),
                "branch": s(minLength=1),
            }
        ),
        "repositories": obj(
            {
                "discover": {"type": "boolean", "description": "Serve the repositories with pins of the GitHub App's installations (needs github.appId)"},
                "exclude": strs(),
            }
        ),
        "argocd": obj(
            {
                "mode": {"enum": ["none", "kube", "api"]},
                "apiUrl": URL_OR_EMPTY,
                "namespace": s(minLength=1),
                "syncOptions": strs(),
                "syncAutomated": b(),
            }
        ),
        "helm": obj(
            {
                "timeout": DURATION,
                "mirrors": {"type": "array", "items": obj({"from": s(), "to": s()}, required=["from", "to"])},
            }
        ),
        "policy": obj(
            {
                "environments": strs(minItems=1),
                "dryRun": b(),
                "rolloutWindow": DURATION,
                "cooldown": DURATION,
                "soak": DURATION,
                "updateTypes": {"type": "array", "items": {"enum": ["patch", "minor", "major"]}},
                "ignore": strs(),
                "minReleaseAge": DURATION,
                "ranges": {"enum": ["leave", "pin"]},
            }
        ),
        "upgrade": obj({"interval": DURATION, "jitter": DURATION, "labels": strs(), "majorLabel": s()}),
        "promotion": obj({"deadline": DURATION, "recheck": DURATION}),
        "chat": obj(
            {
                "protected": strs(),
                "allow": {
                    "type": "array",
                    "items": obj(
                        {
                            "verbs": strs(minItems=1),
                            "environments": strs(minItems=1),
                            "slackUsers": strs(),
                            "slackGroups": strs(),
                            "githubUsers": strs(),
                            "githubTeams": strs(),
                            "githubPermission": {"enum": ["read", "triage", "write", "maintain", "admin"]},
                            "users": strs(),
                        },
                        required=["verbs", "environments"],
                    ),
                },
            }
        ),
        "rollback": obj(
            {
                "rules": {
                    "type": "array",
                    "items": obj(
                        {
                            "matchers": strs(),
                            "appLabels": strs(minItems=1),
                            "envLabels": strs(),
                            "namespaceApps": LABEL_MAP,
                            "envValues": LABEL_MAP,
                            "action": {"enum": ["revert-pr", "revert-push", "argocd-rollback"]},
                        },
                        required=["matchers", "appLabels"],
                    ),
                }
            }
        ),
    }
)

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "chartpilot chart values",
    **obj(
        {
            "global": ANY_MAP,
            "nameOverride": s(),
            "fullnameOverride": s(),
            "image": obj({"repository": s(minLength=1), "tag": s(), "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}}),
            "imagePullSecrets": {"type": "array", "items": obj({"name": s()}, required=["name"])},
            "secrets": obj(
                {
                    "existingSecret": s(minLength=1),
                    "secretProviderClass": s(),
                    "keys": obj(
                        {
                            k: SECRET_KEY
                            for k in [
                                "githubWebhookSecret",
                                "githubToken",
                                "githubAppPrivateKey",
                                "alertmanagerToken",
                                "slackSigningSecret",
                                "slackBotToken",
                                "slackWebhookUrl",
                                "chatSecret",
                                "argocdToken",
                                "amqpUrl",
                            ]
                        }
                    ),
                },
            ),
            "queue": obj(
                {
                    "kind": {"enum": ["embedded", "amqp"]},
                    "persistence": obj({"storageClass": s(), "size": s(pattern=r"^[0-9]+(Mi|Gi|Ti)$"), "existingClaim": s()}),
                },
            ),
            "config": CONFIG,
            "allInOne": obj({"resources": RESOURCES}),
            "receiver": scaled_role(),
            "worker": scaled_role(),
            "podAnnotations": LABEL_MAP,
            "podLabels": LABEL_MAP,
            "nodeSelector": LABEL_MAP,
            "tolerations": {"type": "array", "items": ANY_MAP},
            "affinity": ANY_MAP,
            "priorityClassName": s(),
            "terminationGracePeriodSeconds": i(0),
            "service": obj({"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "port": i(1, maximum=65535), "annotations": LABEL_MAP}),
            "ingress": obj(
                {
                    "enabled": b(),
                    "className": s(),
                    "annotations": LABEL_MAP,
                    "host": s(minLength=1),
                    "tlsSecretName": s(),
                }
            ),
            "serviceAccount": obj(
                {
                    "create": b(),
                    "name": s(),
                    "annotations": LABEL_MAP,
                    "labels": LABEL_MAP,
                    "workloadIdentity": obj({"enabled": b(), "clientId": s(), "tenantId": s()}),
                }
            ),
            "rbac": obj({"create": b()}),
            "networkPolicy": obj(
                {
                    "enabled": b(),
                    "ingressFrom": {"type": "array", "items": PEER},
                    "metricsFrom": {"type": "array", "items": PEER},
                }
            ),
            "serviceMonitor": obj({"enabled": AUTO, "interval": DURATION, "labels": LABEL_MAP}),
            "prometheusRule": obj(
                {
                    "enabled": AUTO,
                    "labels": LABEL_MAP,
                    "runbookBaseUrl": s(minLength=1),
                    "jobLatencySeconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 80, "description": "below the largest finite bucket, 81.92 s"},
                    "webhookErrorRatio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                }
            ),
            "grafanaDashboard": obj(
                {
                    "enabled": b(),
                    "labels": LABEL_MAP,
                    "annotations": LABEL_MAP,
                    "namespace": s(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"),
                }
            ),
        }
    ),
}

if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "deploy/chart/chartpilot/values.schema.json"
    text = json.dumps(SCHEMA, indent=2) + "\n"
    if sys.argv[1:] == ["--check"]:
        if out.read_text() != text:
            sys.exit(f"{out} is stale: run scripts/gen_values_schema.py")
    else:
        out.write_text(text)
