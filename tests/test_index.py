"""Listing versions: --find-links directories, a file:// PEP 503 index, a loopback PEP 691 server."""

from __future__ import annotations

import base64
import json
import socket
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from packaging.version import Version

from contract_check.errors import EnvironmentProblem
from contract_check.sources import index
from contract_check.sources.index import IndexSettings, Release

CORE = "market-data-core"
NO_UV = "/nonexistent/uv-must-not-be-asked"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def versions(found: list[Release]) -> list[tuple[str, bool]]:
    return [(str(r.version), r.yanked) for r in found]


def rel(*versions: str, yanked: tuple[str, ...] = ()) -> list[Release]:
    return [Release(Version(v), v in yanked) for v in versions]


# ----------------------------------------------------------------------------------------- find-links


def test_find_links_directory(tmp_path: Path) -> None:
    for name in [
        "market_data_core-1.4.55-py3-none-any.whl",
        "market_data_core-1.4.55.tar.gz",
        "market_data_core-1.4.61-py3-none-any.whl",
        "market-data-core-1.2.0.tar.gz",
        "Market.Data_Core-1.3.0.zip",
        "market_data_core-1.5.0rc1-py3-none-any.whl",
        "market_data_core-1.4.9-1-py3-none-any.whl",  # build tag
        "market_data_store-0.6.73-py3-none-any.whl",  # another project
        "market_data_core_extra-9.0.0.tar.gz",  # a project whose name only starts alike
        "market_data_core-not.a.version-py3-none-any.whl",
        "market_data_core-1.9.0.tar.bz2",  # not an sdist format
        "market_data_core-2.0.0.egg",
        "README.txt",
        "index.html",
    ]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "market_data_core-3.0.0-py3-none-any.whl.d").mkdir()
    found = index.releases(CORE, IndexSettings(find_links=(str(tmp_path),), offline=True), uv=NO_UV)
    assert versions(found) == [
        ("1.2.0", False),
        ("1.3.0", False),
        ("1.4.9", False),
        ("1.4.55", False),
        ("1.4.61", False),
        ("1.5.0rc1", False),
    ]


def test_find_links_as_file_uri_and_missing_directory(tmp_path: Path) -> None:
    (tmp_path / "market_data_core-1.4.55-py3-none-any.whl").write_bytes(b"")
    settings = IndexSettings(find_links=(tmp_path.as_uri(), str(tmp_path / "nope")), offline=True)
    assert versions(index.releases(CORE, settings, uv=NO_UV)) == [("1.4.55", False)]


def test_find_links_html_page(tmp_path: Path) -> None:
    page = tmp_path / "links.html"
    page.write_text(
        '<html><a href="https://files.example.invalid/market_data_core-1.4.40-py3-none-any.whl#sha256=00">x</a>'
        '<a href="sub/market_data_core-1.4.41.tar.gz">y</a><a href="other-1.0.tar.gz">z</a></html>'
    )
    settings = IndexSettings(find_links=(page.as_uri(),), offline=True)
    assert versions(index.releases(CORE, settings, uv=NO_UV)) == [("1.4.40", False), ("1.4.41", False)]


# --------------------------------------------------------------------------------- file:// PEP 503 index

SIMPLE_HTML = """<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.0"></head><body>
<h1>Links for market-data-core</h1>
<a href="../../files/market_data_core-1.4.55-py3-none-any.whl#sha256=aa">market_data_core-1.4.55...whl</a>
<a href="../../files/market_data_core-1.4.55.tar.gz#sha256=bb">market_data_core-1.4.55.tar.gz</a>
<a href="../../files/market_data_core-1.4.56-py3-none-any.whl" data-yanked="">market_data_core-1.4.56.whl</a>
<a href="../../files/market_data_core-1.4.56.tar.gz" data-yanked="broke the wire format">sdist</a>
<a href="../../files/market_data_core-1.4.57-py3-none-any.whl" data-yanked>yanked wheel</a>
<a href="../../files/market_data_core-1.4.57.tar.gz">but the sdist is not</a>
<a href="../../files/%6Darket_data_core-1.4.58.zip" data-requires-python="&gt;=3.11">zip</a>
<a href="../../files/market_data_core-1.5.0rc1.tar.gz">rc</a>
<a href="../../files/market_data_core_extra-9.0.tar.gz">unrelated</a>
<a>no href</a>
</body></html>
"""


@pytest.fixture
def file_index(tmp_path: Path) -> str:
    project = tmp_path / "simple" / CORE
    project.mkdir(parents=True)
    (project / "index.html").write_text(SIMPLE_HTML)
    return (tmp_path / "simple").as_uri()


def test_file_index_with_yanked_anchors(file_index: str) -> None:
    found = index.releases(CORE, IndexSettings(index_url=file_index), uv=NO_UV)
    assert versions(found) == [
        ("1.4.55", False),
        ("1.4.56", True),  # every file yanked
        ("1.4.57", False),  # one file still available
        ("1.4.58", False),
        ("1.5.0rc1", False),
    ]
    assert index.newest(found) == Version("1.4.58")


def test_file_index_project_names_are_canonicalised(file_index: str) -> None:
    found = index.releases("Market_Data.Core", IndexSettings(index_url=file_index + "/"), uv=NO_UV)
    assert len(found) == 5


def test_file_index_without_the_project_is_empty(file_index: str) -> None:
    assert index.releases("market-data-store", IndexSettings(index_url=file_index), uv=NO_UV) == []


def test_offline_does_not_ask_the_index(file_index: str) -> None:
    assert index.releases(CORE, IndexSettings(index_url=file_index, offline=True), uv=NO_UV) == []


def test_find_links_and_index_are_merged(file_index: str, tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    (links / "market_data_core-1.4.56-py3-none-any.whl").write_bytes(b"")  # yanked upstream, here locally
    (links / "market_data_core-1.4.54-py3-none-any.whl").write_bytes(b"")
    found = index.releases(CORE, IndexSettings(index_url=file_index, find_links=(str(links),)), uv=NO_UV)
    assert versions(found)[:3] == [("1.4.54", False), ("1.4.55", False), ("1.4.56", False)]


@pytest.mark.slow
def test_default_index_comes_from_uv(file_index: str, tmp_path: Path) -> None:
    fake_uv = tmp_path / "fake-uv"
    fake_uv.write_text(f"#!/bin/sh\necho '  --default-index  The default (by default: <{file_index}>)'\n")
    fake_uv.chmod(fake_uv.stat().st_mode | stat.S_IXUSR)
    index.default_index_url.cache_clear()
    try:
        assert index.default_index_url(str(fake_uv)) == file_index
        found = index.releases(CORE, IndexSettings(), uv=str(fake_uv))
    finally:
        index.default_index_url.cache_clear()
    assert len(found) == 5


@pytest.mark.slow
def test_default_index_that_uv_does_not_report(tmp_path: Path) -> None:
    fake_uv = tmp_path / "quiet-uv"
    fake_uv.write_text("#!/bin/sh\necho 'usage: uv pip install'\n")
    fake_uv.chmod(fake_uv.stat().st_mode | stat.S_IXUSR)
    index.default_index_url.cache_clear()
    try:
        with pytest.raises(EnvironmentProblem, match="could not tell which package index") as info:
            index.default_index_url(str(fake_uv))
    finally:
        index.default_index_url.cache_clear()
    assert (info.value.kind, info.value.tip) == ("uv", "name one with --index-url")


@pytest.mark.slow
def test_default_index_of_the_real_uv() -> None:
    from uv import find_uv_bin

    index.default_index_url.cache_clear()
    try:
        url = index.default_index_url(find_uv_bin())
    finally:
        index.default_index_url.cache_clear()
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme in ("http", "https")
    assert parts.netloc
    assert "<" not in url and ">" not in url


# ----------------------------------------------------------------------------- loopback PEP 691 server


@dataclass
class Seen:
    path: str
    accept: str
    authorization: str | None


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)


def _json_page() -> bytes:
    files = [
        {"filename": "market_data_core-1.4.60-py3-none-any.whl", "url": "f/1", "hashes": {}},
        {"filename": "market_data_core-1.4.61-py3-none-any.whl", "url": "f/2", "hashes": {}, "yanked": False},
        {
            "filename": "market_data_core-1.4.62-py3-none-any.whl",
            "url": "f/3",
            "hashes": {},
            "yanked": "oops",
        },
        {"filename": "market_data_core-1.4.62.tar.gz", "url": "f/4", "hashes": {}, "yanked": True},
        {"filename": "market_data_core-1.5.0rc1-py3-none-any.whl", "url": "f/5", "hashes": {}},
        {"filename": "market_data_core-1.4.63.tar.gz", "url": "f/6", "hashes": {}, "yanked": "bad"},
        {"filename": "market_data_core-1.4.63-py3-none-any.whl", "url": "f/7", "hashes": {}},
        {"filename": "something_else-1.0.tar.gz", "url": "f/8", "hashes": {}},
    ]
    return json.dumps({"meta": {"api-version": "1.1"}, "name": CORE, "files": files}).encode()


Routes = dict[str, tuple[int, str, bytes, dict[str, str]]]


def _serve(seen: list[Seen], routes: Routes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(Seen(self.path, self.headers.get("Accept", ""), self.headers.get("Authorization")))
            code, content_type, body, extra = routes.get(self.path, (404, "text/plain", b"not found", {}))
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return httpd


@pytest.fixture(scope="module")
def other_server() -> Iterator[Server]:
    seen: list[Seen] = []
    routes: Routes = {f"/simple/{CORE}/": (200, JSON_TYPE, _json_page(), {})}
    httpd = _serve(seen, routes)
    yield Server(f"http://127.0.0.1:{httpd.server_port}/simple", seen)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server(other_server: Server) -> Iterator[Server]:
    seen: list[Seen] = []
    routes: Routes = {
        f"/simple/{CORE}/": (200, f"{JSON_TYPE}; charset=utf-8", _json_page(), {}),
        "/simple/broken/": (500, "text/plain", b"internal error", {}),
        "/simple/private/": (401, "text/plain", b"who are you", {}),
        "/simple/not-json/": (200, JSON_TYPE, b"<html>this is no json</html>", {}),
        "/simple/html-only/": (
            200,
            "text/html",
            b'<a href="/f/html_only-0.1.0.tar.gz">a</a><a href="/f/html_only-0.2.0.tar.gz" data-yanked="">b</a>',
            {},
        ),
        "/moved/simple/market-data-core/": (302, "text/plain", b"", {"Location": f"/simple/{CORE}/"}),
        "/away/simple/market-data-core/": (
            302,
            "text/plain",
            b"",
            {"Location": f"{other_server.url}/{CORE}/"},
        ),
    }
    httpd = _serve(seen, routes)
    yield Server(f"http://127.0.0.1:{httpd.server_port}/simple", seen)
    httpd.shutdown()
    httpd.server_close()


def with_credentials(url: str, userinfo: str = "ci-user:s3cr%2Ft") -> str:
    return url.replace("http://", f"http://{userinfo}@")


def test_pep691_json_with_yanked_files(server: Server) -> None:
    server.seen.clear()
    found = index.releases(CORE, IndexSettings(index_url=server.url), uv=NO_UV)
    assert versions(found) == [
        ("1.4.60", False),
        ("1.4.61", False),
        ("1.4.62", True),
        ("1.4.63", False),
        ("1.5.0rc1", False),
    ]
    assert index.newest(found) == Version("1.4.63")
    [request] = server.seen
    assert request.path == f"/simple/{CORE}/"
    assert request.accept.startswith(JSON_TYPE)
    assert "text/html" in request.accept  # PEP 503 fallback is acceptable too
    assert request.authorization is None


def test_html_answer_from_a_server(server: Server) -> None:
    found = index.releases("html_only", IndexSettings(index_url=server.url + "/"), uv=NO_UV)
    assert versions(found) == [("0.1.0", False), ("0.2.0", True)]


def test_unknown_project_is_empty(server: Server) -> None:
    assert index.releases("no-such-project", IndexSettings(index_url=server.url), uv=NO_UV) == []


def test_server_error_is_a_network_problem(server: Server) -> None:
    with pytest.raises(EnvironmentProblem) as info:
        index.releases("broken", IndexSettings(index_url=server.url), uv=NO_UV)
    err = info.value
    assert (err.kind, err.exit_code) == ("network", 3)
    assert err.message == f"the package index answered 500 for {server.url}/broken/"
    assert err.tip == "check --index-url and its credentials"


def test_a_page_that_is_not_json_is_a_network_problem(server: Server) -> None:
    with pytest.raises(EnvironmentProblem, match="not a PEP 691 project page") as info:
        index.releases("not-json", IndexSettings(index_url=with_credentials(server.url)), uv=NO_UV)
    assert info.value.kind == "network"
    assert "s3cr" not in info.value.message


def test_credentials_become_basic_auth(server: Server) -> None:
    server.seen.clear()
    found = index.releases(CORE, IndexSettings(index_url=with_credentials(server.url)), uv=NO_UV)
    assert len(found) == 5
    [request] = server.seen
    assert request.path == f"/simple/{CORE}/"  # no credentials in the request line
    assert request.authorization == "Basic " + base64.b64encode(b"ci-user:s3cr/t").decode()


def test_token_only_credentials(server: Server) -> None:
    server.seen.clear()
    index.releases(CORE, IndexSettings(index_url=with_credentials(server.url, "tok3n")), uv=NO_UV)
    assert server.seen[0].authorization == "Basic " + base64.b64encode(b"tok3n:").decode()


@pytest.mark.parametrize("project", ["broken", "private"])
def test_credentials_never_appear_in_errors(server: Server, project: str) -> None:
    with pytest.raises(EnvironmentProblem) as info:
        index.releases(project, IndexSettings(index_url=with_credentials(server.url)), uv=NO_UV)
    text = f"{info.value.message} {info.value.tip} {info.value}"
    assert "s3cr" not in text and "ci-user" not in text
    assert f"http://***@127.0.0.1:{urllib.parse.urlsplit(server.url).port}/simple/{project}/" in text


def test_unreachable_index_is_a_network_problem_without_credentials() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://ci-user:s3cr3t@127.0.0.1:{port}/simple"
    with pytest.raises(EnvironmentProblem, match=r"could not reach the package index http://\*\*\*@127") as info:
        index.releases(CORE, IndexSettings(index_url=url), uv=NO_UV, timeout=5)
    assert info.value.kind == "network"
    assert "s3cr3t" not in info.value.message and "ci-user" not in info.value.message


def test_same_host_redirect_keeps_credentials(server: Server) -> None:
    server.seen.clear()
    moved = with_credentials(server.url.replace("/simple", "/moved/simple"))
    assert len(index.releases(CORE, IndexSettings(index_url=moved), uv=NO_UV)) == 5
    assert [s.path for s in server.seen] == [f"/moved/simple/{CORE}/", f"/simple/{CORE}/"]
    assert all(s.authorization for s in server.seen)


def test_redirect_to_another_host_drops_credentials(server: Server, other_server: Server) -> None:
    server.seen.clear()
    other_server.seen.clear()
    away = with_credentials(server.url.replace("/simple", "/away/simple"))
    assert len(index.releases(CORE, IndexSettings(index_url=away), uv=NO_UV)) == 5
    assert server.seen[0].authorization is not None
    assert [s.authorization for s in other_server.seen] == [None]


def test_ipv6_host_keeps_its_brackets() -> None:
    clean, headers = index._split_credentials("http://u:t@[::1]:8080/simple/")
    assert clean == "http://[::1]:8080/simple/"
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"u:t").decode()}
    assert index._split_credentials("http://[::1]:8080/simple/") == ("http://[::1]:8080/simple/", {})


# ------------------------------------------------------------------------------------- newest, nearest


def test_newest() -> None:
    found = rel("1.4.60", "1.4.61", "1.4.62", "1.5.0rc1", yanked=("1.4.62",))
    assert index.newest(found) == Version("1.4.61")
    assert index.newest(found, pre=True) == Version("1.5.0rc1")
    assert index.newest([]) is None
    assert index.newest(rel("1.0.0", yanked=("1.0.0",))) is None
    assert index.newest(rel("2.0.0b1")) is None


def test_nearest() -> None:
    found = rel("1.0", "1.1", "1.2", "1.3", "1.5", "1.6", "1.7", "1.8", yanked=("1.6",))
    assert index.nearest(found, Version("1.4")) == [Version(v) for v in ("1.2", "1.3", "1.5", "1.7")]
    assert index.nearest(found, Version("0.1")) == [Version(v) for v in ("1.0", "1.1")]
    assert index.nearest(found, Version("9.0")) == [Version(v) for v in ("1.7", "1.8")]
    assert index.nearest(found, Version("1.4"), count=2) == [Version("1.3"), Version("1.5")]
    assert index.nearest([], Version("1.0")) == []


# --------------------------------------------------------------------------------------- IndexSettings


def test_uv_args() -> None:
    assert IndexSettings().uv_args() == []
    settings = IndexSettings("https://mirror.example.invalid/simple", ("/w", "https://example.invalid/l/"), True)
    assert settings.uv_args() == [
        "--default-index",
        "https://mirror.example.invalid/simple",
        "--find-links",
        "/w",
        "--find-links",
        "https://example.invalid/l/",
        "--offline",
    ]
