"""The stable rule IDs of findings (stdlib only).

Copied into the sandbox next to the pytest plugin (as ``contract_check_rules``), so that contracts name a
rule as ``Rule.DEFAULT_CHANGED`` instead of typing a string; the host's table in ``compat.RULES`` gives each
one its severity. Runs on any Python the sandbox may use, hence ``(str, Enum)``.
"""

from enum import Enum


class Rule(str, Enum):  # noqa: UP042 - the sandbox may run Python 3.10, which has no StrEnum
    MODEL_MISSING = "MODEL_MISSING"
    IMPORT_FAILED = "IMPORT_FAILED"
    FIELD_REMOVED = "FIELD_REMOVED"
    FIELD_TYPE_CHANGED = "FIELD_TYPE_CHANGED"
    FIELD_MADE_REQUIRED = "FIELD_MADE_REQUIRED"
    REQUIRED_FIELD_ADDED = "REQUIRED_FIELD_ADDED"
    CONSTRAINT_TIGHTENED = "CONSTRAINT_TIGHTENED"
    EXTRA_FORBIDDEN = "EXTRA_FORBIDDEN"
    ENUM_VALUE_REMOVED = "ENUM_VALUE_REMOVED"
    ENUM_VALUE_CHANGED = "ENUM_VALUE_CHANGED"
    ENUM_VALUE_ADDED = "ENUM_VALUE_ADDED"
    DEFAULT_CHANGED = "DEFAULT_CHANGED"
    OPTIONAL_FIELD_ADDED = "OPTIONAL_FIELD_ADDED"
    FIELD_MADE_OPTIONAL = "FIELD_MADE_OPTIONAL"
    CONSTRAINT_RELAXED = "CONSTRAINT_RELAXED"
    TYPE_WIDENED = "TYPE_WIDENED"

    def __str__(self) -> str:
        return self.value
