"""Schema compatibility: compare a golden snapshot of pydantic JSON Schemas with a candidate one.

Pure (no I/O): it works on the plain dicts that ``Model.model_json_schema()`` returns and on lists of
str-enum values, and classifies every difference with a stable :class:`Rule` and its :class:`Severity`.
Pydantic runtime semantics decide what is compatible: models ignore extra keys unless they say
``extra="forbid"``, so an added *optional* field is harmless while a new required one is not.

Interpretations (kept consistent across the module):

* A closed model that becomes open (``additionalProperties: false`` dropped) is CONSTRAINT_RELAXED.
* A value set appearing on a field that had none (``str`` -> ``Literal[...]``) is CONSTRAINT_TIGHTENED;
  dropping it is CONSTRAINT_RELAXED.
* Union members are matched by kind (``integer``, ``string``, ``string(date-time)``, ``object``, ...).
  A golden member counts as removed only if no candidate member accepts its values: ``number`` accepts
  ``integer`` and an unconstrained schema accepts anything. If nothing is removed but the kinds differ,
  the type was widened. Several members of one kind are compared as a set of exact schemas.
* A changed ``format`` (``str`` <-> ``datetime``) is a type change; a changed pattern is a tightening.
* Enum renames are paired by position: a value removed at index *i* and a value added at index *i* of the
  candidate is one ENUM_VALUE_CHANGED; every other removal/addition is reported on its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, TypedDict

from contract_check.models import Severity
from contract_check.sandbox.inside.rule_ids import Rule


@dataclass(frozen=True)
class RuleInfo:
    severity: Severity
    guards: str  # what the rule protects, in one sentence (``contract-check list``)


# One row per rule, written out: the severity is a column of this table, never a position in a list.
RULES: dict[Rule, RuleInfo] = {
    Rule.MODEL_MISSING: RuleInfo(
        Severity.ERR, "A contract subject (model or enum) of the golden snapshot no longer exists."
    ),
    Rule.IMPORT_FAILED: RuleInfo(Severity.ERR, "The candidate Core cannot be imported, so no subject can be checked."),
    Rule.FIELD_REMOVED: RuleInfo(
        Severity.ERR, "A field was removed or renamed, so payloads carrying it lose data or fail."
    ),
    Rule.FIELD_TYPE_CHANGED: RuleInfo(
        Severity.ERR, "A field's type changed so that previously valid values are rejected."
    ),
    Rule.FIELD_MADE_REQUIRED: RuleInfo(
        Severity.ERR, "An optional field became required, so payloads omitting it are rejected."
    ),
    Rule.REQUIRED_FIELD_ADDED: RuleInfo(
        Severity.ERR, "A new required field rejects every payload produced without it."
    ),
    Rule.CONSTRAINT_TIGHTENED: RuleInfo(
        Severity.ERR, "A bound, length, pattern or value set got stricter, rejecting old values."
    ),
    Rule.EXTRA_FORBIDDEN: RuleInfo(
        Severity.ERR, "A model now forbids extra keys, rejecting payloads with fields it does not know."
    ),
    Rule.ENUM_VALUE_REMOVED: RuleInfo(
        Severity.ERR, "An enum or Literal value was removed, rejecting payloads that use it."
    ),
    Rule.ENUM_VALUE_CHANGED: RuleInfo(Severity.ERR, "An enum or Literal value was renamed, breaking its wire format."),
    Rule.ENUM_VALUE_ADDED: RuleInfo(
        Severity.WARN, "A new enum or Literal value appeared, which older consumers cannot parse."
    ),
    Rule.DEFAULT_CHANGED: RuleInfo(
        Severity.WARN, "A field's default changed, silently altering payloads that omit it."
    ),
    Rule.OPTIONAL_FIELD_ADDED: RuleInfo(
        Severity.INFO, "A new optional field was added (compatible: models ignore unknown keys)."
    ),
    Rule.FIELD_MADE_OPTIONAL: RuleInfo(Severity.INFO, "A required field became optional (compatible for parsers)."),
    Rule.CONSTRAINT_RELAXED: RuleInfo(
        Severity.INFO, "A bound, length, pattern or value set got looser, or a model was reopened."
    ),
    Rule.TYPE_WIDENED: RuleInfo(
        Severity.INFO, "A type accepts more than before (int to float, X to X | None, more union members)."
    ),
}


def severity(rule: Rule | str) -> Severity | None:
    """The severity of a rule ID; None for a string that is no rule (a contract's typo)."""
    try:
        return RULES[Rule(rule)].severity
    except ValueError:
        return None


@dataclass(frozen=True)
class Finding:
    rule: Rule
    model: str
    field: str | None
    old: Any
    new: Any
    message: str

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity


class Snapshot(TypedDict):
    models: dict[str, dict[str, Any]]
    enums: dict[str, list[str]]


# --------------------------------------------------------------------------- normalisation

_NOISE = frozenset({"title", "description", "examples", "$comment", "$defs", "definitions"})
_DEF_PREFIX = "#/$defs/"
_SCHEMA_KEYS = frozenset(
    {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"}
    | {"unevaluatedItems", "unevaluatedProperties"}
)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SETS = frozenset({"anyOf", "oneOf", "allOf"})


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def normalise(schema: dict[str, Any]) -> dict[str, Any]:
    """Strip pydantic noise and inline ``$ref``s so that equal schemas compare equal (idempotent)."""
    result: dict[str, Any] = _norm(schema, schema.get("$defs", {}), ())
    return result


def _norm(node: Any, defs: dict[str, Any], stack: tuple[str, ...]) -> Any:
    if not isinstance(node, dict):
        return node
    while True:  # resolve wrappers first: each step may reveal another one
        ref, all_of = node.get("$ref"), node.get("allOf")
        if isinstance(ref, str) and ref.startswith(_DEF_PREFIX):
            name, rest = ref[len(_DEF_PREFIX) :], {k: v for k, v in node.items() if k != "$ref"}
            if name in stack or name not in defs:  # a cycle (or a dangling ref): leave a marker
                node = {**rest, "$ref": name}
            else:
                node, stack = {**defs[name], **rest}, (*stack, name)
        elif isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            node = {**all_of[0], **{k: v for k, v in node.items() if k != "allOf"}}
        else:
            break
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _NOISE:
            continue
        if key in _SCHEMA_KEYS:
            value = [_norm(v, defs, stack) for v in value] if isinstance(value, list) else _norm(value, defs, stack)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            value = {k: _norm(v, defs, stack) for k, v in sorted(value.items())}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            value = [_norm(v, defs, stack) for v in value]
            if key in _SETS:
                value = sorted({_canon(v): v for v in value}.values(), key=_canon)
        elif key in ("required", "type") and isinstance(value, list):
            value = sorted(value)
        out[key] = value
    if "const" in out:  # a const is a one-value enum
        const = out.pop("const")
        out.setdefault("enum", [const])
    for key in ("anyOf", "oneOf"):  # a union of one is that member
        members = out.get(key)
        if isinstance(members, list) and len(members) == 1 and isinstance(members[0], dict):
            rest = {k: v for k, v in out.items() if k != key}
            return _norm({**members[0], **rest}, defs, stack)
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------- helpers


def _finding(rule: Rule, model: str, field: str | None, old: Any, new: Any, detail: str) -> Finding:
    subject = f"{model}.{field}" if field else model
    return Finding(rule, model, field, old, new, f"{subject}: {detail}")


def _join(path: str | None, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: Any) -> str:
    return "none" if value is None else str(value)


def _kind(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"ref:{schema['$ref']}"
    kind = schema.get("type")
    if isinstance(kind, str):
        return f"{kind}({schema['format']})" if "format" in schema else kind
    if "enum" in schema:
        return "enum"
    if "properties" in schema:
        return "object"
    return "any"


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return list(schema[key])
    value = {k: v for k, v in schema.items() if k != "default"}
    if isinstance(value.get("type"), list):
        return [{**value, "type": t} for t in value["type"]]
    return [value]


def _describe(schema: dict[str, Any]) -> str:
    """A short human rendering of a normalised schema's type, e.g. ``string | null``."""
    variants = _variants(schema)
    if len(variants) > 1:
        ordered = sorted(variants, key=lambda v: (v.get("type") == "null", _canon(v)))
        return " | ".join(_describe(v) for v in ordered)
    value = variants[0]
    if "enum" in value:
        return " | ".join(json.dumps(v) for v in value["enum"])
    kind = _kind(value)
    if kind == "array" and isinstance(value.get("items"), dict):
        return f"array[{_describe(value['items'])}]"
    if kind == "object" and isinstance(value.get("additionalProperties"), dict):
        return f"object[{_describe(value['additionalProperties'])}]"
    return kind.removeprefix("ref:")


# --------------------------------------------------------------------------- constraints

_Bound = tuple[tuple[float, bool], str]  # (strictness key: larger is stricter, label)


def _lower(schema: dict[str, Any], integer: bool) -> _Bound | None:
    found: list[_Bound] = []
    if isinstance(m := schema.get("minimum"), int | float):
        found.append(((math.ceil(m) if integer else m, False), f">= {m}"))
    if isinstance(m := schema.get("exclusiveMinimum"), int | float):
        found.append(((math.floor(m) + 1, False) if integer else (m, True), f"> {m}"))
    return max(found, default=None)


def _upper(schema: dict[str, Any], integer: bool) -> _Bound | None:
    found: list[_Bound] = []
    if isinstance(m := schema.get("maximum"), int | float):
        found.append(((-math.floor(m) if integer else -m, False), f"<= {m}"))
    if isinstance(m := schema.get("exclusiveMaximum"), int | float):
        found.append(((-(math.ceil(m) - 1), False) if integer else (-m, True), f"< {m}"))
    return max(found, default=None)


def _length(schema: dict[str, Any], key: str, upper: bool) -> _Bound | None:
    value = schema.get(key)
    if not isinstance(value, int):
        return None
    return ((-value if upper else value, False), f"{key} {value}")


def _divides(coarse: float, fine: float) -> bool:
    ratio = coarse / fine
    return math.isclose(ratio, round(ratio), rel_tol=1e-9)


def _constraints(model: str, path: str | None, old: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    """Tightened/relaxed bounds; ``gt=n`` on an integer is ``ge=n+1``, so equal bounds are silent."""
    int_old, int_new = old.get("type") == "integer", new.get("type") == "integer"
    pairs: list[tuple[_Bound | None, _Bound | None]] = [
        (_lower(old, int_old), _lower(new, int_new)),
        (_upper(old, int_old), _upper(new, int_new)),
    ]
    for key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        upper = key.startswith("max")
        pairs.append((_length(old, key, upper), _length(new, key, upper)))
    verdicts: list[tuple[bool, Any, Any]] = []  # (tightened?, old label, new label)
    for o, n in pairs:
        if (o is None and n is None) or (o is not None and n is not None and o[0] == n[0]):
            continue
        tighter = o is None or (n is not None and n[0] > o[0])
        verdicts.append((tighter, o and o[1], n and n[1]))
    o_pat, n_pat = old.get("pattern"), new.get("pattern")
    if o_pat != n_pat:  # a different pattern cannot be proven looser
        verdicts.append((n_pat is not None, o_pat and f"pattern {o_pat!r}", n_pat and f"pattern {n_pat!r}"))
    o_mul, n_mul = old.get("multipleOf"), new.get("multipleOf")
    if o_mul != n_mul:
        tighter = n_mul is not None and (o_mul is None or not _divides(o_mul, n_mul))
        verdicts.append((tighter, o_mul and f"multipleOf {o_mul}", n_mul and f"multipleOf {n_mul}"))
    o_enum, n_enum = old.get("enum"), new.get("enum")
    if (o_enum is None) != (n_enum is None):  # a value set appeared or went away
        verdicts.append((n_enum is not None, o_enum and _describe(old), n_enum and _describe(new)))
    out = []
    for tighter, o_label, n_label in verdicts:
        rule = Rule.CONSTRAINT_TIGHTENED if tighter else Rule.CONSTRAINT_RELAXED
        word = "tightened" if tighter else "relaxed"
        detail = f"constraint {word}: {_show(o_label)} -> {_show(n_label)}"
        out.append(_finding(rule, model, path, o_label, n_label, detail))
    return out


# --------------------------------------------------------------------------- enums


def _enum_findings(model: str, field: str | None, old: list[Any], new: list[Any]) -> list[Finding]:
    removed = {i: v for i, v in enumerate(old) if v not in new}
    added = {i: v for i, v in enumerate(new) if v not in old}
    out = []
    for i, value in removed.items():
        if i in added:
            renamed = added.pop(i)
            detail = f"enum value changed: {value!r} -> {renamed!r}"
            out.append(_finding(Rule.ENUM_VALUE_CHANGED, model, field, value, renamed, detail))
        else:
            detail = f"enum value removed: {value!r}"
            out.append(_finding(Rule.ENUM_VALUE_REMOVED, model, field, value, None, detail))
    for value in added.values():
        out.append(_finding(Rule.ENUM_VALUE_ADDED, model, field, None, value, f"enum value added: {value!r}"))
    return out


# --------------------------------------------------------------------------- schemas


def _compare_schema(model: str, path: str | None, old: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    """Compare the value schemas at ``path`` (unions member by member, then the matched members)."""
    by_kind_old: dict[str, list[dict[str, Any]]] = {}
    by_kind_new: dict[str, list[dict[str, Any]]] = {}
    for schema, groups in ((old, by_kind_old), (new, by_kind_new)):
        for variant in _variants(schema):
            groups.setdefault(_kind(variant), []).append(variant)
    changed, out = False, []
    for kind, olds in by_kind_old.items():
        news = by_kind_new.get(kind) or (by_kind_new.get("number") if kind == "integer" else None)
        if news is None:
            changed = changed or "any" not in by_kind_new
        elif len(olds) == len(news) == 1:
            out += _compare_value(model, path, olds[0], news[0])
        elif {_canon(v) for v in olds} - {_canon(v) for v in news}:
            changed = True  # several members of one kind: compared as a set of exact schemas
    widened = by_kind_old.keys() != by_kind_new.keys() or any(
        len(by_kind_old[k]) < len(by_kind_new[k]) for k in by_kind_old.keys() & by_kind_new.keys()
    )
    if changed or widened:
        rule = Rule.FIELD_TYPE_CHANGED if changed else Rule.TYPE_WIDENED
        o_type, n_type = _describe(old), _describe(new)
        word = "changed" if changed else "widened"
        out.append(_finding(rule, model, path, o_type, n_type, f"type {word}: {o_type} -> {n_type}"))
    return out


def _compare_value(model: str, path: str | None, old: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    """Compare two single (non-union) schemas of compatible kinds."""
    out = _constraints(model, path, old, new)
    if isinstance(old.get("enum"), list) and isinstance(new.get("enum"), list):
        out += _enum_findings(model, path, old["enum"], new["enum"])
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        out += _compare_schema(model, f"{path or ''}[]", old["items"], new["items"])
    for i, (o, n) in enumerate(zip(old.get("prefixItems", []), new.get("prefixItems", []), strict=False)):
        out += _compare_schema(model, f"{path or ''}[{i}]", o, n)
    if _kind(old) == _kind(new) == "object":
        out += _compare_object(model, path, old, new)
    return out


def _compare_object(model: str, path: str | None, old: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    o_extra, n_extra = old.get("additionalProperties"), new.get("additionalProperties")
    if n_extra is False and o_extra is not False:
        detail = "extra keys forbidden: open -> closed"
        out.append(_finding(Rule.EXTRA_FORBIDDEN, model, path, "open", "closed", detail))
    elif o_extra is False and n_extra is not False:  # reopening a closed model: looser, so INFO
        detail = "constraint relaxed: extra keys allowed: closed -> open"
        out.append(_finding(Rule.CONSTRAINT_RELAXED, model, path, "closed", "open", detail))
    elif isinstance(o_extra, dict) or isinstance(n_extra, dict):  # dict values (absent/true = any)
        o_val = o_extra if isinstance(o_extra, dict) else {}
        n_val = n_extra if isinstance(n_extra, dict) else {}
        out += _compare_schema(model, f"{path or ''}{{}}", o_val, n_val)
    o_props, n_props = old.get("properties", {}), new.get("properties", {})
    o_req, n_req = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(o_props.keys() | n_props.keys()):
        field = _join(path, name)
        if name not in n_props:
            o_type = _describe(o_props[name])
            detail = f"field removed (was {o_type})"
            out.append(_finding(Rule.FIELD_REMOVED, model, field, o_type, None, detail))
            continue
        if name not in o_props:
            n_type, required = _describe(n_props[name]), name in n_req
            rule = Rule.REQUIRED_FIELD_ADDED if required else Rule.OPTIONAL_FIELD_ADDED
            detail = f"{'required' if required else 'optional'} field added ({n_type})"
            out.append(_finding(rule, model, field, None, n_type, detail))
            continue
        o_schema, n_schema = o_props[name], n_props[name]
        if (name in o_req) != (name in n_req):
            was, now = ("optional", "required") if name in n_req else ("required", "optional")
            rule = Rule.FIELD_MADE_REQUIRED if name in n_req else Rule.FIELD_MADE_OPTIONAL
            out.append(_finding(rule, model, field, was, now, f"field made {now}: {was} -> {now}"))
        if "default" in o_schema and "default" in n_schema:
            o_def, n_def = o_schema["default"], n_schema["default"]
            if _canon(o_def) != _canon(n_def) and not (o_def == n_def and type(o_def) is not bool):
                detail = f"default changed: {_canon(o_def)} -> {_canon(n_def)}"
                out.append(_finding(Rule.DEFAULT_CHANGED, model, field, o_def, n_def, detail))
        out += _compare_schema(model, field, o_schema, n_schema)
    return out


# --------------------------------------------------------------------------- public entry points


def _sort_key(finding: Finding) -> tuple[str, str, str, str, str]:
    return (finding.model, finding.field or "", finding.rule, _canon(finding.old), _canon(finding.new))


def compare_model(name: str, golden: dict[str, Any], candidate: dict[str, Any]) -> list[Finding]:
    """Every difference between two JSON Schemas of the subject ``name`` (raw or normalised)."""
    return sorted(_compare_schema(name, None, normalise(golden), normalise(candidate)), key=_sort_key)


def compare_enum(name: str, golden: list[str], candidate: list[str]) -> list[Finding]:
    """Removed, renamed (same position) and added values of a str-enum subject; order alone is ignored."""
    return sorted(_enum_findings(name, None, list(golden), list(candidate)), key=_sort_key)


def compare(golden: Snapshot, candidate: Snapshot) -> list[Finding]:
    """All findings, sorted by (model, field, rule). Subjects only in the candidate are ignored."""
    out: list[Finding] = []
    models, enums = candidate.get("models", {}), candidate.get("enums", {})
    for name, schema in golden.get("models", {}).items():
        out += compare_model(name, schema, models[name]) if name in models else [_missing(name, "model")]
    for name, values in golden.get("enums", {}).items():
        out += compare_enum(name, values, enums[name]) if name in enums else [_missing(name, "enum")]
    return sorted(out, key=_sort_key)


def _missing(name: str, kind: str) -> Finding:
    return _finding(Rule.MODEL_MISSING, name, None, kind, None, f"{kind} missing from the candidate")
