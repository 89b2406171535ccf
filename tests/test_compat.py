"""Schema compatibility rules, driven by real pydantic output (``Model.model_json_schema()``)."""

import json
from enum import StrEnum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from contract_check.models import Severity
from contract_check.verdict.schema_rules import (
    RULES,
    Finding,
    Rule,
    Snapshot,
    compare,
    compare_enum,
    compare_model,
    normalise,
)

# --------------------------------------------------------------------------- shared building blocks


class Level(StrEnum):
    OK = "ok"
    SOFT = "soft"
    HARD = "hard"


class LevelRenamed(StrEnum):
    OK = "ok"
    SOFT = "soft"
    HARD = "HARD"


class LevelShrunk(StrEnum):
    OK = "ok"
    SOFT = "soft"


class LevelGrown(StrEnum):
    OK = "ok"
    SOFT = "soft"
    HARD = "hard"
    MAX = "max"


def diff(golden: type[BaseModel], candidate: type[BaseModel]) -> list[Finding]:
    return compare_model("FeedbackEvent", golden.model_json_schema(), candidate.model_json_schema())


def core_snapshot() -> Snapshot:
    """Core's contract subjects, shaped as DESIGN.md describes (fresh classes on every call)."""

    class BackpressureLevel(StrEnum):
        OK = "ok"
        SOFT = "soft"
        HARD = "hard"

    class FeedbackEvent(BaseModel):
        coordinator_id: str = Field(description="Which coordinator emitted this")
        queue_size: int = Field(ge=0)
        capacity: int = Field(gt=0)
        level: BackpressureLevel
        source: str = "store"
        ts: float

    class HealthComponent(BaseModel):
        name: str
        state: Literal["healthy", "degraded", "unhealthy"]
        details: dict[str, str] = Field(default_factory=dict)

    class HealthStatus(BaseModel):
        service: str
        state: Literal["healthy", "degraded", "unhealthy"]
        components: list[HealthComponent] = Field(default_factory=list)
        version: str
        ts: float

    return {
        "models": {m.__name__: m.model_json_schema() for m in (FeedbackEvent, HealthComponent, HealthStatus)},
        "enums": {"BackpressureLevel": [v.value for v in BackpressureLevel]},
    }


# --------------------------------------------------------------------------- model pairs


class Base(BaseModel):
    coordinator_id: str
    queue_size: int = Field(ge=0)
    capacity: int = Field(gt=0, le=100)
    level: Level
    source: str = "store"
    ts: float


class WithReason(Base):
    reason: str | None = None


class RequiredReason(Base):
    reason: str


class RequiredNullableReason(Base):
    reason: str | None


class WithTags(Base):
    tags: list[str] = Field(default_factory=list)


class QueueSizeStr(BaseModel):
    coordinator_id: str
    queue_size: str
    capacity: int = Field(gt=0, le=100)
    level: Level
    source: str = "store"
    ts: float


class QueueSizeGt0(Base):
    queue_size: int = Field(gt=0)


class QueueSizeGe1(Base):
    queue_size: int = Field(ge=1)


class QueueSizeFloat(Base):
    queue_size: float = Field(ge=0)  # type: ignore[assignment]


class CapacityGe0(Base):
    capacity: int = Field(ge=0, le=100)


class CapacityGe1(Base):
    capacity: int = Field(ge=1, le=100)


class CapacityLe10(Base):
    capacity: int = Field(gt=0, le=10)


class CapacityLt101(Base):
    capacity: int = Field(gt=0, lt=101)


class TsInt(Base):
    ts: int


class TsGt0(Base):
    ts: float = Field(gt=0)


class TsOptional(Base):
    ts: float = 0.0


class SourceRequired(Base):
    source: str


class SourceCore(Base):
    source: str = "core"


class SourceFactory(Base):
    source: str = Field(default_factory=lambda: "store")


class SourceDescribed(Base):
    source: str = Field("store", description="Who emitted the event", title="Emitter")


class SourcePattern(Base):
    source: str = Field("store", pattern=r"^[a-z]+$")


class SourceOtherPattern(Base):
    source: str = Field("store", pattern=r"^[a-z0-9]+$")


class SourceMax64(Base):
    source: str = Field("store", max_length=64)


class SourceMax8(Base):
    source: str = Field("store", max_length=8)


class SourceLiteral(Base):
    source: Literal["store", "core"] = "store"


class LevelLiteral(Base):
    level: Literal["ok", "soft", "hard"]  # type: ignore[assignment]


class LevelLiteralReordered(Base):
    level: Literal["hard", "ok", "soft"]  # type: ignore[assignment]


class LevelLiteralShrunk(Base):
    level: Literal["ok", "soft"]  # type: ignore[assignment]


class LevelIsRenamed(Base):
    level: LevelRenamed  # type: ignore[assignment]


class LevelIsShrunk(Base):
    level: LevelShrunk  # type: ignore[assignment]


class LevelIsGrown(Base):
    level: LevelGrown  # type: ignore[assignment]


class LevelDefaultOk(Base):
    level: Level = Level.OK


class LevelDefaultSoft(Base):
    level: Level = Level.SOFT


class Closed(Base):
    model_config = ConfigDict(extra="forbid")


class Allowing(Base):
    model_config = ConfigDict(extra="allow")


class Reordered(BaseModel):
    ts: float
    source: str = "store"
    level: Level
    capacity: int = Field(le=100, gt=0)
    queue_size: int = Field(ge=0)
    coordinator_id: str


class Nullable(BaseModel):
    value: str | None


class NullableFlipped(BaseModel):
    value: None | str  # noqa: RUF036 (the point: union order must not matter)


class NotNullable(BaseModel):
    value: str


class IntOrStr(BaseModel):
    value: int | str


class IntOnly(BaseModel):
    value: int


class IntStrOrNone(BaseModel):
    value: int | str | None


class IntNoDefault(BaseModel):
    value: int | None = None


class IntDefaultZero(BaseModel):
    value: int | None = 0


class FloatDefaultInt(BaseModel):
    value: float = 0


class FloatDefaultFloat(BaseModel):
    value: float = 0.0


class Mult4(BaseModel):
    value: int = Field(multiple_of=4)


class Mult2(BaseModel):
    value: int = Field(multiple_of=2)


class Comp(BaseModel):
    name: str
    state: Literal["healthy", "degraded", "unhealthy"]
    details: dict[str, str] = Field(default_factory=dict)


class CompNameInt(BaseModel):
    name: int
    state: Literal["healthy", "degraded", "unhealthy"]
    details: dict[str, str] = Field(default_factory=dict)


class CompStateGrown(BaseModel):
    name: str
    state: Literal["healthy", "degraded", "unhealthy", "unknown"]
    details: dict[str, str] = Field(default_factory=dict)


class CompDetailsInt(BaseModel):
    name: str
    state: Literal["healthy", "degraded", "unhealthy"]
    details: dict[str, int] = Field(default_factory=dict)


class CompDetailsAny(BaseModel):
    name: str
    state: Literal["healthy", "degraded", "unhealthy"]
    details: dict[str, Any] = Field(default_factory=dict)


class CompClosed(Comp):
    model_config = ConfigDict(extra="forbid")


class Health(BaseModel):
    service: str
    components: list[Comp]


class HealthNameInt(BaseModel):
    service: str
    components: list[CompNameInt]


class HealthStateGrown(BaseModel):
    service: str
    components: list[CompStateGrown]


class HealthDetailsInt(BaseModel):
    service: str
    components: list[CompDetailsInt]


class HealthDetailsAny(BaseModel):
    service: str
    components: list[CompDetailsAny]


class HealthClosedComp(BaseModel):
    service: str
    components: list[CompClosed]


class HealthMinOne(BaseModel):
    service: str
    components: list[Comp] = Field(min_length=1)


class Untyped(BaseModel):
    details: dict  # type: ignore[type-arg]


class AnyTyped(BaseModel):
    details: dict[str, Any]


# --------------------------------------------------------------------------- every rule: a breaking pair

P = pytest.param
TRIGGERS = [
    P(WithReason, Base, Rule.FIELD_REMOVED, "reason", "string | null", None, id="field-removed"),
    P(Base, QueueSizeStr, Rule.FIELD_TYPE_CHANGED, "queue_size", "integer", "string", id="type-int-to-str"),
    P(Base, TsInt, Rule.FIELD_TYPE_CHANGED, "ts", "number", "integer", id="type-float-to-int"),
    P(
        Nullable,
        NotNullable,
        Rule.FIELD_TYPE_CHANGED,
        "value",
        "string | null",
        "string",
        id="type-drop-none",
    ),
    P(
        IntOrStr,
        IntOnly,
        Rule.FIELD_TYPE_CHANGED,
        "value",
        "integer | string",
        "integer",
        id="type-drop-member",
    ),
    P(
        Health,
        HealthNameInt,
        Rule.FIELD_TYPE_CHANGED,
        "components[].name",
        "string",
        "integer",
        id="type-nested",
    ),
    P(
        Health,
        HealthDetailsInt,
        Rule.FIELD_TYPE_CHANGED,
        "components[].details{}",
        "string",
        "integer",
        id="type-dict",
    ),
    P(Base, SourceRequired, Rule.FIELD_MADE_REQUIRED, "source", "optional", "required", id="made-required"),
    P(Base, RequiredReason, Rule.REQUIRED_FIELD_ADDED, "reason", None, "string", id="required-added"),
    P(
        Base,
        RequiredNullableReason,
        Rule.REQUIRED_FIELD_ADDED,
        "reason",
        None,
        "string | null",
        id="req-nullable",
    ),
    P(Base, QueueSizeGt0, Rule.CONSTRAINT_TIGHTENED, "queue_size", ">= 0", "> 0", id="tight-ge0-gt0"),
    P(Base, CapacityLe10, Rule.CONSTRAINT_TIGHTENED, "capacity", "<= 100", "<= 10", id="tight-smaller-le"),
    P(Base, TsGt0, Rule.CONSTRAINT_TIGHTENED, "ts", None, "> 0", id="tight-new-bound"),
    P(
        Base,
        SourcePattern,
        Rule.CONSTRAINT_TIGHTENED,
        "source",
        None,
        "pattern '^[a-z]+$'",
        id="tight-new-pattern",
    ),
    P(
        SourcePattern,
        SourceOtherPattern,
        Rule.CONSTRAINT_TIGHTENED,
        "source",
        "pattern '^[a-z]+$'",
        "pattern '^[a-z0-9]+$'",
        id="tight-pattern-changed",
    ),
    P(
        Base,
        SourceMax64,
        Rule.CONSTRAINT_TIGHTENED,
        "source",
        None,
        "maxLength 64",
        id="tight-new-max-length",
    ),
    P(
        SourceMax64,
        SourceMax8,
        Rule.CONSTRAINT_TIGHTENED,
        "source",
        "maxLength 64",
        "maxLength 8",
        id="tight-max-len",
    ),
    P(
        Health,
        HealthMinOne,
        Rule.CONSTRAINT_TIGHTENED,
        "components",
        None,
        "minItems 1",
        id="tight-min-items",
    ),
    P(
        Mult2,
        Mult4,
        Rule.CONSTRAINT_TIGHTENED,
        "value",
        "multipleOf 2",
        "multipleOf 4",
        id="tight-multiple-of",
    ),
    P(
        Base,
        SourceLiteral,
        Rule.CONSTRAINT_TIGHTENED,
        "source",
        None,
        '"store" | "core"',
        id="tight-str-to-literal",
    ),
    P(Base, Closed, Rule.EXTRA_FORBIDDEN, None, "open", "closed", id="extra-forbid"),
    P(Allowing, Closed, Rule.EXTRA_FORBIDDEN, None, "open", "closed", id="extra-allow-to-forbid"),
    P(
        Health,
        HealthClosedComp,
        Rule.EXTRA_FORBIDDEN,
        "components[]",
        "open",
        "closed",
        id="extra-forbid-nested",
    ),
    P(Base, LevelIsShrunk, Rule.ENUM_VALUE_REMOVED, "level", "hard", None, id="enum-removed"),
    P(LevelLiteral, LevelLiteralShrunk, Rule.ENUM_VALUE_REMOVED, "level", "hard", None, id="literal-removed"),
    P(Base, LevelIsRenamed, Rule.ENUM_VALUE_CHANGED, "level", "hard", "HARD", id="enum-renamed"),
    P(Base, LevelIsGrown, Rule.ENUM_VALUE_ADDED, "level", None, "max", id="enum-added"),
    P(
        Health,
        HealthStateGrown,
        Rule.ENUM_VALUE_ADDED,
        "components[].state",
        None,
        "unknown",
        id="literal-added",
    ),
    P(Base, SourceCore, Rule.DEFAULT_CHANGED, "source", "store", "core", id="default-changed"),
    P(LevelDefaultOk, LevelDefaultSoft, Rule.DEFAULT_CHANGED, "level", "ok", "soft", id="default-enum"),
    P(IntNoDefault, IntDefaultZero, Rule.DEFAULT_CHANGED, "value", None, 0, id="default-none-to-zero"),
    P(Base, WithReason, Rule.OPTIONAL_FIELD_ADDED, "reason", None, "string | null", id="optional-added"),
    P(Base, WithTags, Rule.OPTIONAL_FIELD_ADDED, "tags", None, "array[string]", id="optional-factory"),
    P(Base, TsOptional, Rule.FIELD_MADE_OPTIONAL, "ts", "required", "optional", id="made-optional"),
    P(QueueSizeGt0, Base, Rule.CONSTRAINT_RELAXED, "queue_size", "> 0", ">= 0", id="relax-gt0-ge0"),
    P(SourceMax8, Base, Rule.CONSTRAINT_RELAXED, "source", "maxLength 8", None, id="relax-drop-max-len"),
    P(Mult4, Mult2, Rule.CONSTRAINT_RELAXED, "value", "multipleOf 4", "multipleOf 2", id="relax-multiple-of"),
    P(
        SourceLiteral,
        Base,
        Rule.CONSTRAINT_RELAXED,
        "source",
        '"store" | "core"',
        None,
        id="relax-literal-to-str",
    ),
    P(Closed, Base, Rule.CONSTRAINT_RELAXED, None, "closed", "open", id="relax-reopen"),
    P(Base, QueueSizeFloat, Rule.TYPE_WIDENED, "queue_size", "integer", "number", id="widen-int-to-float"),
    P(NotNullable, Nullable, Rule.TYPE_WIDENED, "value", "string", "string | null", id="widen-add-none"),
    P(IntOnly, IntOrStr, Rule.TYPE_WIDENED, "value", "integer", "integer | string", id="widen-add-member"),
    P(
        IntOrStr,
        IntStrOrNone,
        Rule.TYPE_WIDENED,
        "value",
        "integer | string",
        "integer | string | null",
        id="widen-3",
    ),
    P(
        Health,
        HealthDetailsAny,
        Rule.TYPE_WIDENED,
        "components[].details{}",
        "string",
        "any",
        id="widen-to-any",
    ),
]


@pytest.mark.parametrize(("golden", "candidate", "rule", "field", "old", "new"), TRIGGERS)
def test_rule_triggers(
    golden: type[BaseModel], candidate: type[BaseModel], rule: Rule, field: str | None, old: Any, new: Any
) -> None:
    [finding] = diff(golden, candidate)  # exactly one finding: the change under test
    assert finding.rule is rule
    assert (finding.model, finding.field, finding.old, finding.new) == ("FeedbackEvent", field, old, new)
    assert finding.severity is RULES[rule].severity
    assert finding.message.startswith(f"FeedbackEvent.{field}: " if field else "FeedbackEvent: ")
    json.dumps([finding.old, finding.new])  # JSON-able


def test_every_emittable_rule_has_a_trigger() -> None:
    covered = {p.values[2] for p in TRIGGERS} | {Rule.MODEL_MISSING}  # MODEL_MISSING: see test_compare_*
    assert covered == set(Rule) - {Rule.IMPORT_FAILED}


def test_message_names_model_field_old_and_new() -> None:
    [finding] = diff(Base, QueueSizeGt0)
    assert finding.message == "FeedbackEvent.queue_size: constraint tightened: >= 0 -> > 0"
    assert finding.severity is Severity.ERR


def test_rename_is_removed_plus_added() -> None:
    class Renamed(BaseModel):
        coordinator_id: str
        queue_size: int = Field(ge=0)
        cap: int = Field(gt=0, le=100)
        level: Level
        source: str = "store"
        ts: float

    rules = [(f.rule, f.field) for f in diff(Base, Renamed)]
    assert rules == [(Rule.REQUIRED_FIELD_ADDED, "cap"), (Rule.FIELD_REMOVED, "capacity")]


# --------------------------------------------------------------------------- near misses


NEAR_MISSES = [
    P(Base, CapacityGe1, [], id="int-gt0-is-ge1"),
    P(Base, CapacityLt101, [], id="int-le100-is-lt101"),
    P(Base, SourceDescribed, [], id="description-and-title-only"),
    P(Base, LevelLiteral, [], id="enum-ref-vs-inline-literal"),
    P(LevelLiteral, LevelLiteralReordered, [], id="literal-reordered"),
    P(Nullable, NullableFlipped, [], id="union-order"),
    P(Base, Reordered, [], id="fields-reordered"),
    P(Base, SourceFactory, [], id="default-to-factory-stays-optional"),
    P(FloatDefaultInt, FloatDefaultFloat, [], id="default-0-vs-0.0"),
    P(Base, Allowing, [], id="extra-ignore-to-allow"),
    P(Untyped, AnyTyped, [], id="dict-vs-dict-any"),
    P(SourcePattern, SourcePattern, [], id="same-pattern"),
    P(Base, WithReason, [Rule.OPTIONAL_FIELD_ADDED], id="optional-none-added-is-not-required"),
    P(Base, QueueSizeFloat, [Rule.TYPE_WIDENED], id="int-ge0-to-float-ge0-is-only-widened"),
    P(Base, CapacityGe0, [Rule.CONSTRAINT_RELAXED], id="int-gt0-to-ge0-is-relaxed-not-tightened"),
    P(Base, TsOptional, [Rule.FIELD_MADE_OPTIONAL], id="made-optional-is-not-default-changed"),
]


@pytest.mark.parametrize(("golden", "candidate", "rules"), NEAR_MISSES)
def test_near_miss(golden: type[BaseModel], candidate: type[BaseModel], rules: list[Rule]) -> None:
    assert [f.rule for f in diff(golden, candidate)] == rules


def test_raw_vs_normalised_is_no_change() -> None:
    raw = Health.model_json_schema()
    assert compare_model("HealthStatus", raw, normalise(raw)) == []


# --------------------------------------------------------------------------- enum subjects


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        P(LevelShrunk, [(Rule.ENUM_VALUE_REMOVED, "hard", None)], id="removed"),
        P(LevelGrown, [(Rule.ENUM_VALUE_ADDED, None, "max")], id="added"),
        P(LevelRenamed, [(Rule.ENUM_VALUE_CHANGED, "hard", "HARD")], id="renamed"),
        P(Level, [], id="same"),
    ],
)
def test_compare_enum(candidate: type[StrEnum], expected: list[tuple[Rule, Any, Any]]) -> None:
    findings = compare_enum("BackpressureLevel", [v.value for v in Level], [v.value for v in candidate])
    assert [(f.rule, f.old, f.new) for f in findings] == expected
    assert all(f.model == "BackpressureLevel" and f.field is None for f in findings)


def test_compare_enum_reorder_is_not_a_change() -> None:
    assert compare_enum("BackpressureLevel", ["ok", "soft", "hard"], ["hard", "ok", "soft"]) == []


def test_compare_enum_rename_and_append() -> None:
    findings = compare_enum("BackpressureLevel", ["ok", "soft", "hard"], ["ok", "soft", "HARD", "max"])
    assert [(f.rule, f.old, f.new) for f in findings] == [
        (Rule.ENUM_VALUE_ADDED, None, "max"),
        (Rule.ENUM_VALUE_CHANGED, "hard", "HARD"),
    ]


def test_compare_enum_removal_at_other_position_is_not_a_rename() -> None:
    findings = compare_enum("BackpressureLevel", ["ok", "soft", "hard"], ["ok", "hard", "max"])
    assert {(f.rule, f.old, f.new) for f in findings} == {
        (Rule.ENUM_VALUE_REMOVED, "soft", None),
        (Rule.ENUM_VALUE_ADDED, None, "max"),
    }


# --------------------------------------------------------------------------- whole snapshots


def test_identical_core_snapshots_have_no_findings() -> None:
    assert compare(core_snapshot(), core_snapshot()) == []


def test_store_subclass_only_adds_optional_fields() -> None:
    core = core_snapshot()

    class BackpressureLevel(StrEnum):
        OK = "ok"
        SOFT = "soft"
        HARD = "hard"

    class CoreFeedbackEvent(BaseModel):
        coordinator_id: str
        queue_size: int = Field(ge=0)
        capacity: int = Field(gt=0)
        level: BackpressureLevel
        source: str = "store"
        ts: float

    class FeedbackEvent(CoreFeedbackEvent):
        reason: str | None = None
        utilization: float | None = None

    models = {**core["models"], "FeedbackEvent": FeedbackEvent.model_json_schema()}
    findings = compare(core, Snapshot(models=models, enums=core["enums"]))
    assert [(f.rule, f.field) for f in findings] == [
        (Rule.OPTIONAL_FIELD_ADDED, "reason"),
        (Rule.OPTIONAL_FIELD_ADDED, "utilization"),
    ]
    assert {f.severity for f in findings} == {Severity.INFO}


def test_compare_reports_missing_subjects_and_ignores_new_ones() -> None:
    golden = core_snapshot()
    candidate = Snapshot(
        models={"HealthStatus": golden["models"]["HealthStatus"], "Brand": {"type": "object"}},
        enums={"OtherEnum": ["x"]},
    )
    findings = compare(golden, candidate)
    assert [(f.rule, f.model, f.field, f.old, f.new) for f in findings] == [
        (Rule.MODEL_MISSING, "BackpressureLevel", None, "enum", None),
        (Rule.MODEL_MISSING, "FeedbackEvent", None, "model", None),
        (Rule.MODEL_MISSING, "HealthComponent", None, "model", None),
    ]
    assert all(f.severity is Severity.ERR for f in findings)


def test_compare_findings_are_sorted() -> None:
    golden = core_snapshot()
    candidate = Snapshot(
        models={
            "FeedbackEvent": LevelIsRenamed.model_json_schema(),
            "HealthComponent": CompClosed.model_json_schema(),
            "HealthStatus": HealthNameInt.model_json_schema(),
        },
        enums={"BackpressureLevel": ["ok", "SOFT", "hard", "max"]},
    )
    findings = compare(golden, candidate)
    assert len(findings) > 5
    assert findings == sorted(findings, key=lambda f: (f.model, f.field or "", f.rule))
    assert compare(golden, candidate) == findings  # deterministic
    assert not any(f.rule is Rule.IMPORT_FAILED for f in findings)


# --------------------------------------------------------------------------- normalise


def make_node() -> type[BaseModel]:
    class Node(BaseModel):
        value: int
        children: list["Node"] = []

    return Node


REAL_SCHEMAS = [
    P(Base.model_json_schema(), id="feedback-event"),
    P(Closed.model_json_schema(), id="closed"),
    P(Health.model_json_schema(), id="nested-list"),
    P(LevelDefaultOk.model_json_schema(), id="enum-ref-with-default"),
    P(IntStrOrNone.model_json_schema(), id="union"),
    P(SourceLiteral.model_json_schema(), id="literal"),
    P(make_node().model_json_schema(), id="recursive"),
    *(P(s, id=f"core-{name}") for name, s in core_snapshot()["models"].items()),
]


@pytest.mark.parametrize("schema", REAL_SCHEMAS)
def test_normalise_is_idempotent_and_strips_noise(schema: dict[str, Any]) -> None:
    once = normalise(schema)
    assert normalise(once) == once
    text = json.dumps(once)
    assert '"title"' not in text and '"$defs"' not in text and "#/$defs/" not in text


def test_normalise_real_pydantic_shapes() -> None:
    class Shapes(BaseModel):
        model_config = ConfigDict(extra="forbid")
        count: int = Field(ge=0)
        ratio: float
        note: str | None = None
        comps: list[Comp]
        labels: dict[str, str]
        kind: Literal["a", "b"]
        only: Literal["x"] = "x"
        level: Level = Level.OK
        tags: list[str] = Field(default_factory=list)

    props = normalise(Shapes.model_json_schema())["properties"]
    assert normalise(Shapes.model_json_schema())["additionalProperties"] is False
    assert props["count"] == {"minimum": 0, "type": "integer"}
    assert props["ratio"] == {"type": "number"}
    assert props["note"] == {"anyOf": [{"type": "null"}, {"type": "string"}], "default": None}
    assert props["comps"]["items"]["properties"]["state"]["enum"] == ["healthy", "degraded", "unhealthy"]
    assert props["labels"] == {"additionalProperties": {"type": "string"}, "type": "object"}
    assert props["kind"] == {"enum": ["a", "b"], "type": "string"}
    assert props["only"] == {"default": "x", "enum": ["x"], "type": "string"}
    assert props["level"] == {"default": "ok", "enum": ["ok", "soft", "hard"], "type": "string"}
    assert props["tags"] == {"items": {"type": "string"}, "type": "array"}
    assert list(props) == sorted(props)
    assert normalise(Allowing.model_json_schema())["additionalProperties"] is True


def test_normalise_unwraps_legacy_allof_wrapper() -> None:
    modern = LevelDefaultOk.model_json_schema()
    assert modern["properties"]["level"] == {"$ref": "#/$defs/Level", "default": "ok"}
    legacy = json.loads(json.dumps(modern))
    legacy["properties"]["level"] = {"allOf": [{"$ref": "#/$defs/Level"}], "default": "ok"}
    assert normalise(legacy) == normalise(modern)
    assert compare_model("FeedbackEvent", legacy, modern) == []


def test_normalise_leaves_marker_on_cycle() -> None:
    node = normalise(make_node().model_json_schema())
    assert node["properties"]["children"]["items"] == {"$ref": "Node"}
    assert compare_model("Node", make_node().model_json_schema(), make_node().model_json_schema()) == []


def test_normalise_keeps_fields_named_like_noise_keys() -> None:
    class Doc(BaseModel):
        title: str = Field(title="T", description="d", examples=["x"])
        description: dict[str, str] = {"title": "kept"}

    props = normalise(Doc.model_json_schema())["properties"]
    assert props["title"] == {"type": "string"}
    assert props["description"]["default"] == {"title": "kept"}


# --------------------------------------------------------------------------- tables


def test_rule_table() -> None:
    assert all(rule.value == rule.name for rule in Rule)
    assert set(RULES) == set(Rule)
    by_severity = {s: {r.value for r in Rule if RULES[r].severity is s} for s in Severity}
    assert by_severity[Severity.WARN] == {"ENUM_VALUE_ADDED", "DEFAULT_CHANGED"}
    assert by_severity[Severity.INFO] == {
        "OPTIONAL_FIELD_ADDED",
        "FIELD_MADE_OPTIONAL",
        "CONSTRAINT_RELAXED",
        "TYPE_WIDENED",
    }
    assert len(by_severity[Severity.ERR]) == 10
    assert all(info.guards.endswith(".") and len(info.guards) < 110 for info in RULES.values())
