"""Host side of layers 2 and 3: compare the candidate's schemas with the golden ones, and validate the
payloads the candidate produced against the golden schemas. Pure: artifacts in, checks out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contract_check import suite
from contract_check.errors import EnvironmentProblem
from contract_check.models import Check, Layer, Severity, Status, plural
from contract_check.run import pytest_session
from contract_check.sandbox.inside.rule_ids import Rule
from contract_check.suite import golden
from contract_check.verdict import schema_rules


def golden_dir() -> Path:
    return pytest_session.builtin_contracts() / "golden"


def load_golden(directory: Path | None = None) -> schema_rules.Snapshot | None:
    """The schemas of the golden in *directory* (default: the built-in one), checked against its declaration
    (``golden.read``); None when there is no golden there."""
    found = golden.read(directory or golden_dir())
    return found.snapshot if found else None


def schema_id(subject: str) -> str:
    """The row a subject whose schema is unchanged reports (a difference reports ``schema.<Subject>...RULE``)."""
    return f"schema.{subject}"


def payload_id(subject: str) -> str:
    """The row that validates the payloads the candidate produced for *subject* against the golden schema."""
    return f"payload.candidate-validates-golden-schema.{subject}"


def expected(golden: schema_rules.Snapshot, subjects: list[str]) -> list[suite.Expected]:
    """The rows ``rows`` makes when nothing changed, in its order: one per subject of *golden* (its schema),
    then one per model subject of the suite that *golden* holds a schema for (its payloads)."""
    schemas = [
        suite.Expected(schema_id(s), s, "schema", f"The candidate's {s} schema is the golden one.")
        for s in sorted([*golden["models"], *golden["enums"]])
    ]
    payloads = [
        suite.Expected(payload_id(s), s, "payload", f"The {s} payloads the candidate produces fit the golden schema.")
        for s in sorted(subjects)
        if s in golden["models"]
    ]
    return [*schemas, *payloads]


def _row(finding: schema_rules.Finding, strict: bool, why: dict[str, str]) -> Check:
    severity = finding.severity
    failing = severity.fails(strict)
    where = f"{finding.model}.{finding.field}" if finding.field else finding.model
    message = finding.message
    if finding.rule is Rule.MODEL_MISSING and finding.model in why:  # say why the subject could not be loaded
        message += f" ({why[finding.model]})"
    return Check(
        id=f"schema.{where}.{finding.rule.value}",
        subject=finding.model,
        layer=Layer.SCHEMA,
        status=Status.FAILED if failing else Status.PASSED,
        severity=severity,
        rule=finding.rule.value,
        message=message,
    )


def schema_checks(
    candidate: Any, golden: schema_rules.Snapshot, *, strict: bool, why: dict[str, str] | None = None
) -> list[Check]:
    if not isinstance(candidate, dict):
        return [
            Check(
                id="schema.snapshot",
                subject="*",
                layer=Layer.SCHEMA,
                status=Status.ERROR,
                severity=Severity.ERR,
                message="the sandbox did not report the candidate's schemas",
            )
        ]
    models, enums = candidate.get("models", {}), candidate.get("enums", {})
    if not (
        isinstance(models, dict)
        and isinstance(enums, dict)
        and all(isinstance(v, dict) for v in models.values())
        and all(isinstance(v, list) for v in enums.values())
    ):  # not what the built-in snapshot contract writes: nothing can be concluded from it
        raise EnvironmentProblem(
            "the sandbox reported a malformed schema snapshot (models must map to schemas, enums to lists)",
            tip="something other than the built-in snapshot contract wrote the 'snapshot' artifact",
        )
    snapshot = schema_rules.Snapshot(models=models, enums=enums)
    findings = schema_rules.compare(golden, snapshot)
    rows = [_row(f, strict, why or {}) for f in findings]
    for subject in [*golden["models"], *golden["enums"]]:
        if not any(f.model == subject for f in findings):
            rows.append(
                Check(
                    id=schema_id(subject),
                    subject=subject,
                    layer=Layer.SCHEMA,
                    status=Status.PASSED,
                    message="same as the golden schema",
                )
            )
    return sorted(rows, key=lambda c: (c.subject, c.id))


def _validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator  # imported when payloads are checked: 0.3 s off every start-up

    return Draft202012Validator(schema)


def payload_checks(payloads: Any, golden: schema_rules.Snapshot) -> list[Check]:
    """Payloads the candidate produced must validate against the golden (known-good) schemas."""
    rows: list[Check] = []
    if not isinstance(payloads, dict):
        return rows
    for subject, items in sorted(payloads.items()):
        schema = golden["models"].get(subject)
        if schema is None or not isinstance(items, list):
            continue
        validator = _validator(schema)
        problems = [
            f"payload {i}: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for i, item in enumerate(items)
            for e in validator.iter_errors(item)
        ]
        rows.append(
            Check(
                id=payload_id(subject),
                subject=subject,
                layer=Layer.PAYLOAD,
                status=Status.FAILED if problems else Status.PASSED,
                severity=Severity.ERR if problems else None,
                message="; ".join(problems[:3]) or f"{plural(len(items), 'payload')} valid under the golden schema",
            )
        )
    return rows


def _subject_errors(artifacts: dict[str, Any]) -> dict[str, str]:
    found = artifacts.get("subject_errors")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def rows(artifacts: dict[str, Any], *, strict: bool, golden: schema_rules.Snapshot | None = None) -> list[Check]:
    golden = golden or load_golden()
    if golden is None or ("snapshot" not in artifacts and "payloads" not in artifacts):
        return []
    return [
        *schema_checks(artifacts.get("snapshot"), golden, strict=strict, why=_subject_errors(artifacts)),
        *payload_checks(artifacts.get("payloads"), golden),
    ]
