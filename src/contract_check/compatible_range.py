"""The range answer: a PEP 440 specifier that admits exactly the Core versions found compatible.

``suggest_specifier(compatible, broken, declared)`` builds it from the versions a run checked (versions that
could not be checked are passed in neither set). Its promise, tested with ``contains(v, prereleases=True)``
and by a property test: every compatible version is admitted, every broken one is excluded.

How it is built (clauses in this order, which is not the order ``str(SpecifierSet)`` would use):

1. **Lower bound** ``>=L``, L the lowest compatible version (its public part: a local label such as
   ``+g1234`` is not allowed in ``>=``, and ``>=`` ignores it anyway). Every broken version below L is out.
2. **Exclusions** ``!=B``, ascending, for each broken version B that the other clauses would still admit.
   ``!=1.4.57`` does not exclude ``1.4.57.post1``, ``1.4.57rc1`` or ``1.4.57.dev0`` (different versions),
   but it does exclude ``1.4.57+local`` (a clause without a local label ignores the label); a broken
   ``1.4.57+abc`` is excluded with ``!=1.4.57+abc``, which leaves plain ``1.4.57`` admitted. The Store's own
   declared ``!=`` clauses are kept when they exclude no compatible version (they may name versions this run
   did not check) and are not wholly below L.
3. **Upper bounds.** The Store's declared upper bounds are kept when they admit every compatible version:
   ``<V`` and ``<=V`` as written; the upper half of ``~=1.4.54`` and of ``==1.4.*`` as ``<1.5`` (the same
   versions from ``1.4`` upward; the lower half is replaced by L like any lower bound). A declared upper
   bound that rejects a compatible version is dropped: the checked evidence says it is too tight, and the
   answer shows it. Broken versions above the highest compatible one get their ``!=`` like any other: the
   answer describes what was checked, and a newer release is checked when it appears.

What cannot be expressed: the same version both compatible and broken; and a compatible ``X+local`` next to
a broken plain ``X`` unless ``X+local`` is the only compatible version (then the answer is ``==X+local``).
PEP 440 clauses combine with "and" only, and every clause that rejects ``X`` either rejects ``X+local`` too
or rejects every other version. Both raise ``Inexpressible`` with a message a report can show as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import Version


class Inexpressible(ValueError):
    """No PEP 440 specifier admits exactly the compatible versions; the message says which versions clash."""


def sorted_versions(versions: Iterable[Version]) -> list[str]:
    """Distinct versions as strings, oldest first (for ``summary.compatible``)."""
    return [str(v) for v in sorted(set(versions))]


def suggest_specifier(compatible: Iterable[Version], broken: Iterable[Version], declared: str | None) -> str | None:
    """A specifier admitting every compatible and no broken version; None when nothing is compatible.

    *declared* is the specifier the Store declares on Core (e.g. ``">=1.4.54,<2.0.0"``), or None.
    """
    good = sorted(set(compatible))
    bad = sorted(set(broken))
    if not good:
        return None
    both = sorted(set(good) & set(bad))
    if both:
        raise Inexpressible(f"{both[0]} was found both compatible and broken: no specifier can say which")
    declared_clauses = list(SpecifierSet(declared or ""))
    lower = f">={good[0].public}"
    uppers = [u for u in _declared_uppers(declared_clauses) if _admits_all(u, good)]
    rest = [lower, *uppers]
    exclusions = [c for c in _declared_exclusions(declared_clauses, rest) if _admits_all(c, good)]
    for version in bad:
        if _admits([*rest, *exclusions], version):
            exclusions.append(f"!={version}")
    exclusions = sorted(dict.fromkeys(exclusions), key=_clause_version)
    answer = ",".join([lower, *exclusions, *uppers])
    if _exact(answer, good, bad):
        return answer
    if len(good) == 1 and _exact(f"=={good[0]}", good, bad):
        return f"=={good[0]}"
    raise Inexpressible(_clash(good, bad))


def _declared_uppers(clauses: Sequence[Specifier]) -> list[str]:
    """The upper bounds among the declared clauses, as ``<V``/``<=V`` text, in declared order."""
    uppers = []
    for clause in clauses:
        if clause.operator in ("<", "<="):
            uppers.append(f"{clause.operator}{clause.version}")
        elif clause.operator == "~=":
            uppers.append(_below_series(Version(clause.version), drop_last=True))
        elif clause.operator == "==" and clause.version.endswith(".*"):
            uppers.append(_below_series(Version(clause.version[:-2]), drop_last=False))
    return list(dict.fromkeys(uppers))


def _below_series(version: Version, *, drop_last: bool) -> str:
    """``<`` the release after the series: ``~=1.4.54`` (drop_last) and ``==1.4.*`` both give ``<1.5``."""
    release = list(version.release[:-1] if drop_last else version.release)
    release[-1] += 1
    epoch = f"{version.epoch}!" if version.epoch else ""
    return "<" + epoch + ".".join(str(part) for part in release)


def _declared_exclusions(clauses: Sequence[Specifier], rest: Sequence[str]) -> list[str]:
    """The declared ``!=`` clauses that still exclude something the other clauses admit."""
    kept = []
    for clause in clauses:
        if clause.operator != "!=":
            continue
        text = f"!={clause.version}"
        if clause.version.endswith(".*"):
            top = Version(_below_series(Version(clause.version[:-2]), drop_last=False)[1:])
            lower = Version(rest[0][2:])
            if top > lower:
                kept.append(text)
        elif _admits(rest, Version(clause.version)):
            kept.append(text)
    return kept


def _clause_version(clause: str) -> Version:
    text = clause.lstrip("!=<>~")
    return Version(text.removesuffix(".*"))


def _admits(clauses: Sequence[str], version: Version) -> bool:
    return SpecifierSet(",".join(clauses)).contains(version, prereleases=True)


def _admits_all(clause: str, versions: Iterable[Version]) -> bool:
    spec = SpecifierSet(clause)
    return all(spec.contains(v, prereleases=True) for v in versions)


def _exact(answer: str, good: Sequence[Version], bad: Sequence[Version]) -> bool:
    spec = SpecifierSet(answer)
    return all(spec.contains(v, prereleases=True) for v in good) and not any(
        spec.contains(v, prereleases=True) for v in bad
    )


def _clash(good: Sequence[Version], bad: Sequence[Version]) -> str:
    for version in good:
        if version.local is None:
            continue
        plain = Version(version.public)
        if plain in bad:
            return (
                f"compatible {version} and broken {plain} differ only by the local label: a PEP 440 clause "
                f"that excludes {plain} excludes {version} too, unless it admits nothing else"
            )
    return "no PEP 440 specifier admits exactly the compatible versions"  # pragma: no cover - see the docstring
