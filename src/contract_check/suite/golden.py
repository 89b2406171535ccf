"""The golden baseline on disk: what a golden directory holds, the one reader and the one writer.

A golden directory holds ``schemas.json`` (each subject's JSON Schema, or an enum's values),
``payloads/<Subject>.json`` (wire examples a known-good pair produced) and ``metadata.json``: what the golden
was recorded from, and under ``contents`` its **declaration**: the subjects ``schemas.json`` holds, and for
each payload file its number of payloads, with a SHA-256 of each file's JSON content (not of its bytes, so a
checkout that changes line endings still matches). Other files in the directory (a README) are not the
golden's and are left alone.

``read`` checks a golden against its declaration: a file missing, damaged or different from what the
declaration says is a UsageError naming the file (exit 2), or an EnvironmentProblem when it is the built-in
golden (the installation is damaged, exit 3). A golden recorded by the second release has no declaration; it
is read as before, with a note to record it again. ``write`` (in ``golden_replace``) is the only way a golden
is written: by ``snapshot``, by ``--against`` and into each sandbox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import contract_check.suite as suites
from contract_check import __version__
from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError
from contract_check.models import plural
from contract_check.util import fsread, proc
from contract_check.verdict import schema_rules

SCHEMAS, METADATA, PAYLOADS = "schemas.json", "metadata.json", "payloads"
FORMAT = 1  # of the declaration (``contents.format``); a golden of a newer format is refused, not misread
SCHEMAS_LIMIT = PAYLOADS_LIMIT = 16 * fsread.MIB
METADATA_LIMIT = fsread.MIB
SUBJECT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # as suite.toml's subject names: a payload file's stem


@dataclass(frozen=True)
class Content:
    """What a golden holds: the schema snapshot (``models`` and ``enums``), the payloads per subject, and what
    it was recorded from (``metadata``, without the declaration, which the writer computes)."""

    snapshot: dict[str, Any]
    payloads: dict[str, list[Any]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Golden:
    """A golden directory as read: its content, whether it declared it, and notes for the report."""

    directory: Path
    content: Content
    declared: bool
    notes: tuple[str, ...] = ()

    @property
    def snapshot(self) -> schema_rules.Snapshot:
        return schema_rules.Snapshot(models=self.content.snapshot["models"], enums=self.content.snapshot["enums"])

    @property
    def payload_subjects(self) -> list[str]:
        """The subjects with golden payloads (each is one ``payload.golden.<Subject>`` check)."""
        return sorted(self.content.payloads)


def recorded_from(
    *,
    suite: str,
    core_ref: str,
    store_spec: str,
    store_name: str | None,
    versions: dict[str, str],
    core_package: str,
) -> dict[str, Any]:
    """What a golden was recorded from (``metadata.json`` without the declaration). It is committed to a
    repository: the ref and the Store spec are redacted (never a token)."""
    return {
        "suite": suite,
        "core_ref": proc.redact(core_ref),
        "core": versions.get(core_package),
        "store": {"spec": proc.redact(store_spec), "name": store_name, "version": versions.get(store_name or "")},
        "pydantic": versions.get("pydantic"),
        "python": versions.get("python"),
        "tool": __version__,
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
    }


def payload_file(subject: str) -> str:
    return f"{PAYLOADS}/{subject}.json"


def content_digest(data: Any) -> str:
    """SHA-256 of a JSON value, independent of how its file is laid out."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dump(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


def declaration(content: Content) -> dict[str, Any]:
    """The ``contents`` entry of ``metadata.json`` for *content*."""
    return {
        "format": FORMAT,
        "schemas": {
            "models": sorted(content.snapshot["models"]),
            "enums": sorted(content.snapshot["enums"]),
            "sha256": content_digest(content.snapshot),
        },
        "payloads": {
            subject: {"count": len(items), "sha256": content_digest(items)}
            for subject, items in sorted(content.payloads.items())
        },
    }


def render(content: Content) -> dict[str, bytes]:
    """The files of a golden holding *content* (relative path -> bytes); ``metadata.json`` declares the rest.
    A subject without payloads has no payload file. Subject names come from the sandbox: one that could not
    be a file name of the golden is refused (EnvironmentProblem), never written."""
    problem = _shape_problem(content.snapshot)
    if problem:
        raise EnvironmentProblem(f"the schema snapshot cannot be recorded: {problem}")
    payloads = {subject: items for subject, items in content.payloads.items() if items}
    for subject, items in payloads.items():
        if not (isinstance(subject, str) and SUBJECT.fullmatch(subject) and isinstance(items, list)):
            raise EnvironmentProblem(f"the payloads of subject {subject!r} cannot be recorded (a name or not a list)")
    kept = Content(content.snapshot, payloads, content.metadata)
    meta = {k: v for k, v in content.metadata.items() if k != "contents"} | {"contents": declaration(kept)}
    files = {payload_file(subject): _dump(items) for subject, items in sorted(payloads.items())}
    return files | {SCHEMAS: _dump(content.snapshot), METADATA: _dump(meta)}


def _shape_problem(snapshot: Any) -> str | None:
    """What is wrong with a schema snapshot's shape (models map to schemas, enums to lists), or None."""
    if not isinstance(snapshot, dict):
        return f"it is a JSON {_kind(snapshot)}, not an object"
    if set(snapshot) != {"models", "enums"}:
        return f"it has the keys {sorted(snapshot)}, not models and enums"
    models, enums = snapshot["models"], snapshot["enums"]
    if not (isinstance(models, dict) and all(isinstance(v, dict) for v in models.values())):
        return "models must map each subject to its JSON Schema (an object)"
    if not (isinstance(enums, dict) and all(isinstance(v, list) for v in enums.values())):
        return "enums must map each subject to a list of values"
    return None


def _kind(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


# --------------------------------------------------------------------------------------------- reading


def is_builtin(directory: Path) -> bool:
    try:
        return directory.resolve() == (suites.builtin_dir() / "golden").resolve()
    except (OSError, FileNotFoundError):
        return False


class _Damage:
    """Builds the error for a damaged golden: the user's (exit 2) or the installation's (exit 3)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.builtin = is_builtin(directory)

    def __call__(self, message: str) -> ContractCheckError:
        if self.builtin:
            return EnvironmentProblem(
                f"the built-in golden of this installation is damaged: {message}",
                tip="reinstall contract-check",
                kind="environment",
            )
        return UsageError(
            message,
            tip="restore the golden from version control, or record it again from a known-good pair: "
            "contract-check snapshot --core-ref REF (it replaces only the golden's own files)",
        )


def _load(path: Path, what: str, limit: int, damage: _Damage) -> Any:
    """The JSON value in *path*: bounded, a regular file, UTF-8; every problem named (see ``_Damage``)."""
    try:
        data = fsread.read_bytes(path, limit=limit, what=what)
    except FileNotFoundError:
        raise damage(f"{what} {path} is missing") from None
    except UsageError as exc:  # not a regular file, or too large: fsread names it
        raise damage(exc.message) from None
    except OSError as exc:
        raise damage(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise damage(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:  # JSONDecodeError: cut short, or not JSON at all
        raise damage(f"{what} {path} is not valid JSON ({exc})") from None
    except RecursionError:
        raise damage(f"{what} {path} is nested too deeply to be a golden file") from None


def _schemas(directory: Path, damage: _Damage) -> dict[str, Any]:
    path = directory / SCHEMAS
    data = _load(path, "the golden schemas", SCHEMAS_LIMIT, damage)
    problem = _shape_problem(data)
    if problem:
        raise damage(f"the golden schemas {path} are not a schema snapshot: {problem}")
    return dict(data)


def _payloads(path: Path, damage: _Damage) -> list[Any]:
    data = _load(path, "the golden payloads", PAYLOADS_LIMIT, damage)
    if not isinstance(data, list):
        raise damage(f"the golden payloads {path} are a JSON {_kind(data)}, not a list of payloads")
    return data


def _payload_dir(directory: Path, damage: _Damage, *, required: bool) -> Path | None:
    folder = directory / PAYLOADS
    try:
        mode = os.stat(folder).st_mode
    except FileNotFoundError:
        if required:
            raise damage(
                f"the golden payload directory {folder} is missing (its metadata.json declares payloads)"
            ) from None
        return None
    except OSError as exc:
        raise damage(f"the golden payload directory {folder} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(mode):
        raise damage(f"the golden payload directory {folder} is {fsread.describe(mode)}, not a directory")
    return folder


def _declared(found: Any, path: Path, damage: _Damage) -> dict[str, Any]:
    """The declaration, checked for shape (names of subjects and payload files, counts and digests)."""
    bad = damage(f"the golden metadata {path} holds a malformed declaration ('contents')")
    if not isinstance(found, dict) or not isinstance(found.get("format"), int):
        raise bad
    if found["format"] > FORMAT:
        raise damage(
            f"the golden {path.parent} was recorded by a newer contract-check (declaration format {found['format']})"
        )
    schemas, payloads = found.get("schemas"), found.get("payloads")
    if not (isinstance(schemas, dict) and isinstance(schemas.get("sha256"), str) and isinstance(payloads, dict)):
        raise bad
    for key in ("models", "enums"):
        if not (isinstance(schemas.get(key), list) and all(isinstance(n, str) for n in schemas[key])):
            raise bad
    for subject, entry in payloads.items():
        count = entry.get("count") if isinstance(entry, dict) else None
        ok = isinstance(count, int) and not isinstance(count, bool) and count > 0
        if not (SUBJECT.fullmatch(subject) and ok and isinstance(entry.get("sha256"), str)):
            raise bad
    return found


def read(directory: Path) -> Golden | None:
    """The golden in *directory*, checked against its declaration; None when there is none (no directory, or
    neither ``schemas.json`` nor ``metadata.json`` in it). See the module docstring for the errors."""
    if not directory.is_dir():
        return None
    damage = _Damage(directory)
    meta_path = directory / METADATA
    meta = _load(meta_path, "the golden metadata", METADATA_LIMIT, damage) if os.path.lexists(meta_path) else None
    if meta is not None and not isinstance(meta, dict):
        raise damage(f"the golden metadata {meta_path} is a JSON {_kind(meta)}, not an object")
    if meta is None and not os.path.lexists(directory / SCHEMAS):
        return None
    if meta is None or "contents" not in meta:
        return _read_undeclared(directory, meta or {}, damage)
    found = _declared(meta["contents"], meta_path, damage)
    schemas = _schemas(directory, damage)
    declared_names = (sorted(found["schemas"]["models"]), sorted(found["schemas"]["enums"]))
    if (sorted(schemas["models"]), sorted(schemas["enums"])) != declared_names:
        raise damage(
            f"the golden schemas {directory / SCHEMAS} do not hold the subjects its metadata.json declares "
            f"(declared models {declared_names[0]}, enums {declared_names[1]}; "
            f"found models {sorted(schemas['models'])}, enums {sorted(schemas['enums'])})"
        )
    if content_digest(schemas) != found["schemas"]["sha256"]:
        raise damage(f"the golden schemas {directory / SCHEMAS} differ from what its metadata.json declares")
    folder = _payload_dir(directory, damage, required=bool(found["payloads"]))
    payloads: dict[str, list[Any]] = {}
    for subject, entry in sorted(found["payloads"].items()):
        path = directory / payload_file(subject)
        items = _payloads(path, damage)
        if len(items) != entry["count"]:
            held, declared = plural(len(items), "payload"), entry["count"]
            raise damage(f"the golden payloads {path} hold {held}; its metadata.json declares {declared}")
        if content_digest(items) != entry["sha256"]:
            raise damage(f"the golden payloads {path} differ from what its metadata.json declares")
        payloads[subject] = items
    notes = []
    extra = sorted(p.name for p in folder.glob("*.json") if p.stem not in payloads) if folder else []
    if extra:
        notes.append(
            f"the golden {directory} holds payload files its metadata.json does not declare, which are not checked: "
            f"{', '.join(extra[:5])}" + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        )
    meta = {k: v for k, v in meta.items() if k != "contents"}
    return Golden(directory, Content(schemas, payloads, meta), declared=True, notes=tuple(notes))


def _read_undeclared(directory: Path, meta: dict[str, Any], damage: _Damage) -> Golden:
    """A golden without a declaration (the second release's): every ``payloads/*.json`` is read."""
    schemas = _schemas(directory, damage)
    folder = _payload_dir(directory, damage, required=False)
    payloads = {}
    for path in sorted(folder.glob("*.json")) if folder else []:
        items = _payloads(path, damage) if SUBJECT.fullmatch(path.stem) else []
        if items:  # an empty list checks nothing (and the writer writes no file for it)
            payloads[path.stem] = items
    note = (
        f"the golden {directory} does not declare what it holds (it was recorded by an earlier contract-check), "
        "so a missing or damaged payload file cannot be noticed: record it again with contract-check snapshot"
    )
    return Golden(directory, Content(schemas, payloads, meta), declared=False, notes=(note,))
