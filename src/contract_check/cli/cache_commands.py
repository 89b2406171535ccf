"""``contract-check cache info | clear | prune``: thin commands over ``cacheroot`` and ``cacheledger``."""

from __future__ import annotations

import typer

from contract_check import report
from contract_check.cache import cacheledger, cacheroot
from contract_check.cli.options import Given, command
from contract_check.cli.terminal import shown
from contract_check.config import cache_root

cache_app = typer.Typer(help="Inspect, prune or empty the cache of shared environments, built Stores and results.")


def size_text(n: int | float) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _names(names: list[str], limit: int = 5) -> str:
    listed = ", ".join(shown(n) for n in names[:limit])
    return listed + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _bound_text(limit: cacheledger.Bound) -> str:
    size = size_text(limit.max_size) if limit.max_size is not None else "no size bound"
    age = f"unused for {cacheledger.age_text(limit.max_age)}" if limit.max_age is not None else "no age bound"
    return f"{size}; entries {age} go (${cacheledger.SIZE.variable}, ${cacheledger.AGE.variable})"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


@command(cache_app.command("info"), ("verbose", "quiet"))
def cache_info_command(ctx: typer.Context, given: Given) -> int:
    """Where the cache is, what it holds, its bound and what prune would remove."""
    limit = cacheledger.bound()
    found = cacheroot.summary(cache_root(), limit)
    out = report.console()
    lines = [f"cache directory  {shown(str(found.root))}"]
    if found.state == "missing":
        lines.append("empty            it does not exist yet; the first check creates it")
    elif found.state == "foreign":
        lines += [
            "not a contract-check cache: it holds no CACHEDIR.TAG written by contract-check",
            "                 nothing is cached there, and cache clear and prune leave it alone",
            "                 (an earlier release's cache is adopted by the next check when all in it is its own)",
        ]
    else:
        c = found.counts
        unknown = f" (and {_plural(found.unknown, 'entry', 'entries')} the ledger does not know)"
        lines += [
            f"results          {c['result']} ({found.expired} expired or unusable; kept for 7 days)",
            f"environments     {c['base']} shared base environments (kept for a day)",
            f"built Stores     {c['wheel']}",
            f"size             {size_text(found.size)}" + (unknown if found.unknown else ""),
            f"bound            {_bound_text(limit)}",
        ]
        if found.plan:
            freed = sum(e.record.size for e in found.plan)
            lines.append(
                f"prune would remove {_plural(len(found.plan), 'entry', 'entries')} ({size_text(freed)}): "
                + _names([f"{e.record.path} ({e.reason})" for e in found.plan], 3)
            )
        else:
            lines.append("prune would remove nothing")
        if c["other"]:
            lines.append(f"other files      {c['other']} not written by contract-check (left alone)")
    for line in lines:
        out.print(line, markup=False)
    return 0


@command(cache_app.command("clear"), ("verbose", "quiet"))
def cache_clear_command(ctx: typer.Context, given: Given) -> int:
    """Remove every cached result, shared environment and built Store that no running check uses."""
    root = cache_root()
    out = report.console()
    if not cacheroot.marked_or_refuse(root):
        out.print(f"nothing to clear: {shown(str(root))} does not exist or is empty", markup=False)
        return 0
    done = cacheroot.clear(root)
    r = done.removed
    parts = [_plural(r["result"], "result"), _plural(r["base"], "shared environment")]
    parts.append(_plural(r["wheel"], "built Store"))
    where = shown(str(root))
    out.print(f"removed {', '.join(parts[:-1])} and {parts[-1]} ({size_text(done.freed)}) from {where}", markup=False)
    if done.held:
        out.print(f"kept {len(done.held)} in use by a running check: {_names(done.held)}", markup=False)
    if done.failed:
        out.print(f"could not remove {len(done.failed)}: {_names(done.failed)}", markup=False)
    if done.foreign:
        what = _plural(len(done.foreign), "entry", "entries")
        out.print(f"left alone {what} contract-check did not write: {_names(done.foreign)}", markup=False)
    return 0


@command(cache_app.command("prune"), ("max_size", "max_age", "verbose", "quiet"))
def cache_prune_command(ctx: typer.Context, given: Given) -> int:
    """Remove, least recently used first, what is expired, unused too long or over the size bound."""
    limit = cacheledger.bound(max_size=given["max_size"], max_age=given["max_age"])
    root = cache_root()
    out = report.console()
    if not cacheroot.marked_or_refuse(root):
        out.print(f"nothing to prune: {shown(str(root))} does not exist or is empty", markup=False)
        return 0
    done = cacheledger.prune(root, limit)
    what = _plural(len(done.removed), "entry", "entries")
    where = shown(str(root))
    out.print(f"removed {what} ({size_text(done.freed)}) from {where}; bound {_bound_text(limit)}", markup=False)
    if done.held:
        held = [r.path for r in done.held]
        out.print(f"kept {len(held)} in use by a running check: {_names(held)}", markup=False)
    return 0
