"""The range answer: a PEP 440 specifier that admits only Core releases that were checked and found compatible.

``suggest(compatible, broken, declared, published=..., complete=...)`` builds it from the versions a run
checked (versions that could not be checked are passed in neither set) and the releases the index lists
(*published*; *complete* when that is the whole listing). Its promise, tested with ``contains(v,
prereleases=True)`` and by a property test against a listing: every compatible published release is admitted;
no broken version is admitted; with a complete listing, no listed release that was not checked and found
compatible is admitted either.

How it is built (clauses in this order, which is not the order ``str(SpecifierSet)`` would use):

1. **Bounds from published releases only**: ``>=L`` and ``<=H``, L and H the lowest and highest compatible
   *published* versions (their public part: ``>=`` and ``<=`` ignore a local label anyway). A compatible
   version the index does not list (a git tag, a branch, a wheel) never sets a bound, so the answer never
   starts at ``1.5.0.dev0``; a report note names such versions. The Store's declared upper bounds are not
   kept: ``<=H`` is the highest release the run vouches for (the next one is checked when it appears).
2. **Exclusions** ``!=X``, ascending: each listed release between L and H that was not checked, or broke
   (so a run that checked 1.1.1 and 1.4.61 does not admit the 70 releases between them: it names them, and a
   note says how many were excluded unchecked); each broken version the other clauses would still admit
   (an unpublished one too); the Store's declared ``!=`` clauses that exclude no compatible version and lie
   between the bounds. ``!=1.4.57`` does not exclude ``1.4.57.post1``, ``1.4.57rc1`` or ``1.4.57.dev0``
   (different versions), but it does exclude ``1.4.57+local``; a broken ``1.4.57+abc`` is excluded with
   ``!=1.4.57+abc``, which leaves plain ``1.4.57`` admitted.
3. With one compatible published release and nothing to exclude the answer is ``==X``.

Without a complete listing (``merge`` joins shards without asking the index; an offline run lists only
``--find-links``) the bounds still come from the versions known to be published, but unchecked releases
between them cannot be named: a note says the answer is a sketch.

What cannot be expressed: the same version both compatible and broken; and a compatible ``X+local`` next to
a broken (or unchecked, listed) plain ``X`` unless ``X+local`` is the only compatible version (then the
answer is ``==X+local``). PEP 440 clauses combine with "and" only, and every clause that rejects ``X`` either
rejects ``X+local`` too or rejects every other version. Both raise ``Inexpressible`` with a message a report
can show as it is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import Version

_LISTED = 5  # versions a note names before "..."


class Inexpressible(ValueError):
    """No PEP 440 specifier admits exactly the compatible versions; the message says which versions clash."""


@dataclass(frozen=True)
class Suggestion:
    specifier: str | None  # None when no published release was found compatible
    notes: tuple[str, ...] = ()


def sorted_versions(versions: Iterable[Version]) -> list[str]:
    """Distinct versions as strings, oldest first (for ``summary.compatible``)."""
    return [str(v) for v in sorted(set(versions))]


def suggest_specifier(
    compatible: Iterable[Version],
    broken: Iterable[Version],
    declared: str | None,
    *,
    published: Collection[Version] | None = None,
    complete: bool = False,
) -> str | None:
    """``suggest(...).specifier``."""
    return suggest(compatible, broken, declared, published=published, complete=complete).specifier


def suggest(
    compatible: Iterable[Version],
    broken: Iterable[Version],
    declared: str | None,
    *,
    published: Collection[Version] | None = None,
    complete: bool = False,
) -> Suggestion:
    """The specifier (see the module docstring) and the notes a report shows with it.

    *published*: the versions the index lists (None: every compatible version counts as published, and the
    listing is unknown); *complete*: *published* is the whole listing, so unchecked releases can be excluded.
    """
    checked_good = sorted(set(compatible))
    bad = sorted(set(broken))
    both = sorted(set(checked_good) & set(bad))
    if both:
        raise Inexpressible(f"{both[0]} was found both compatible and broken: no specifier can say which")
    listed = set(checked_good) if published is None else set(published)
    good = [v for v in checked_good if v in listed]
    notes = []
    unlisted = [v for v in checked_good if v not in listed]
    if unlisted:
        notes.append(f"compatible but not on the index, so not in the suggested specifier: {_names(unlisted)}")
    if not good:
        return Suggestion(None, tuple(notes))
    low, high = good[0], good[-1]
    bounds = [f">={low.public}", f"<={high.public}"]
    good_set = set(good)
    unchecked = []
    exclusions: list[str] = []
    if complete:
        for version in sorted(listed):
            if version not in good_set and _admits(bounds, version):
                exclusions.append(f"!={version}")
                if version not in bad:
                    unchecked.append(version)
    for version in bad:
        if _admits([*bounds, *exclusions], version):
            exclusions.append(f"!={version}")
    exclusions += [c for c in _declared_exclusions(SpecifierSet(declared or ""), low, high) if _admits_all(c, good)]
    exclusions = sorted(dict.fromkeys(exclusions), key=_clause_version)
    answer = ",".join([bounds[0], *exclusions, bounds[1]])
    if low == high and not exclusions:
        answer = f"=={low}"
    refused = [v for v in listed if v not in good_set] if complete else []
    if not _exact(answer, good, [*bad, *refused]):
        if len(good) == 1 and _exact(f"=={good[0]}", good, [*bad, *refused]):
            answer = f"=={good[0]}"
        else:
            raise Inexpressible(_clash(good, [*bad, *refused]))
    if unchecked:
        notes.append(
            f"the suggested specifier excludes {len(unchecked)} release(s) between {low} and {high} that were not "
            f"checked ({_names(unchecked)}): check them (--core-range '>={low.public},<={high.public}') to admit them"
        )
    elif not complete and len(good) > 1:
        notes.append(
            f"the suggested specifier is a sketch: the index listing was not compared, so releases between {low} and "
            f"{high} that were not checked may be admitted"
        )
    return Suggestion(answer, tuple(notes))


def _names(versions: Sequence[Version]) -> str:
    shown = ", ".join(str(v) for v in versions[:_LISTED])
    return shown + (f", ... ({len(versions)} in all)" if len(versions) > _LISTED else "")


def _declared_exclusions(declared: SpecifierSet, low: Version, high: Version) -> list[str]:
    """The declared ``!=`` clauses that still exclude something between the bounds."""
    kept = []
    for clause in declared:
        if clause.operator != "!=":
            continue
        if clause.version.endswith(".*"):
            prefix = Version(clause.version[:-2])
            if prefix <= high and _series_top(prefix) > low:  # the series overlaps the bounds
                kept.append(f"!={clause.version}")
        elif _admits([f">={low.public}", f"<={high.public}"], Version(clause.version)):
            kept.append(f"!={clause.version}")
    return kept


def _series_top(prefix: Version) -> Version:
    """The first release after the ``prefix.*`` series: ``1.4`` -> ``1.5``."""
    release = [*prefix.release[:-1], prefix.release[-1] + 1]
    return Version((f"{prefix.epoch}!" if prefix.epoch else "") + ".".join(map(str, release)))


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
                f"compatible {version} and broken or unchecked {plain} differ only by the local label: a PEP 440 "
                f"clause that excludes {plain} excludes {version} too, unless it admits nothing else"
            )
    return "no PEP 440 specifier admits exactly the compatible versions"  # pragma: no cover - see the docstring


__all__ = ["Inexpressible", "Suggestion", "sorted_versions", "suggest", "suggest_specifier"]
