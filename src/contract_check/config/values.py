"""Checks of single values the user gives (flag or config alike): text no file name, URL or requirement may
hold, git URLs, timeouts, ranges, values that would read as options; and making a path absolute."""

from __future__ import annotations

import math
import re
import urllib.parse
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from contract_check.errors import UsageError
from contract_check.util.proc import redact

MAX_TIMEOUT = 7 * 24 * 3600.0  # a week; far larger values overflow time arithmetic and the OS's wait calls

GIT_URL_FORMS = """accepted --core-git forms (each may start with git+, as in git+https://):
  https://HOST/PATH              e.g. https://HOST/OWNER/REPO.git, or https://USER:TOKEN@HOST/...
  ssh://[USER@]HOST[:PORT]/PATH  write USER@HOST:OWNER/REPO.git as ssh://USER@HOST/OWNER/REPO.git
  git://HOST/PATH
  file:///PATH                   a repository on this machine"""
_GIT_SCHEMES = {"https", "ssh", "git", "file"}
_SCP_LIKE = re.compile(r"[^/:@]+@[^/:]+:.*")


def versions_usable(spec: SpecifierSet) -> bool:
    """Whether every version in *spec* can be compared (one of 5,000 digits cannot: Python caps int parsing)."""
    try:
        for item in spec:
            if item.operator != "===":
                Version(item.version.removesuffix(".*"))
    except ValueError:  # InvalidVersion, or "Exceeds the limit (4300 digits) for integer string conversion"
        return False
    return True


def check_text(value: str, what: str) -> None:
    """UsageError for text no file name, URL or requirement may hold: a NUL byte, or bytes that were not
    UTF-8 (the command line holds them as lone surrogates)."""
    if "\x00" in value:
        raise UsageError(f"{what} {shown(value)} holds a NUL byte", tip="remove it")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise UsageError(
            f"{what} {shown(value)} holds bytes that are not valid UTF-8",
            tip="give the value as UTF-8 text (check the encoding of the terminal or the script)",
        )


def shown(value: str) -> str:
    """*value* as quoted in a message: redacted, cut at 200 characters, escapes visible."""
    text = redact(value)
    return repr(text if len(text) <= 200 else text[:200] + "...")


def check_git_url(url: str, what: str = "--core-git") -> None:
    """UsageError unless *url* is a git URL of an accepted scheme that no program can read as an option.

    Accepted: https, ssh, git and file URLs, each with or without ``git+``. Refused: a leading ``-`` (git
    reads it as an option, and ``--upload-pack=CMD`` runs CMD); other schemes and transports (``ext::``
    runs a command too); the scp-like ``user@host:path``, which means ``ssh://user@host/path`` and is asked
    for in that spelling, the one uv understands; a host or user starting with ``-`` (an ssh option);
    whitespace and control characters (a new line would start a new line in uv's overrides file); and a
    query or fragment (uv would read the ``@REF`` appended after it as part of them).
    """

    def bad(why: str) -> UsageError:
        return UsageError(f"{what} {shown(url)} {why}", tip=GIT_URL_FORMS)

    check_text(url, what)
    if url.startswith("-"):
        raise bad("starts with '-', so git would read it as an option")
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in url):
        raise bad("holds whitespace or control characters")
    bare = url.removeprefix("git+")
    scheme, sep, _ = bare.partition("://")
    if not sep or scheme.lower() not in _GIT_SCHEMES:
        if not sep and _SCP_LIKE.fullmatch(bare):
            raise bad("is an scp-like address: write it as ssh://USER@HOST/PATH")
        raise bad("is not a git URL of an accepted scheme")
    if "?" in bare or "#" in bare:
        raise bad("has a query or fragment ('?' or '#'), which a repository URL does not need")
    try:
        parts = urllib.parse.urlsplit(bare)
        port = parts.port
    except ValueError as exc:  # a bad IPv6 literal or port number
        raise bad(f"is not a valid URL ({exc})") from None
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise bad("must name an absolute path on this machine (file:///PATH)")
        return
    host, user = parts.hostname or "", parts.username or ""
    if not host or host.startswith("-") or user.startswith("-"):
        raise bad("has no host, or a host or user name that starts with '-'")
    if port is None and parts.netloc.endswith(":"):
        raise bad("has an empty port")


def seconds(value: float) -> float:
    """A --timeout value as float seconds: positive, finite, at most ``MAX_TIMEOUT``; else a usage error."""
    huge = False
    try:
        secs = float(value)
    except OverflowError:  # an integer of hundreds of digits, from the config file
        secs, huge = (math.inf if value > 0 else -math.inf), True
    if not (secs > 0 and (math.isfinite(secs) or huge)):
        raise UsageError(f"--timeout must be a positive number of seconds, not {secs:g}")
    if secs > MAX_TIMEOUT:
        raise UsageError(
            f"--timeout must be at most {MAX_TIMEOUT:g} seconds (a week), not "
            + (f"{secs:g}" if math.isfinite(secs) else "a number that large"),
            tip="the timeout is per phase (install, contracts); a phase that runs longer has hung",
        )
    return secs


def check_range(text: str) -> None:
    """UsageError unless *text* is a version specifier whose versions can be compared."""
    try:
        usable = versions_usable(SpecifierSet(text))
    except InvalidSpecifier:
        usable = False
    if not usable:
        raise UsageError(f"--core-range {shown(text)} is not a usable version specifier", tip="e.g. '>=1.4,<2'")


def no_option(value: str | None, what: str) -> None:
    """A value passed to uv as an argument must not read as an option."""
    if value and value.startswith("-"):
        raise UsageError(
            f"{what} {shown(value)} starts with '-', so it would be read as an option",
            tip="give a path (./-name for a file whose name starts with '-'), a URL or a version",
        )


def local_path(base: Path, text: str | Path, what: str) -> Path:
    """*text* as an absolute path (``~`` expanded, relative to *base*); an unusable one is a usage error."""
    try:
        return (base / Path(text).expanduser()).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # ~nobody, a NUL byte, a name too long
        raise UsageError(f"{what} {str(text)[:200]!r} is not a usable path: {exc}") from None


def is_url(text: str) -> bool:
    return "://" in text
