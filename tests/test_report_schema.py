"""The published JSON Schema of the --json report (docs/report.schema.json) matches the models, and a real
report shape validates against it."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from contract_check.models import Check, Layer, Report, Run, Status, StoreInfo, Tool, report_json_schema, summarise

PUBLISHED = Path(__file__).resolve().parents[1] / "docs" / "report.schema.json"


def test_published_schema_is_current():
    assert json.loads(PUBLISHED.read_text()) == report_json_schema(), (
        "regenerate docs/report.schema.json from contract_check.models.report_json_schema()"
    )


def test_report_validates_against_published_schema():
    run = Run(
        core_ref="1.4.61",
        status=Status.PASSED,
        exit_code=0,
        checks=[Check(id="a", subject="FeedbackEvent", layer=Layer.ASSERTION, status=Status.PASSED)],
    )
    report = Report(tool=Tool(version="0"), store=StoreInfo(spec="s"), runs=[run], summary=summarise([run]))
    validator = Draft202012Validator(json.loads(PUBLISHED.read_text()))
    assert list(validator.iter_errors(json.loads(report.model_dump_json()))) == []
    broken = json.loads(report.model_dump_json())
    del broken["runs"][0]["exit_code"]
    assert list(validator.iter_errors(broken))  # the schema really constrains the document


def test_objects_are_open_for_fields_a_later_version_adds():
    run = Run(core_ref="1.4.61", status=Status.PASSED, exit_code=0)
    report = Report(tool=Tool(version="0"), store=StoreInfo(spec="s"), runs=[run], summary=summarise([run]))
    newer = json.loads(report.model_dump_json())
    newer["runs"][0]["added_later"] = {"anything": 1}
    newer["summary"]["another"] = 2
    validator = Draft202012Validator(json.loads(PUBLISHED.read_text()))
    assert list(validator.iter_errors(newer)) == []
    assert Report.model_validate(newer) == report  # an older reader ignores what it does not know
    schema = json.loads(PUBLISHED.read_text())
    assert schema["$schema"].endswith("2020-12/schema") and schema["$id"].startswith("urn:contract-check:report:")
