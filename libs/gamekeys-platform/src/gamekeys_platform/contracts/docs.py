"""Writes docs/events.md and a JSON Schema per event type from the contracts.

``python -m gamekeys_platform.contracts.docs DOCS_DIR`` (``make docs``) writes them;
``--check`` exits 1 naming each file that is stale, which a test runs so the documentation
cannot drift from the code.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from gamekeys_platform.contracts import TOPIC_MODULES
from gamekeys_platform.contracts.base import EventData
from gamekeys_platform.events import TOPIC_BY_SOURCE

PREAMBLE = """\
# Event contracts

<!-- Generated from libs/gamekeys-platform/src/gamekeys_platform/contracts by `make docs`;
edit the contracts, not this page. -->

Every event travels in the envelope of ARCHITECTURE.md §4 (`gamekeys_platform.events.Event`):
`{"id", "type", "source", "time", "subject", "schemaVersion", "traceId", "data"}`, keyed by
`subject` (the aggregate id) on its producer's topic. This page fixes the `data` of each type.
The contracts are pydantic models in `gamekeys_platform.contracts`, one module per topic:
producers build an event's data as its model (an unknown field, a missing one or a wrong type
fails at once), and consumers load it through the same model. A JSON Schema of each type's
whole event is in [`events/`](events/) (`events/<topic>/<type>.v<schemaVersion>.json`), for
the teams outside (Catalog, Payment, Admin, data).

`traceId` is the W3C trace id (32 lowercase hex digits) of the work that emitted the event: the
request's, continued from the API gateway's `traceparent`, or the handled event's. The record
also carries a `traceparent` header in that trace, which consumers continue; a consumer given a
record without the header continues the `traceId` (`gamekeys_platform.tracing`).

Field names are camelCase, ids are UUID strings, money is `{"amount": "19.99", "currency":
"USD"}` (the amount a decimal string), timestamps ISO 8601 UTC with `Z`, countries ISO 3166-1
alpha-2. Every field listed is present in every event of its type; "or null" says it may be
null, "optional" that it may be missing. No event ever carries a plaintext game key.

## Versioning

- Adding an optional field keeps `schemaVersion`: consumers ignore fields they do not know,
  so an older consumer reads a newer producer's events.
- Removing or renaming a field, making an optional field required, or changing a field's type
  or meaning is a new `schemaVersion`. The producer emits only the new version; consumers
  accept the previous version for 30 days after the new one is deployed (the contract's
  `UPGRADES` turns old data into the new shape), long enough for every topic's retention and
  for replays of the dead-letter topics; then the upgrade is removed.
- An event that breaks its contract (a required field missing, a wrong type, a version no longer
  accepted) is dead-lettered to `<topic>.dlq` with the reason in its `error` header; it never
  reaches a handler.
"""


def _type_of(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        kinds = [_type_of(s, defs) for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = any(s.get("type") == "null" for s in schema["anyOf"])
        return " or ".join(kinds) + (" or null" if nullable else "")
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type_of(schema.get('items', {}), defs)}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            return f"map of country to {_type_of(values, defs)}"
        return "object"
    if kind == "string":
        if schema.get("format") == "uuid":
            return "uuid"
        if schema.get("format") == "date-time":
            return "timestamp"
        if schema.get("pattern") == "^[A-Z]{2}$":
            return "country"
        if schema.get("pattern") == "^[A-Z]{3}$":
            return "currency"
        if "pattern" in schema:
            return "decimal string"
        return "string"
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(kind, "any")


def _rows(schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", ()))
    rows = []
    for name, prop in schema["properties"].items():
        kind = _type_of(prop, defs)
        if name not in required:
            kind += " (optional)"
        description = prop.get("description", "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{name}` | {kind} | {description} |")
    return rows


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _subject(contract: type[EventData]) -> str:
    if "subject" in contract.__dict__:  # computed: its docstring says from what
        return _doc(contract.__dict__["subject"])
    return f"`{contract.model_fields[contract.SUBJECT].alias}`"


# Which entity an id field names, for the "ids" line of each type (what analytics joins on).
_ID_KINDS = {
    "developerId": "studio",
    "gameId": "game",
    "gameIds": "game",
    "batchId": "batch",
    "keyId": "key",
    "keyIds": "key",
    "retailerId": "retailer",
    "allocationId": "allocation",
    "allocationIds": "allocation",
    "orderId": "order",
    "saleId": "sale",
    "userId": "user",
    "adminUserId": "user",
    "activationId": "activation",
    "assessmentId": "assessment",
    "caseId": "case",
    "versionId": "build",
    "submissionId": "submission",
    "payoutId": "payout",
}


def _ids(contract: type[EventData]) -> str:
    kinds = dict.fromkeys(
        _ID_KINDS[field.alias] for field in contract.model_fields.values() if field.alias in _ID_KINDS
    )
    return ", ".join(kinds) or "none"


def _open(schema: Any) -> Any:
    """The schema without ``additionalProperties: false``: producers are strict, but a reader
    must accept the optional fields a newer producer adds (see Versioning)."""
    if isinstance(schema, dict):
        return {k: _open(v) for k, v in schema.items() if not (k == "additionalProperties" and v is False)}
    if isinstance(schema, list):
        return [_open(item) for item in schema]
    return schema


def event_schema(contract: type[EventData]) -> dict[str, Any]:
    """JSON Schema (2020-12) of a whole event of this type: the envelope with its data."""
    data = _open(contract.model_json_schema(by_alias=True, mode="serialization"))
    defs = data.pop("$defs", {})
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{contract.topic()}/{contract.TYPE}.v{contract.SCHEMA_VERSION}.json",
        "title": f"{contract.TYPE} v{contract.SCHEMA_VERSION}",
        "description": _doc(contract),
        "type": "object",
        "required": ["id", "type", "source", "time", "subject", "schemaVersion", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "type": {"const": contract.TYPE},
            "source": {"const": contract.SOURCE},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string"},
            "schemaVersion": {"const": contract.SCHEMA_VERSION},
            "traceId": {"type": ["string", "null"]},
            "data": data,
        },
    }
    if defs:
        schema["$defs"] = defs
    return schema


def render() -> dict[str, str]:
    """Every generated file: path relative to the docs folder -> content."""
    files: dict[str, str] = {}
    page = [PREAMBLE]
    for module in TOPIC_MODULES:
        contracts = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, EventData) and "TYPE" in obj.__dict__
        ]
        source = contracts[0].SOURCE
        page += [f"## {TOPIC_BY_SOURCE[source]} ({source})", "", _doc(module), ""]
        nested: dict[str, Any] = {}
        for contract in sorted(contracts, key=lambda c: c.TYPE):
            schema = event_schema(contract)
            files[f"events/{schema['$id']}"] = json.dumps(schema, indent=2) + "\n"
            data = schema["properties"]["data"]
            nested.update(schema.get("$defs", {}))
            page += [
                f"### `{contract.TYPE}` (v{contract.SCHEMA_VERSION}), subject {_subject(contract)}",
                "",
                _doc(contract),
                "",
                f"Ids: {_ids(contract)}.",
                "",
                "| field | type | meaning |",
                "|---|---|---|",
                *_rows(data, nested),
                "",
            ]
        for name, schema in sorted(nested.items()):
            page += [f"**{name}**: {_doc_of_def(schema)}", "", "| field | type | meaning |", "|---|---|---|"]
            page += [*_rows(schema, nested), ""]
    files["events.md"] = "\n".join(page).rstrip() + "\n"
    return files


def _doc_of_def(schema: dict[str, Any]) -> str:
    return schema.get("description", "").replace("\n", " ") or "a record used above"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="only say which files are stale")
    args = parser.parse_args(argv)
    stale = []
    for relative, content in render().items():
        path = args.docs_dir / relative
        current = path.read_text() if path.exists() else None
        if current == content:
            continue
        stale.append(relative)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if args.check and stale:
        print("stale (run `make docs`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
