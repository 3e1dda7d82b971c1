"""Structural check of the chart's Prometheus Operator objects and Grafana dashboards (`make chart`).

kubernetes-validate knows the Kubernetes schemas only, and the Prometheus Operator's CRD schemas
are not among the packages this project installs from, so this checks what would break them:

- ServiceMonitor: the fields the operator reads, a selector that matches a Service of the same
  render, and endpoint ports those Services name;
- PrometheusRule: every expression parses as PromQL (promql-parser), durations, a severity, a
  summary, a description and a runbook_url whose page exists under docs/runbooks/;
- dashboards (ConfigMaps with .json data): valid JSON, every target's expression parses;
- every metric an alert or a panel reads is one the code exports (Counter / Gauge / Histogram
  names found in the sources given), so an alert cannot silently watch nothing.

Usage: python helm/check_monitoring.py RENDERED.yaml --runbooks docs/runbooks --sources libs services
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import promql_parser
import yaml

DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
SEVERITIES = {"critical", "warning", "info"}
SERVICE_MONITOR_ENDPOINT_KEYS = {
    "port", "path", "interval", "scrapeTimeout", "honorLabels", "scheme", "params", "relabelings",
    "metricRelabelings", "tlsConfig", "bearerTokenSecret", "authorization", "basicAuth", "targetPort",
}  # fmt: skip
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
# Series Prometheus makes itself, not the code.
BUILTIN_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
METRIC_DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")


def exported_metrics(sources: list[Path]) -> set[str]:
    """Every series name the code can export: counters' _total, histograms' _bucket/_sum/_count."""
    names: set[str] = set()
    for root in sources:
        for path in root.rglob("*.py"):
            if "tests" in path.parts:
                continue
            for kind, name in METRIC_DEFINITION.findall(path.read_text(encoding="utf-8")):
                base = name.removesuffix("_total") if kind == "Counter" else name
                names.add(base)
                if kind == "Counter":
                    names.update({f"{base}_total", f"{base}_created"})
                if kind in ("Histogram", "Summary"):
                    names.update({f"{base}_bucket", f"{base}_sum", f"{base}_count"})
    return names


def metric_names(node) -> set[str]:
    """The metric names an expression's vector selectors read."""
    found: set[str] = set()
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            found.add(node.name)
        return found
    for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, (str, int, float)):
            found |= metric_names(child)
    for child in getattr(node, "args", None) or ():
        found |= metric_names(child)
    return found


class Checker:
    def __init__(self, documents: list[dict], runbooks: Path, known_metrics: set[str]) -> None:
        self.documents = documents
        self.runbooks = runbooks
        self.known_metrics = known_metrics
        self.errors: list[str] = []
        self.counts = {"ServiceMonitor": 0, "PrometheusRule": 0, "alerts": 0, "dashboards": 0}

    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def run(self) -> list[str]:
        services = [d for d in self.documents if d.get("kind") == "Service"]
        for document in self.documents:
            kind = document.get("kind")
            name = f"{kind}/{document.get('metadata', {}).get('name')}"
            if kind == "ServiceMonitor":
                self.counts[kind] += 1
                self.service_monitor(name, document, services)
            elif kind == "PrometheusRule":
                self.counts[kind] += 1
                self.prometheus_rule(name, document)
            elif kind == "ConfigMap":
                for key, value in (document.get("data") or {}).items():
                    if key.endswith(".json"):
                        self.counts["dashboards"] += 1
                        self.dashboard(f"{name}[{key}]", value)
        return self.errors

    def api_version(self, name: str, document: dict) -> None:
        if document.get("apiVersion") != "monitoring.coreos.com/v1":
            self.fail(name, f"apiVersion {document.get('apiVersion')!r}, expected monitoring.coreos.com/v1")

    def service_monitor(self, name: str, document: dict, services: list[dict]) -> None:
        self.api_version(name, document)
        spec = document.get("spec") or {}
        labels = (spec.get("selector") or {}).get("matchLabels") or {}
        if not labels:
            self.fail(name, "spec.selector.matchLabels is empty (it would select every Service)")
        selected = [
            s for s in services if labels.items() <= (s.get("metadata", {}).get("labels") or {}).items()
        ]
        if not selected:
            self.fail(name, f"its selector {labels} matches no Service of the chart")
        port_names = {p.get("name") for s in selected for p in s.get("spec", {}).get("ports", [])}
        endpoints = spec.get("endpoints")
        if not isinstance(endpoints, list) or not endpoints:
            self.fail(name, "spec.endpoints must be a non-empty list")
            return
        for index, endpoint in enumerate(endpoints):
            where = f"{name} endpoint {index}"
            unknown = set(endpoint) - SERVICE_MONITOR_ENDPOINT_KEYS
            if unknown:
                self.fail(where, f"unknown fields {sorted(unknown)}")
            if endpoint.get("port") not in port_names:
                self.fail(where, f"port {endpoint.get('port')!r} is not named by a selected Service")
            if not str(endpoint.get("path", "/metrics")).startswith("/"):
                self.fail(where, "path must start with /")
            for field in ("interval", "scrapeTimeout"):
                if field in endpoint and not DURATION.match(str(endpoint[field])):
                    self.fail(where, f"{field} {endpoint[field]!r} is not a Prometheus duration")

    def expression(self, where: str, expr: str) -> None:
        try:
            parsed = promql_parser.parse(expr)
        except Exception as exc:
            self.fail(where, f"PromQL does not parse: {exc}")
            return
        unknown = metric_names(parsed) - self.known_metrics - BUILTIN_METRICS
        if unknown:
            self.fail(where, f"reads metrics the code does not export: {sorted(unknown)}")

    def prometheus_rule(self, name: str, document: dict) -> None:
        self.api_version(name, document)
        groups = (document.get("spec") or {}).get("groups")
        if not isinstance(groups, list) or not groups:
            self.fail(name, "spec.groups must be a non-empty list")
            return
        group_names = [g.get("name") for g in groups]
        if len(set(group_names)) != len(group_names) or not all(group_names):
            self.fail(name, f"group names must be present and unique: {group_names}")
        for group in groups:
            for index, rule in enumerate(group.get("rules") or []):
                where = f"{name} {group.get('name')}[{index}] {rule.get('alert') or rule.get('record')}"
                self.rule(where, rule)

    def rule(self, where: str, rule: dict) -> None:
        unknown = set(rule) - RULE_KEYS
        if unknown:
            self.fail(where, f"unknown fields {sorted(unknown)}")
        if ("alert" in rule) == ("record" in rule):
            self.fail(where, "a rule has exactly one of alert and record")
        self.expression(where, str(rule.get("expr", "")))
        if "for" in rule and not DURATION.match(str(rule["for"])):
            self.fail(where, f"for {rule['for']!r} is not a Prometheus duration")
        if "alert" not in rule:
            return
        self.counts["alerts"] += 1
        if (rule.get("labels") or {}).get("severity") not in SEVERITIES:
            self.fail(where, f"labels.severity must be one of {sorted(SEVERITIES)}")
        annotations = rule.get("annotations") or {}
        for field in ("summary", "description", "runbook_url"):
            if not annotations.get(field):
                self.fail(where, f"annotations.{field} is missing")
        page = str(annotations.get("runbook_url", "")).rsplit("/", 1)[-1]
        if page and not (self.runbooks / page).is_file():
            self.fail(where, f"runbook page {page} does not exist in {self.runbooks}")

    def dashboard(self, where: str, text: str) -> None:
        try:
            board = json.loads(text)
        except json.JSONDecodeError as exc:
            self.fail(where, f"not JSON: {exc}")
            return
        if not board.get("title") or not board.get("uid"):
            self.fail(where, "a dashboard needs a title and a uid")
        panels = board.get("panels") or []
        if not panels:
            self.fail(where, "no panels")
        for panel in panels:
            for target in panel.get("targets") or []:
                # Grafana's own variables stand for a duration in a range selector.
                expr = str(target.get("expr", ""))
                for variable in ("$__rate_interval", "$__range"):
                    expr = expr.replace(variable, "5m")
                self.expression(f"{where} panel {panel.get('title')!r}", expr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rendered", type=Path, help="the output of helm template")
    parser.add_argument("--runbooks", type=Path, required=True)
    parser.add_argument("--sources", type=Path, nargs="+", required=True)
    parser.add_argument("--expect", action="store_true", help="fail unless monitoring objects were rendered")
    args = parser.parse_args(argv)
    documents = [d for d in yaml.safe_load_all(args.rendered.read_text()) if isinstance(d, dict)]
    checker = Checker(documents, args.runbooks, exported_metrics(args.sources))
    errors = checker.run()
    if args.expect and not (checker.counts["ServiceMonitor"] and checker.counts["PrometheusRule"]):
        errors.append("no ServiceMonitor or PrometheusRule was rendered")
    for error in errors:
        print(f"check_monitoring: {error}", file=sys.stderr)
    counts = ", ".join(f"{value} {key}" for key, value in checker.counts.items())
    print(f"check_monitoring: {args.rendered.name}: {counts}; {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
