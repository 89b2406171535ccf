"""Which commit a git revision names in a repository, asked with ``git ls-remote`` (one answer for the whole
tool: the result cache's key, ``bump``'s pin)."""

from __future__ import annotations

import re

from contract_check.errors import EnvironmentProblem, UsageError
from contract_check.sandbox import scrubbed_env
from contract_check.util import proc

FULL_SHA = re.compile(r"[0-9a-f]{40}")
_SHORT_SHA = re.compile(r"[0-9a-fA-F]{7,39}")


def commit_of(url: str, rev: str, *, timeout: float = 60.0) -> str:
    """The commit *rev* (a branch, a tag, HEAD or a full SHA) names in the git repository *url* (the peeled
    commit of an annotated tag). A name that is both a branch and a tag at different commits, or a short SHA
    (ls-remote cannot see it), is a UsageError; an unreachable repository or an unknown name an
    EnvironmentProblem."""
    if FULL_SHA.fullmatch(rev):
        return rev
    where = proc.redact(url)
    done = proc.run(
        ["git", "ls-remote", "--", url.removeprefix("git+"), rev, f"{rev}^{{}}"],  # "--": the URL is no option
        env=scrubbed_env({"GIT_TERMINAL_PROMPT": "0"}),
        timeout=timeout,
        what="git ls-remote",
    )
    if not done.ok:
        said = next((ln.strip() for ln in done.stderr.splitlines() if ln.strip()), "")
        raise EnvironmentProblem(
            proc.redact(f"could not ask {where} which commit {rev} is: {said[:200]}"),
            tip="check --core-git and the network",
            kind="network",
        )
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        sha, _, name = line.partition("\t")
        found[name.strip()] = sha.strip()
    names = [rev, f"refs/heads/{rev}", f"refs/tags/{rev}"]
    commits = {found.get(f"{name}^{{}}", found[name]) for name in names if name in found}
    if len(commits) > 1:
        raise UsageError(
            f"{rev!r} names both a branch and a tag of {where}, at different commits",
            tip="give the commit to check as its full SHA (git:<40 hex digits>)",
        )
    if not commits:
        if _SHORT_SHA.fullmatch(rev):
            raise UsageError(
                f"{rev!r} is not a branch or tag of {where}, and a short commit cannot be looked up remotely",
                tip="give the commit as its full 40-character SHA",
            )
        raise EnvironmentProblem(f"{where} has no branch or tag {rev!r}", tip="git ls-remote URL lists them",
                                 kind="ref-not-found")  # fmt: skip
    return commits.pop()
