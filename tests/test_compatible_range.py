"""The range answer: the suggested specifier admits exactly the compatible versions that were checked."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from contract_check.compatible_range import Inexpressible, sorted_versions, suggest_specifier


def vs(*texts: str) -> list[Version]:
    return [Version(t) for t in texts]


def admits(spec: str, version: Version) -> bool:
    return SpecifierSet(spec).contains(version, prereleases=True)


# ----------------------------------------------------------------------------------------------------------
# hand-written examples
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compatible", "broken", "declared", "expected"),
    [
        # all pass: lowest compatible, declared upper bound kept
        (vs("1.4.55", "1.4.56", "1.4.61"), [], ">=1.4.54,<2.0.0", ">=1.4.55,<2.0.0"),
        # one broken in the middle
        (vs("1.4.55", "1.4.56", "1.4.58"), vs("1.4.57"), ">=1.4.54,<2.0.0", ">=1.4.55,!=1.4.57,<2.0.0"),
        # several broken in the middle: ascending
        (vs("1.0", "1.3", "1.6"), vs("1.4", "1.2", "1.5"), None, ">=1.0,!=1.2,!=1.4,!=1.5"),
        # the lowest ones broken: the lower bound moves up, no != needed below it
        (vs("1.4.57", "1.4.58"), vs("1.4.55", "1.4.56"), ">=1.4.54,<2.0.0", ">=1.4.57,<2.0.0"),
        # the newest ones broken: excluded one by one, the declared upper bound kept
        (vs("1.4.55", "1.4.56"), vs("1.4.57", "1.4.60"), ">=1.4.54,<2.0.0", ">=1.4.55,!=1.4.57,!=1.4.60,<2.0.0"),
        # no declared specifier, all pass
        (vs("1.2.0", "1.4.61"), [], None, ">=1.2.0"),
        (vs("1.2.0"), [], "", ">=1.2.0"),
        # broken versions the declared upper bound already shuts out need nothing
        (vs("1.4.55"), vs("2.0.0", "2.1.0"), ">=1.4,<2.0.0", ">=1.4.55,<2.0.0"),
        # a declared upper bound that rejects a compatible version is dropped
        (vs("1.4.55", "2.0.0"), vs("1.4.56"), ">=1.4,<2.0.0", ">=1.4.55,!=1.4.56"),
        (vs("1.4.55", "2.0.0rc1"), [], ">=1.4,<2.0.0", ">=1.4.55"),  # <2.0.0 rejects 2.0.0rc1
        # <= kept as written; ~= and ==X.* give their upper half
        (vs("1.4.55"), [], "<=1.4.60", ">=1.4.55,<=1.4.60"),
        (vs("1.4.55", "1.4.61"), [], "~=1.4.54", ">=1.4.55,<1.5"),
        (vs("1.4.55", "1.4.61"), [], "~=1.4", ">=1.4.55,<2"),
        (vs("1.4.55"), [], "==1.4.*", ">=1.4.55,<1.5"),
        (vs("1!1.4.55"), [], "~=1!1.4.0", ">=1!1.4.55,<1!1.5"),
        # declared != kept when it excludes an unchecked version inside the range, dropped when compatible
        (vs("1.4.55", "1.4.57"), [], ">=1.4,!=1.4.56,!=1.4.57,!=1.3.0,<2", ">=1.4.55,!=1.4.56,<2"),
        (vs("1.4.55", "1.4.57"), [], ">=1.4,!=1.4.56.*,!=1.4.5.*,!=1.3.*", ">=1.4.55,!=1.4.56.*"),
        # pre, post and dev releases
        (vs("1.4.57.post1", "1.4.58"), vs("1.4.57"), None, ">=1.4.57.post1"),
        (vs("1.4.56", "1.4.57.post1"), vs("1.4.57"), None, ">=1.4.56,!=1.4.57"),
        (vs("1.4.56", "1.4.57"), vs("1.4.57rc1", "1.4.57.dev0"), None, ">=1.4.56,!=1.4.57.dev0,!=1.4.57rc1"),
        (vs("1.4.57rc1", "1.4.57"), vs("1.4.57a1"), None, ">=1.4.57rc1"),
        (vs("1.4.56", "1.4.57"), vs("1.4.57.post1"), None, ">=1.4.56,!=1.4.57.post1"),
        # the newest broken is a pre-release, or a post-release of a dev release
        (vs("1.9"), vs("2.0rc1", "2.0"), "<3", ">=1.9,!=2.0rc1,!=2.0,<3"),
        (vs("1.9", "2.0a1"), vs("2.0rc1"), "<3", ">=1.9,!=2.0rc1,<3"),
        (vs("2.0"), vs("2.0.post1.dev1"), None, ">=2.0,!=2.0.post1.dev1"),
        # local versions: a broken X+abc is excluded on its own
        (vs("1.0", "1.1"), vs("1.0+abc"), None, ">=1.0,!=1.0+abc"),
        (vs("1.0+abc", "1.1"), vs("1.0+abd"), None, ">=1.0,!=1.0+abd"),
        (vs("1.0+abc"), vs("1.0"), None, "==1.0+abc"),  # the one compatible version, alone
    ],
)
def test_suggest_specifier_examples(
    compatible: list[Version], broken: list[Version], declared: str | None, expected: str
) -> None:
    answer = suggest_specifier(compatible, broken, declared)
    assert answer == expected
    assert all(admits(answer, v) for v in compatible)
    assert not any(admits(answer, v) for v in broken)


def test_nothing_compatible_is_none() -> None:
    assert suggest_specifier([], vs("1.0", "1.1"), ">=1.0,<2") is None
    assert suggest_specifier([], [], None) is None


def test_the_clause_order_is_not_specifierset_order() -> None:
    answer = suggest_specifier(vs("1.4.55", "1.4.58"), vs("1.4.57"), ">=1.4.54,<2.0.0")
    assert answer == ">=1.4.55,!=1.4.57,<2.0.0"
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
    with pytest.raises(Inexpressible, match=r"compatible 1\.0\+abc and broken 1\.0 differ only by the local label"):
        suggest_specifier(vs("1.0+abc", "1.1"), vs("1.0"), None)


def test_duplicates_and_order_of_input_do_not_matter() -> None:
    a = suggest_specifier(vs("1.5", "1.0", "1.0.0", "1.3"), vs("1.4", "1.2", "1.2"), "<2")
    b = suggest_specifier(vs("1.0", "1.3", "1.5"), vs("1.2", "1.4"), "<2")
    assert a == b == ">=1.0,!=1.2,!=1.4,<2"


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


def _expressible(good: set[Version], bad: set[Version]) -> bool:
    """The documented limits: no version in both sets; a compatible X+local beside a broken X only alone."""
    if good & bad:
        return False
    clash = any(v.local is not None and Version(v.public) in bad for v in good)
    return not clash or len(good) == 1


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_version, st.booleans()), max_size=14),
    _declared,
)
@example([(Version("1.0+abc"), True), (Version("1.0"), False), (Version("1.1"), True)], None)
@example([(Version("2.0a1"), True), (Version("2.0rc1"), False), (Version("2.0"), False)], "<3")
def test_property_answer_admits_exactly_the_compatible_versions(
    checked: list[tuple[Version, bool]], declared: str | None
) -> None:
    seen: dict[Version, bool] = {}
    for version, passed in checked:
        seen.setdefault(version, passed)  # one verdict per version, like one row per checked version
    good = {v for v, passed in seen.items() if passed}
    bad = {v for v, passed in seen.items() if not passed}
    if not good:
        assert suggest_specifier(good, bad, declared) is None
        return
    if not _expressible(good, bad):
        with pytest.raises(Inexpressible):
            suggest_specifier(good, bad, declared)
        return
    answer = suggest_specifier(good, bad, declared)
    assert answer is not None
    spec = SpecifierSet(answer)
    assert {v for v in good if not spec.contains(v, prereleases=True)} == set()
    assert {v for v in bad if spec.contains(v, prereleases=True)} == set()
    if not answer.startswith("=="):
        assert answer.startswith(f">={min(good).public}")  # the lower bound is the lowest compatible


@settings(max_examples=100, deadline=None)
@given(st.lists(_version, min_size=1, max_size=10), _declared)
def test_property_all_compatible_is_lowest_and_the_admitting_declared_uppers(
    versions: list[Version], declared: str | None
) -> None:
    answer = suggest_specifier(versions, [], declared)
    assert answer is not None
    assert answer.startswith(f">={min(versions).public}")
    exclusions = [c for c in answer.split(",") if c.startswith("!=")]
    assert set(exclusions) <= set((declared or "").split(","))  # with nothing broken, only declared ones
    assert all(admits(answer, v) for v in versions)
