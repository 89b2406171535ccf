"""What ``bump`` tells the user after the check: the diff, what was written (or would be), the links it
followed, the requirements files it left alone and why, and the lock files to regenerate."""

from __future__ import annotations

import sys

from rich.markup import escape

from contract_check import report
from contract_check.bump import edits, inplace
from contract_check.bump.command import Bumped


def say(done: Bumped, *, dry_run: bool) -> None:
    """What bump did (or would do) with each file: the diff, written or not, left alone and why, lock files."""
    out = report.console()
    if done.resolved:
        out.print(escape(done.resolved))
    plan = done.plan
    if plan is None:
        out.print("[bold]not bumped[/]: the check did not say compatible; nothing was written")
        return
    if plan.changed:
        sys.stdout.write(edits.render_diff(plan))
    for name, same in plan.aliases:
        out.print(f"{escape(name.name)} is another name of {escape(same.name)} (a link): the same file, counted once")
    for edit in plan.edits:
        links = inplace.other_links(edit.target)
        notes = [edit.note] if edit.note else []
        notes += [f"it has {links} other hard link(s), which show the change too"] if links else []
        if notes:
            out.print(f"{escape(edit.path.name)}: {escape('; '.join(notes))}")
    if not plan.changed:
        out.print(f"nothing to change: the Store already requires {plan.core_package} {plan.version}")
    elif dry_run:
        refused = inplace.problems(edits.changes(plan))
        out.print(
            "dry run: nothing written" + (f"; a real run would refuse: {escape('; '.join(refused))}" if refused else "")
        )
    else:
        out.print(f"wrote {len(plan.edits)} file(s): {escape(', '.join(e.path.name for e in plan.edits))}")
    for left in plan.left_alone:
        out.print(f"[bold]left alone[/]: {escape(left.reason)}")
        out.print(f"  tip: {escape(left.tip)}")
    for lock in plan.lock_files:
        out.print(f"regenerate {escape(str(lock))} (it still pins the old {plan.core_package})")
