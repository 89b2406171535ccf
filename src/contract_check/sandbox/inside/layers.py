"""The schema and payload layers, generic over a suite's subjects. Runs INSIDE the sandbox (stdlib + pytest;
the subjects are pydantic models or enums), copied next to the suite's own contracts as a test module.

- ``schema.snapshot``: each subject's JSON Schema (models) or values (enums), and the payloads the candidate
  produces (the suite's examples, validated and dumped, plus one boundary example built from the schema),
  handed to the host, which compares them with the baseline.
- ``payload.golden.<Subject>``: every baseline payload of the subject still validates under the candidate.
"""

from __future__ import annotations

import enum
import json
import os
from typing import Any

import pytest

from contract_check_plugin import SUITE, SubjectError, load_subject, read_json


def _golden_payloads(name: str) -> list[Any] | None:
    """The baseline's payloads of subject *name*: the host wrote them here from the golden it read and checked."""
    folder = SUITE.get("golden")
    path = os.path.join(folder, "payloads", f"{name}.json") if folder else ""
    if not path or not os.path.isfile(path):
        return None
    data = read_json(path)
    return data if isinstance(data, list) else None


def _resolve(schema: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        node = schema.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1], {})
    if isinstance(node, dict) and isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def _boundary(schema: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """The smallest value a schema node admits: minimum numbers, shortest strings, first enum value, empty
    containers; only required properties. A best effort: the model validates it before it is used."""
    node = _resolve(schema, node)
    if not isinstance(node, dict) or depth > 8:
        return None
    for key in ("enum", "const"):
        if key in node:
            return node[key][0] if key == "enum" and node[key] else node.get(key)
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            members = [m for m in node[key] if _resolve(schema, m).get("type") != "null"] or node[key]
            return _boundary(schema, members[0], depth + 1)
    kind = node.get("type")
    if kind == "integer":
        if "minimum" in node:
            return int(node["minimum"])
        return int(node["exclusiveMinimum"]) + 1 if "exclusiveMinimum" in node else 0
    if kind == "number":
        if "minimum" in node:
            return node["minimum"]
        return node["exclusiveMinimum"] + 1 if "exclusiveMinimum" in node else 0.0
    if kind == "string":
        return "x" * max(int(node.get("minLength", 1)), 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return [_boundary(schema, node.get("items", {}), depth + 1) for _ in range(int(node.get("minItems", 0)))]
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return {k: _boundary(schema, props[k], depth + 1) for k in node.get("required", []) if k in props}
    return None


def _payloads(name: str, model: Any, schema: dict[str, Any]) -> list[Any]:
    """The suite's examples as the candidate dumps them; when recording a baseline (``snapshot``), also the
    schema's boundary example, which later candidates must still accept (a relaxed candidate's own boundary
    is not held against the old schema: that is what CONSTRAINT_RELAXED reports)."""
    out = []
    examples = list(SUITE.get("examples", {}).get(name, []))
    if SUITE.get("recording"):
        examples.append(_boundary(schema, schema))
    for example in examples:
        try:
            out.append(model.model_validate(example).model_dump(mode="json"))
        except Exception:
            continue  # an example the candidate rejects is for the assertions to report
    return out


@pytest.mark.contract(id="schema.snapshot", subject="*", layer="schema")
def test_snapshot(contract_artifact: Any) -> None:
    """The candidate's schemas, enum values and payloads are recorded for comparison with the baseline."""
    models: dict[str, Any] = {}
    enums: dict[str, list[Any]] = {}
    payloads: dict[str, list[Any]] = {}
    problems: dict[str, str] = {}
    for name in SUITE["subjects"]:
        try:
            found = load_subject(name)
        except SubjectError as exc:
            problems[name] = str(exc)
            continue  # the host reports a subject missing from the candidate as MODEL_MISSING
        if isinstance(found, type) and issubclass(found, enum.Enum):
            enums[name] = [member.value for member in found]
        elif hasattr(found, "model_json_schema") and hasattr(found, "model_validate"):
            models[name] = found.model_json_schema()
            payloads[name] = _payloads(name, found, models[name])
        else:
            problems[name] = f"MODEL_MISSING: subject {name} is neither a pydantic model nor an enum"
    if not (models or enums):  # each distinct reason once: every subject usually fails for the same one
        raise AssertionError("; ".join(dict.fromkeys(problems.values())) or "the suite declares no subject")
    contract_artifact("snapshot", {"models": models, "enums": enums})
    contract_artifact("payloads", payloads)
    contract_artifact("subject_errors", problems)


def _golden_check(name: str) -> Any:
    @pytest.mark.contract(id=f"payload.golden.{name}", subject=name, layer="payload")
    def check() -> None:
        model = load_subject(name)
        problems = []
        for i, payload in enumerate(_golden_payloads(name) or []):
            try:
                model.model_validate_json(json.dumps(payload))
            except Exception as exc:  # pydantic's ValidationError, or anything a broken model raises
                problems.append(f"golden payload {i}: {type(exc).__name__}: {exc}")
        if problems:  # raised, not asserted: the message is exactly this, without pytest's explanation
            raise AssertionError("; ".join(problems)[:1500])

    check.__doc__ = f"Every golden {name} payload still validates under the candidate."
    check.__name__ = f"test_golden_{name}"
    return check


for _name in SUITE["subjects"]:
    if _golden_payloads(_name) is not None:
        globals()[f"test_golden_{_name}"] = _golden_check(_name)
