"""JUnit XML (``--junit-xml``): one ``<testsuite>`` per Core ref, one ``<testcase>`` per check.

The document validates against the Jenkins xunit-plugin ``junit-10.xsd`` (the dialect Jenkins and GitLab
read; a copy is kept under ``tests/data/junit.xsd``). Rule and severity travel in the ``type`` attribute and
the one-line ``message``; the full detail is the element text. The report goes through ``printable`` first
(no control character, bidi override or lone surrogate reaches a CI page), and what XML 1.0 still cannot
carry is replaced by a visible ``\\xNN`` escape instead of producing a broken file.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from contract_check.models import Check, ExitCode, Report, Run, Status
from contract_check.util import printable

MESSAGE_LIMIT = 300  # the one-line `message` attribute; the element text keeps everything

# Everything XML 1.0 forbids (https://www.w3.org/TR/xml/#charsets): C0 controls other than tab, LF and
# CR; surrogates; U+FFFE and U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids shown as a ``\\xNN``/``\\uNNNN`` escape."""

    def visible(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _FORBIDDEN.sub(visible, text)


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """The first non-blank line of ``text``, shortened to ``limit`` characters."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _seconds(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) and value > 0 else "0.000"


def suite_name(run: Run) -> str:
    name = f"core {run.core_ref}"
    if run.core_version and run.core_version != run.core_ref:
        name += f" ({run.core_version})"
    return name


def _label(check: Check) -> str:
    """``FIELD_REMOVED [ERR]``-style prefix: what the CI page shows next to the message."""
    return f"{check.tag} " if check.tag else ""


def _detail(check: Check) -> str:
    lines = [check.message.rstrip(), ""] if check.message.strip() else []
    lines += [f"check: {check.id}", f"subject: {check.subject}", f"layer: {check.layer}"]
    if check.rule:
        lines.append(f"rule: {check.rule}")
    if check.severity:
        lines.append(f"severity: {check.severity}")
    if check.note:
        lines.append(f"note: {check.note}")
    return "\n".join(lines)


def _sub(parent: ET.Element, tag: str, attrib: dict[str, str], text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrib.items()})
    if text is not None:
        el.text = xml_safe(text)
    return el


def _testcase(suite: ET.Element, check: Check) -> str | None:
    """Append the testcase for ``check``; return which outcome element it carries, if any."""
    case = _sub(suite, "testcase", {"classname": check.subject, "name": check.id, "time": _seconds(check.duration_s)})
    message = _label(check) + one_line(check.message)
    outcome = {Status.FAILED: "failure", Status.ERROR: "error", Status.SKIPPED: "skipped"}.get(check.status)
    if outcome is None:  # passed or accepted; a WARN/INFO finding or an acceptance still shows its text
        if check.message.strip() or check.severity or check.note:
            _sub(case, "system-out", {}, _detail(check))
        return None
    attrib = {"message": message.strip() or check.status.value}
    if outcome != "skipped":
        attrib["type"] = check.rule or check.layer.value
    _sub(case, outcome, attrib, _detail(check))
    return outcome


def _run_problem(run: Run) -> str | None:
    """Why the run as a whole is not a clean result, when its checks do not already say so."""
    if run.error:
        return run.error
    if run.exit_code != ExitCode.OK and not any(c.is_failure for c in run.checks):
        if not any(c.status is not Status.SKIPPED for c in run.checks):
            return f"no contract ran (exit code {run.exit_code})"
        return f"the run ended with exit code {run.exit_code} although no check failed"
    return None


def _exit_name(code: int) -> str:
    try:
        return ExitCode(code).name.lower()
    except ValueError:
        return f"exit-{code}"


def _suite(parent: ET.Element, report: Report, run: Run, index: int, timestamp: str) -> dict[str, int]:
    suite = _sub(parent, "testsuite", {"name": suite_name(run), "id": str(index)})
    props = _sub(suite, "properties", {})
    values: dict[str, object] = {
        "core_ref": run.core_ref,
        "requirement": run.requirement,
        "core_version": run.core_version,
        "source": run.source.value if run.source else None,
        "in_declared_range": run.in_declared_range,
        "status": run.status.value,
        "exit_code": run.exit_code,
        "store": report.store.spec,
        "store_name": report.store.name,
        "store_version": report.store.version,
        "declared_core": report.store.declared_core,
        "strict": report.tool.strict,
        "tool_version": report.tool.version,
        "cached": run.cached,
        "baseline": run.baseline,
    }
    values.update({f"version:{dist}": ver for dist, ver in sorted(run.versions.items())})
    for name, value in values.items():
        if value is not None:
            _sub(
                props,
                "property",
                {"name": name, "value": str(value).lower() if isinstance(value, bool) else str(value)},
            )

    counts = {"tests": 0, "failure": 0, "error": 0, "skipped": 0}
    for check in run.checks:
        counts["tests"] += 1
        outcome = _testcase(suite, check)
        if outcome:
            counts[outcome] += 1
    problem = _run_problem(run)
    if problem is not None:
        case = _sub(suite, "testcase", {"classname": "contract-check", "name": suite_name(run), "time": "0.000"})
        _sub(
            case,
            "error",
            {"message": "could not check: " + one_line(problem), "type": _exit_name(run.exit_code)},
            problem,
        )
        counts["tests"] += 1
        counts["error"] += 1

    suite.set("tests", str(counts["tests"]))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", _seconds(run.duration_s))
    suite.set("timestamp", timestamp)
    return counts


def render_junit(report: Report, *, now: datetime | None = None) -> str:
    """The report as a JUnit XML document (a ``str``; write it UTF-8 encoded).

    ``now`` stamps every suite (the report itself carries no time); default: the current UTC time.
    """
    report = printable.report(report)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", {"name": "contract-check"})
    totals = {"tests": 0, "failure": 0, "error": 0}
    for index, run in enumerate(report.runs):
        counts = _suite(root, report, run, index, stamp)
        for key in totals:
            totals[key] += counts[key]
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failure"]))
    root.set("errors", str(totals["error"]))
    root.set("time", _seconds(sum(r.duration_s for r in report.runs)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
