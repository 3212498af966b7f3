"""Shared fixtures: real site folders on disk, built with the real pipeline."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from eesite.cli import main

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools" / "node_modules"  # npm tools installed by `make tools`
ARTIFACTS = ROOT / "test-artifacts"  # screenshots for a person to look at (git-ignored)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

SETTINGS = """\
[project]
name = "test-site"

[tool.eesite]
title = "Test Draws"
base_url = "https://example.org"
"""


@pytest.fixture(autouse=True, scope="session")
def _a_signing_key_of_the_run(tmp_path_factory) -> Iterator[None]:
    """The run signs its sites' caches with a key of its own (cache.signing_key), in a folder
    of its own, not the one in the user's ~/.cache/eesite (serve's subprocesses inherit it)."""
    from eesite import cache

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        cache._KEY.clear()
        yield
    cache._KEY.clear()


def draw_text(round_id: str = "254", *, crs: object = 486, invitations: object = 500,
              category: str = "stem", draw_date: str = "2023-07-05", extra: str = "",
              body: str = "Editor's prose.") -> str:
    """A valid draw post; `crs_cutoff` is on line 7, as in the issue's example."""
    return textwrap.dedent(f"""\
        ---
        title: "Draw #{round_id}"
        date: {draw_date}T14:00:00+00:00
        round: "{round_id}"
        draw_date: {draw_date}
        draw_name: "STEM occupations (Version 1)"
        crs_cutoff: {crs}
        category: {category}
        programs: "Federal Skilled Worker Program"
        invitations: {invitations}
        """) + extra + "---\n" + body + "\n"


def post_text(title: str = "Hello", *, date: str = "2026-01-02T09:00:00-05:00",
              extra: str = "", body: str = "Some *text*.") -> str:
    return f'---\ntitle: "{title}"\ndate: {date}\n{extra}---\n{body}\n'


class SiteDir:
    """A site root in a temporary folder: project templates, settings and given content."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copytree(ROOT / "templates", root / "templates")
        (root / "pyproject.toml").write_text(SETTINGS, encoding="utf-8")
        (root / "content" / "draws").mkdir(parents=True)
        (root / "content" / "posts").mkdir(parents=True)

    @property
    def output(self) -> Path:
        return self.root / "output"

    def write(self, rel: str, text: str | bytes) -> Path:
        """Save a file as an editor does, atomically: a watcher never sees it half-written
        (`write_text` empties the file first, and a test thread descheduled for longer than
        the watcher's quiet time let a rebuild read an empty post)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")  # (the watcher ignores *.tmp)
        tmp.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        os.replace(tmp, path)
        return path

    def run(self, *args: str) -> int:
        return main([*args, "--source", str(self.root)])

    def page(self, rel: str) -> str:
        return (self.output / rel).read_text(encoding="utf-8")


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and mtime, to prove nothing changed."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def by_process(log: Path, func):
    """`func`, noting the id of each process that calls it in `log` (forked workers too)."""

    def noted(*args, **kwargs):
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return func(*args, **kwargs)

    return noted


CHROMIUM = Path("/usr/bin/chromium")  # Debian's (make browser); playwright cannot download one
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, driven by playwright (one per test module)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (make browser)")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path) -> SiteDir:
    return SiteDir(tmp_path / "site")


class _Handler(SimpleHTTPRequestHandler):
    """Static files, quietly. The `LinkChecker` header lets linkchecker go faster than its
    default 10 requests a second (it asks servers to opt in)."""

    def end_headers(self) -> None:
        self.send_header("LinkChecker", "allow")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` on a free port of 127.0.0.1 with the stdlib; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Served:
    """A built site on disk and the address of a real HTTP server serving it."""

    output: Path
    base: str  # "http://127.0.0.1:PORT", no trailing slash


@pytest.fixture(scope="session")
def bundled_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The bundled site, built once per test session and served on 127.0.0.1.

    The heavy gates (HTML validity, accessibility, layout, links, sitemap) all read this one
    build. It is built with the server's address as base_url, so canonical links and sitemap
    URLs point at the server and the link checker follows them too.
    """
    output = tmp_path_factory.mktemp("bundled") / "output"
    with serve(output) as base:
        assert main(["build", "--source", str(ROOT), "--output", str(output),
                     "--base-url", base]) == 0
        yield Served(output, base)


def tool(rel: str) -> Path:
    """A file of an npm tool under .tools/, or a failure telling how to install it."""
    path = TOOLS / rel
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make tools` (or `make test`, which runs it)")
    return path
