"""The range answer: against the index listing, the suggested specifier admits only releases that were checked and
found compatible (unpublished refs never set a bound), and says what it left out."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from contract_check.verdict.compatible_range import (
    Inexpressible,
    Suggestion,
    sorted_versions,
    suggest,
    suggest_specifier,
)


def vs(*texts: str) -> list[Version]:
    return [Version(t) for t in texts]


def admits(spec: str, version: Version) -> bool:
    return SpecifierSet(spec).contains(version, prereleases=True)


# ----------------------------------------------------------------------------------------------------------
# hand-written examples
# ----------------------------------------------------------------------------------------------------------

LISTING = vs(*(f"1.4.{n}" for n in range(50, 62)), "1.2.0", "1.3.0")  # what the index lists


@pytest.mark.parametrize(
    ("compatible", "broken", "declared", "expected"),
    [
        # every listed release from 1.4.55 up checked and compatible: the bounds only
        (vs(*(f"1.4.{n}" for n in range(55, 62))), [], ">=1.4.54,<2.0.0", ">=1.4.55,<=1.4.61"),
        # one broken in the middle
        (
            vs("1.4.55", "1.4.56", "1.4.58", "1.4.59", "1.4.60", "1.4.61"),
            vs("1.4.57"),
            None,
            ">=1.4.55,!=1.4.57,<=1.4.61",
        ),
        # releases between the compatible ones that were not checked are excluded, one by one
        (vs("1.4.55", "1.4.58"), vs("1.4.57"), None, ">=1.4.55,!=1.4.56,!=1.4.57,<=1.4.58"),
        # the lowest ones broken: the lower bound moves up; the newest broken: below the upper bound
        (vs("1.4.57", "1.4.58"), vs("1.4.55", "1.4.56", "1.4.60"), ">=1.4.54,<2.0.0", ">=1.4.57,<=1.4.58"),
        # one compatible release
        (vs("1.4.61"), vs("1.4.60"), ">=1.4,<2", "==1.4.61"),
        # a declared != between the bounds is kept (it may name a yanked release this listing no longer has)
        (vs("1.4.57", "1.4.58", "1.4.59"), [], "!=1.4.58.1,!=1.2.*,!=1.4.*", ">=1.4.57,!=1.4.58.1,<=1.4.59"),
    ],
)
def test_suggest_specifier_examples(
    compatible: list[Version], broken: list[Version], declared: str | None, expected: str
) -> None:
    answer = suggest_specifier(compatible, broken, declared, published=LISTING, complete=True)
    assert answer == expected
    assert all(admits(answer, v) for v in compatible)
    assert not any(admits(answer, v) for v in broken)
    assert [v for v in LISTING if admits(answer, v)] == sorted(v for v in LISTING if v in compatible)


def test_git_refs_never_set_a_bound_and_unchecked_releases_are_named() -> None:
    """Seen: after git refs the answer was '>=1.1.1,!=1.5.0.dev0,<2.0.0': it started at an unpublished tag and
    admitted dozens of releases never checked, though the report said it admitted exactly the compatible ones."""
    compatible = vs("1.1.1", "1.4.55", "1.4.61")  # 1.1.1: git:v1.1.1, a tag the index does not list
    broken = vs("1.5.0.dev0")  # git:main
    found = suggest(compatible, broken, ">=1.1,<2.0.0", published=LISTING, complete=True)
    assert found.specifier == ">=1.4.55,!=1.4.56,!=1.4.57,!=1.4.58,!=1.4.59,!=1.4.60,<=1.4.61"
    assert found.notes == (
        "compatible but not on the index, so not in the suggested specifier: 1.1.1",
        "the suggested specifier excludes 5 release(s) between 1.4.55 and 1.4.61 that were not checked (1.4.56, "
        "1.4.57, 1.4.58, 1.4.59, 1.4.60): check them (--core-range '>=1.4.55,<=1.4.61') to admit them",
    )
    assert not admits(found.specifier, Version("1.1.1")) and not admits(found.specifier, Version("1.5.0.dev0"))


def test_only_unpublished_versions_compatible_is_no_specifier() -> None:
    found = suggest(vs("1.5.0.dev0"), vs("1.4.61"), None, published=LISTING, complete=True)
    assert found == Suggestion(
        None, ("compatible but not on the index, so not in the suggested specifier: 1.5.0.dev0",)
    )


def test_without_the_whole_listing_the_answer_is_a_sketch_and_says_so() -> None:
    found = suggest(vs("1.4.55", "1.4.61"), vs("1.4.57"), None, published=None)  # merge: no listing
    assert found.specifier == ">=1.4.55,!=1.4.57,<=1.4.61"
    assert found.notes == (
        "the suggested specifier is a sketch: the index listing was not compared, so releases between 1.4.55 and "
        "1.4.61 that were not checked may be admitted",
    )
    partial = suggest(vs("1.4.55", "1.4.61"), [], None, published=vs("1.4.61"), complete=False)  # offline
    assert partial.specifier == "==1.4.61" and partial.notes[0].endswith("not in the suggested specifier: 1.4.55")


@pytest.mark.parametrize(
    ("compatible", "broken", "listing", "expected"),
    [
        # pre, post and dev releases are releases like any other
        (vs("1.4.57.post1", "1.4.58"), vs("1.4.57"), vs("1.4.57", "1.4.57.post1", "1.4.58"), ">=1.4.57.post1,<=1.4.58"),
        (
            vs("1.4.56", "1.4.57.post1"),
            vs("1.4.57"),
            vs("1.4.56", "1.4.57", "1.4.57.post1"),
            ">=1.4.56,!=1.4.57,<=1.4.57.post1",
        ),
        (vs("1.4.56", "1.4.57"), [], vs("1.4.56", "1.4.57rc1", "1.4.57"), ">=1.4.56,!=1.4.57rc1,<=1.4.57"),
        (vs("1.9", "2.0a1"), vs("2.0rc1"), vs("1.9", "2.0a1", "2.0rc1", "2.0"), ">=1.9,<=2.0a1"),
        # local versions: a broken X+abc is excluded on its own
        (vs("1.0", "1.1"), vs("1.0+abc"), vs("1.0", "1.1"), ">=1.0,!=1.0+abc,<=1.1"),
        (vs("1.0+abc"), vs("1.0"), vs("1.0", "1.0+abc"), "==1.0+abc"),  # the one compatible version, alone
        (vs("1!1.4.55", "1!1.4.56"), [], vs("1!1.4.55", "1!1.4.56"), ">=1!1.4.55,<=1!1.4.56"),
    ],
)
def test_versions_of_every_shape(
    compatible: list[Version], broken: list[Version], listing: list[Version], expected: str
) -> None:
    assert suggest_specifier(compatible, broken, None, published=listing, complete=True) == expected


def test_nothing_compatible_is_none() -> None:
    assert suggest_specifier([], vs("1.0", "1.1"), ">=1.0,<2") is None
    assert suggest_specifier([], [], None) is None


def test_the_clause_order_is_not_specifierset_order() -> None:
    answer = suggest_specifier(vs("1.4.55", "1.4.58"), vs("1.4.57"), None)
    assert answer == ">=1.4.55,!=1.4.57,<=1.4.58"
    assert str(SpecifierSet(answer)) != answer  # packaging would sort the clauses by operator


def test_neq_does_not_exclude_post_pre_or_dev_releases_of_that_version() -> None:
    # the PEP 440 facts the construction relies on
    assert admits("!=1.4.57", Version("1.4.57.post1"))
    assert admits("!=1.4.57", Version("1.4.57rc1"))
    assert admits("!=1.4.57", Version("1.4.57.dev0"))
    assert not admits("!=1.4.57", Version("1.4.57+local"))
    assert admits("!=1.4.57+abc", Version("1.4.57"))


def test_both_compatible_and_broken_is_inexpressible() -> None:
    with pytest.raises(Inexpressible, match=r"1\.0(\.0)? was found both compatible and broken"):
        suggest_specifier(vs("1.0", "1.1"), vs("1.0.0"), None)  # 1.0 == 1.0.0


def test_local_compatible_next_to_broken_public_is_inexpressible() -> None:
    with pytest.raises(Inexpressible, match=r"compatible 1\.0\+abc and broken or unchecked 1\.0 differ only"):
        suggest_specifier(vs("1.0+abc", "1.1"), vs("1.0"), None)
    with pytest.raises(Inexpressible, match=r"compatible 1\.0\+abc and broken or unchecked 1\.0 differ only"):
        suggest_specifier(vs("1.0+abc", "1.1"), [], None, published=vs("1.0", "1.0+abc", "1.1"), complete=True)


def test_duplicates_and_order_of_input_do_not_matter() -> None:
    a = suggest_specifier(vs("1.5", "1.0", "1.0.0", "1.3"), vs("1.4", "1.2", "1.2"), "<2")
    b = suggest_specifier(vs("1.0", "1.3", "1.5"), vs("1.2", "1.4"), "<2")
    assert a == b == ">=1.0,!=1.2,!=1.4,<=1.5"


def test_sorted_versions() -> None:
    assert sorted_versions(vs("1.10", "1.9", "1.9.0", "1.9rc1", "v1.2")) == ["1.2", "1.9rc1", "1.9", "1.10"]
    assert sorted_versions([]) == []


# ----------------------------------------------------------------------------------------------------------
# property: the answer admits exactly the compatible versions (or it says why it cannot)
# ----------------------------------------------------------------------------------------------------------

_release = st.lists(st.integers(0, 3), min_size=1, max_size=3)
_version = st.builds(
    lambda epoch, release, pre, post, dev, local: Version(
        (f"{epoch}!" if epoch else "")
        + ".".join(map(str, release))
        + (f"{pre[0]}{pre[1]}" if pre else "")
        + (f".post{post}" if post is not None else "")
        + (f".dev{dev}" if dev is not None else "")
        + (f"+{local}" if local else "")
    ),
    st.sampled_from([0, 0, 0, 0, 1]),
    _release,
    st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 2)),
    st.none() | st.integers(0, 2),
    st.none() | st.integers(0, 2),
    st.none() | st.sampled_from(["abc", "g1", "7"]),
)
_plain = st.builds(lambda r: ".".join(map(str, r)), _release)
_declared = st.one_of(
    st.none(),
    st.builds(lambda v: f"<{v}", _plain),
    st.builds(lambda v: f"<={v}", _plain),
    st.builds(lambda a, b: f">={a},<{b}", _plain, _plain),
    st.builds(lambda a, b: f"~={a}.{b}", st.integers(0, 3), st.integers(0, 3)),
    st.builds(lambda r: f"=={r}.*", _plain),
    st.builds(lambda a, b, c: f">={a},!={b},<{c}", _plain, _version.map(lambda v: v.public), _plain),
    st.builds(lambda a, b: f"!={a}.*,<{b}", _plain, _plain),
)


def _expressible(good: set[Version], refused: set[Version]) -> bool:
    """The documented limits: no version both compatible and broken; a compatible X+local beside a broken or
    unchecked listed X only alone."""
    clash = any(v.local is not None and Version(v.public) in refused for v in good)
    return not clash or len(good) == 1


_checked = st.lists(st.tuples(_version, st.booleans()), max_size=10)


@settings(max_examples=100, deadline=None)
@given(st.lists(_version, max_size=12), _checked, st.lists(st.tuples(_version, st.booleans()), max_size=3), _declared)
@example(
    [Version("1.0"), Version("1.0+abc"), Version("1.1")], [(Version("1.0+abc"), True), (Version("1.1"), True)], [], None
)
@example(
    [Version("2.0a1"), Version("2.0rc1"), Version("2.0")], [(Version("2.0a1"), True), (Version("2.0"), False)], [], "<3"
)
def test_property_against_a_listing_only_checked_compatible_releases_are_admitted(
    listing: list[Version],
    checked_listed: list[tuple[Version, bool]],
    checked_unlisted: list[tuple[Version, bool]],
    declared: str | None,
) -> None:
    published = set(listing) | {v for v, _ in checked_listed}
    seen: dict[Version, bool] = {}
    for version, passed in [*checked_listed, *((v, p) for v, p in checked_unlisted if v not in published)]:
        seen.setdefault(version, passed)  # one verdict per version, like one row per checked version
    good = {v for v, passed in seen.items() if passed}
    bad = {v for v, passed in seen.items() if not passed}
    good_published = good & published
    try:
        answer = suggest_specifier(good, bad, declared, published=published, complete=True)
    except Inexpressible:
        assert not _expressible(good_published, bad | (published - good)), (good, bad, published)
        return
    if not good_published:
        assert answer is None
        return
    assert answer is not None and _expressible(good_published, bad | (published - good))
    spec = SpecifierSet(answer)
    admitted = {v for v in published | bad if spec.contains(v, prereleases=True)}
    assert good_published <= admitted  # every compatible published release
    assert not admitted & bad  # no broken version, published or not
    assert admitted & published <= good  # no listed release that was not checked and found compatible
    low, high = min(good_published), max(good_published)
    assert answer.startswith((f">={low.public},", "==")) and (
        answer.startswith("==") or answer.endswith(f",<={high.public}")
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(_version, min_size=1, max_size=10), _declared)
def test_property_without_a_listing_every_compatible_version_is_admitted(
    versions: list[Version], declared: str | None
) -> None:
    try:
        answer = suggest_specifier(versions, [], declared)
    except Inexpressible:  # pragma: no cover - nothing broken, nothing listed: always expressible
        raise AssertionError(versions) from None
    assert answer is not None
    assert answer.startswith(f">={min(versions).public}") or answer == f"=={min(versions)}"
    exclusions = [c for c in answer.split(",") if c.startswith("!=")]
    assert set(exclusions) <= set((declared or "").split(","))  # with nothing broken, only declared ones
    assert all(admits(answer, v) for v in versions)
