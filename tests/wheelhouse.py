"""A local wheelhouse made from the distributions installed in the test environment, so that the CI steps under
test install everything with no index at all.

Each installed distribution is packed back into a wheel from the files its ``RECORD`` lists (bytecode and
installer bookkeeping dropped, scripts that are not entry points kept as ``.data/scripts``, e.g. uv's binary),
tagged as its ``WHEEL`` file says. Only the closure of the requirements asked for is packed; the project itself
(installed editable) never is, so that a step which installs the tool by name finds nothing to install.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata as md
import io
import re
import stat
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

_SKIP = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json", "uv_cache.json", "uv_build.json"}


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _tags(dist: md.Distribution) -> str:
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    parts = [sorted({t.split("-")[i] for t in tags}) for i in range(3)]
    return "-".join(".".join(p) for p in parts) if tags else "py3-none-any"


def repack(dist: md.Distribution, out: Path) -> Path:
    info = Path(str(dist._path))  # type: ignore[attr-defined]  # the .dist-info directory
    site = info.parent
    stem = info.name.removesuffix(".dist-info")
    scripts = {ep.name for ep in dist.entry_points if ep.group in ("console_scripts", "gui_scripts")}
    wheel = out / f"{stem}-{_tags(dist)}.whl"
    record: list[tuple[str, str, str]] = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        for row in csv.reader(io.StringIO(dist.read_text("RECORD") or "")):
            if not row:
                continue
            name = row[0]
            source = (site / name).resolve()
            if name.startswith(".."):  # outside site-packages: keep only real scripts (not entry-point wrappers)
                if "/bin/" not in name or Path(name).name in scripts:
                    continue
                arcname = f"{stem}.data/scripts/{Path(name).name}"
            elif "__pycache__" in name or (name.startswith(info.name + "/") and Path(name).name in _SKIP):
                continue
            else:
                arcname = name
            if not source.is_file():
                continue
            data = source.read_bytes()
            info_zip = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info_zip.external_attr = (stat.S_IFREG | (source.stat().st_mode & 0o777)) << 16  # pip needs S_IFREG
            zf.writestr(info_zip, data)
            record.append((arcname, _record_hash(data), str(len(data))))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([*record, (f"{info.name}/RECORD", "", "")])
        zf.writestr(f"{info.name}/RECORD", buffer.getvalue())
    return wheel


def closure(roots: list[str]) -> list[md.Distribution]:
    """The installed distributions *roots* need (markers evaluated for this interpreter, no extras)."""
    seen: dict[str, md.Distribution] = {}
    todo = list(roots)
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        dist = md.distribution(name)
        seen[name] = dist
        todo += dist.requires or []
    return list(seen.values())


def build(out: Path, roots: list[str], exclude: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    wheels = []
    for dist in closure(roots):
        if canonicalize_name(dist.metadata["Name"]) == canonicalize_name(exclude):
            continue
        wheels.append(repack(dist, out))
    assert not [w for w in wheels if re.match(r"(pydantic_)?contract_check-", w.name)], "the tool is in the wheelhouse"
    return wheels
