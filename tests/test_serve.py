"""`eesite serve` with real watchdog events and real HTTP on 127.0.0.1."""

from __future__ import annotations

import errno
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from eesite.build import Options
from eesite.serve import EVENTS, Refused, bind, resolve, wanted
from eesite.watch import Live, is_noise
from tests.conftest import NOW, draw_text, post_text
from tests.test_delta import age
from tests.test_incremental import clean_build, small_site, tree


def disk_full(*args, **kwargs):
    """Stands in for a write when the disk is full (ENOSPC cannot be had for real here)."""
    raise OSError(errno.ENOSPC, "No space left on device")


def wait_until(check, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


class Served:
    """A site being served in this process, as `eesite serve` does."""

    def __init__(self, site, live: type[Live] = Live):
        self.site = site
        self.said: list[str] = []
        options = Options(site.root, site.output, now=NOW)
        self.live = live(options, say=self.said.append)
        self.server = bind("127.0.0.1", free_port(), self.live, site.output, self.said.append)
        self.port = self.server.server_address[1]
        self.live.rebuild()
        self.live.start()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def get(self, path: str, timeout: float = 60) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def shows(self, path: str, text: str) -> bool:
        return text in self.get(path)[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.live.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(site):
    site.write("content/draws/0001-2023-07-01-stem.md", draw_text("1", crs=490, draw_date="2023-07-01"))
    site.write("content/draws/0002-2023-07-02-stem.md", draw_text("2", crs=480, draw_date="2023-07-02"))
    site.write("content/posts/hello.md", post_text("Hello"))
    server = Served(site)
    yield server
    server.close()


def reload_event(served: Served, since: int, file: str | None = None, wait: float = 30,
                 run: str | None = None) -> str:
    """What /__eesite/events sends within `wait` seconds to a page that was served at
    generation `since` of the server's `run` (default: this one) and shows `file` (None: a
    page that reloads on any rebuild)."""
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=wait)
    conn.request("GET", f"{EVENTS}?run={run or served.live.run}&since={since}"
                 + (f"&file={file}" if file else ""))
    response = conn.getresponse()
    text, end = "", time.monotonic() + wait  # (pings every 10 s keep the socket busy)
    try:
        while "event: reload" not in text and time.monotonic() < end:
            line = response.fp.readline().decode()
            if not line:
                break
            text += line
    except TimeoutError:
        pass
    conn.close()
    return text


def served_at(page: str) -> tuple[int, str | None]:
    """The generation and file a served page's reload script names."""
    found = re.search(r'since=(\d+)(?:&file=([^"]+))?"', page)
    return int(found[1]), found[2]


def test_edit_create_rename_delete_a_post_and_listings_follow(served, site, tmp_path):
    status, page = served.get("/posts/hello/")
    assert status == 200 and "Hello" in page
    assert "EventSource" in page and "EventSource" not in site.page("posts/hello/index.html")
    gen = served.live.generation
    site.write("content/posts/hello.md", post_text("Hello, edited", body="Fresh words."))
    wait_until(lambda: served.shows("/posts/hello/", "Fresh words."))
    assert "event: reload" in reload_event(served, gen)
    assert served.shows("/", "Hello, edited")

    site.write("content/posts/new.md", post_text("Brand new", date="2026-03-01T09:00:00-05:00"))
    wait_until(lambda: served.shows("/", "Brand new"))
    assert served.get("/posts/new/")[0] == 200

    os.rename(site.root / "content/posts/new.md", site.root / "content/posts/renamed.md")
    wait_until(lambda: served.get("/posts/new/")[0] == 404)
    assert served.get("/posts/renamed/")[0] == 200
    assert "/posts/new/" not in served.get("/sitemap.xml")[1]

    (site.root / "content/draws/0002-2023-07-02-stem.md").unlink()
    wait_until(lambda: served.get("/draws/2/")[0] == 404)
    assert "/draws/2/" not in served.get("/draws/")[1]
    assert '"round": "2"' not in served.get("/draws.json")[1]
    served.live.wait_idle()
    built, clean = tree(site.output), clean_build(site, tmp_path)
    assert {k: v for k, v in built.items() if "manifest" not in k} == \
        {k: v for k, v in clean.items() if "manifest" not in k}


def test_template_edit_reloads_pages_that_use_it(served, site):
    gen = served.live.generation
    template = site.root / "templates/post.html"
    template.write_text(template.read_text().replace("</article>", "<p>Template edit.</p></article>"))
    wait_until(lambda: served.shows("/posts/hello/", "Template edit."))
    assert "event: reload" in reload_event(served, gen)
    assert "Template edit." not in served.get("/draws/1/")[1]


def test_broken_post_shows_overlay_keeps_last_good_page_then_recovers(served, site):
    good = site.root / "content/draws/0001-2023-07-01-stem.md"
    site.write("content/draws/0001-2023-07-01-stem.md", draw_text("1", crs='"48six"',
                                                                   draw_date="2023-07-01"))
    wait_until(lambda: served.shows("/draws/2/", "eesite-error"))
    status, page = served.get("/draws/1/")
    assert status == 200 and "Round 1" in page  # the last good page
    assert "content/draws/0001-2023-07-01-stem.md:7: crs_cutoff: expected an integer" in page
    assert sum("crs_cutoff" in line for line in served.said) == 1  # said once
    good.write_text(draw_text("1", crs=499, draw_date="2023-07-01"))
    wait_until(lambda: "eesite-error" not in served.get("/draws/1/")[1])
    assert "<dd>499</dd>" in served.get("/draws/1/")[1]
    assert any("fixed" in line for line in served.said)


def test_broken_template_overlay_names_the_template(served, site):
    site.write("templates/post.html", "{% extends 'base.html' %}{% block content %}{% if %}")
    wait_until(lambda: served.shows("/posts/hello/", "templates/post.html:1: template syntax"))


def test_a_hundred_broken_saves_in_a_row_and_the_server_is_still_up(served, site):
    path = site.root / "content/posts/hello.md"
    for n in range(100):
        path.write_text(f"---\ntitle: [unclosed {n}\n---\n")
        if n % 10 == 0:
            time.sleep(0.1)  # let some of them build
    wait_until(lambda: served.shows("/posts/hello/", "front matter is not valid YAML"))
    assert served.get("/")[0] == 200
    path.write_text(post_text("Healed"))
    wait_until(lambda: served.shows("/posts/hello/", "Healed") and
               "eesite-error" not in served.get("/posts/hello/")[1])


def test_editor_save_patterns_and_folders(served, site):
    posts = site.root / "content/posts"
    # Vim: probe file 4913, swap file, backup by rename, then the new file.
    (posts / "4913").write_text("x")
    (posts / "4913").unlink()
    (posts / ".hello.md.swp").write_bytes(b"\0binary swap")
    os.rename(posts / "hello.md", posts / "hello.md~")
    (posts / "hello.md").write_text(post_text("Vim saved"))
    (posts / ".#hello.md").write_text("emacs lock")
    # An atomic save: write a temporary file, rename it over the post.
    (posts / "other.md.tmp").write_text(post_text("Other"))
    os.replace(posts / "other.md.tmp", posts / "other.md")
    wait_until(lambda: served.shows("/posts/other/", "Other") and served.shows("/posts/hello/",
                                                                                "Vim saved"))
    assert "eesite-error" not in served.get("/posts/hello/")[1]
    # A folder with a post appears, moves, and goes away.
    (posts / "2026").mkdir()
    (posts / "2026/inner.md").write_text(post_text("Inner"))
    wait_until(lambda: served.get("/posts/inner/")[0] == 200)
    os.rename(posts / "2026", posts / "archive")
    (posts / "archive/inner.md").rename(posts / "archive/moved.md")
    wait_until(lambda: served.get("/posts/moved/")[0] == 200 and
               served.get("/posts/inner/")[0] == 404)
    for p in (posts / "archive").iterdir():
        p.unlink()
    (posts / "archive").rmdir()
    wait_until(lambda: served.get("/posts/moved/")[0] == 404)
    assert all(is_noise(n) for n in ("4913", ".x.md.swp", "x.md~", ".#x.md", "a.md.tmp"))
    assert not is_noise("hello.md")


def raw_status(port: int, target: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return int(s.makefile("rb").readline().split()[1])


def test_only_files_under_output_are_served(served, site, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, site.output / "leak.txt")
    os.symlink(tmp_path, site.output / "up")
    assert served.server.server_address[0] == "127.0.0.1"
    for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/etc/passwd",
                   "/posts/..%2f..%2fsecret.txt", "/leak.txt", "/up/secret.txt",
                   "/%00", "/..\\secret.txt", "http://example.org/../secret.txt", "/./index.html"):
        assert raw_status(served.port, target) == 403, target
    assert raw_status(served.port, "/%252e%252e/secret.txt") == 404  # decoded once only
    assert raw_status(served.port, "//etc/passwd") == 404  # means output/etc/passwd
    assert raw_status(served.port, "/.eesite-manifest") == 404
    assert raw_status(served.port, "/posts/hello/") == 200
    with pytest.raises(Refused):
        resolve(site.output, "/" + str(secret))  # an absolute path is just a path under output/
    assert resolve(site.output, "/" + str(secret).lstrip("/")) is None


def test_cli_serve_busy_port_and_ctrl_c(site):
    site.write("content/posts/hello.md", post_text("Hello"))
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    eesite = Path(sys.executable).with_name("eesite")
    proc = subprocess.Popen([str(eesite), "serve", "--source", str(site.root), "--port",
                             str(port)], stderr=subprocess.PIPE, text=True)
    used = port
    try:
        lines = []
        while not any("serving" in line for line in lines):
            line = proc.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        # the next free port: port + 1 is usually free, but a client connection can hold it
        used = int(re.search(r"at http://127\.0\.0\.1:(\d+)/", text).group(1))
        assert used > port and f"port {port} is busy; using port {used} instead" in text
        conn = http.client.HTTPConnection("127.0.0.1", used, timeout=30)
        conn.request("GET", "/posts/hello/")
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        busy.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "Traceback" not in err, err
    with socket.socket() as again:  # the port is released
        again.bind(("127.0.0.1", used))


def test_prose_edits_take_the_quick_path_and_equal_a_clean_build(site, tmp_path):
    small_site(site)
    age(site.root)  # saved a minute ago: the stamps of templates and settings are trusted
    served = Served(site)
    try:
        newest = "content/draws/0007-2023-07-07-stem.md"
        for n in range(3):  # prose only: the quick path (delta.py), feeds included
            site.write(newest, draw_text("7", crs=487, draw_date="2023-07-07",
                                         body=f"Prose edit number {n}."))
            wait_until(lambda n=n: served.shows("/draws/7/", f"Prose edit number {n}."))
            wait_until(lambda n=n: served.shows("/feed.xml", f"Prose edit number {n}."))
        assert served.live._session.readers is not None  # built by quick rebuilds only
        site.write(newest, draw_text("7", crs=399, draw_date="2023-07-07", body="Fixed."))
        wait_until(lambda: served.shows("/draws/", "<td class=\"num\">399</td>"))  # the full way
        assert served.live._session.readers is None
        served.live.wait_idle()
        assert tree(site.output) == clean_build(site, tmp_path)
    finally:
        served.close()


def test_output_files_deleted_by_hand_come_back_after_a_quick_rebuild(site, tmp_path):
    small_site(site)
    age(site.root)
    served = Served(site)
    try:
        (site.output / "feed.xml").unlink()
        (site.output / "draws/2/index.html").unlink()
        site.write("content/draws/0001-2023-07-01-stem.md",
                   draw_text("1", crs=481, draw_date="2023-07-01", body="Prose, edited."))
        wait_until(lambda: (site.output / "feed.xml").is_file()
                   and (site.output / "draws/2/index.html").is_file())
        wait_until(lambda: any("changed outside eesite" in line for line in served.said))
        served.live.wait_idle()
        assert tree(site.output) == clean_build(site, tmp_path)
    finally:
        served.close()


def test_a_full_rebuild_makes_again_a_kept_page_deleted_by_hand(site, tmp_path, monkeypatch):
    """serve trusts output/ (no stat of every file before the edited page is out), but a full
    rebuild still checks each page it keeps: one deleted by hand is made again and the new
    site swapped in (it was counted as kept, and the swap failed linking a missing file)."""
    from eesite import build as build_module

    monkeypatch.setattr(build_module, "IN_PLACE_LIMIT", 0)  # swapped in, as a large site is
    small_site(site)
    age(site.root)
    served = Served(site)
    try:
        (site.output / "posts/other/index.html").unlink()
        draw = (site.root / "templates/draw.html").read_text(encoding="utf-8")
        site.write("templates/draw.html", draw.replace(
            "{% block content %}", "{% block content %}<p>Template edited.</p>", 1))
        wait_until(lambda: served.shows("/draws/1/", "Template edited."))
        served.live.wait_idle()
        assert not any("failed" in line for line in served.said), served.said
        assert (site.output / "posts/other/index.html").is_file()
        assert tree(site.output) == clean_build(site, tmp_path)
    finally:
        served.close()


def test_only_the_tabs_whose_page_changed_reload(site):
    small_site(site)
    age(site.root)
    served = Served(site)
    try:
        since, file = served_at(served.get("/posts/hello/")[1])
        assert file == "posts/hello/index.html"
        assert served_at(served.get("/no/such/page/")[1]) == (since, None)  # 404: any rebuild
        site.write("content/posts/hello.md", post_text("Hello", extra="tags: [analysis]\n",
                                                       body="New words."))
        wait_until(lambda: served.shows("/posts/hello/", "New words."))
        served.live.wait_idle()
        assert "event: reload" in reload_event(served, since, "posts/hello/index.html")
        assert "event: reload" in reload_event(served, since)  # the 404 page's
        assert "event: reload" not in reload_event(served, since, "draws/1/index.html", wait=1.5)

        since = served.live.generation  # a style sheet: every page reloads
        style = site.root / "templates/static/style.css"
        style.write_text(style.read_text() + "\n/* edited */\n")
        wait_until(lambda: served.shows("/static/style.css", "/* edited */"))
        served.live.wait_idle()
        assert "event: reload" in reload_event(served, since, "draws/1/index.html")

        since = served.live.generation  # an error overlay comes: every page reloads
        site.write("content/draws/0001-2023-07-01-stem.md",
                   draw_text("1", crs='"48six"', draw_date="2023-07-01"))
        wait_until(lambda: served.shows("/draws/2/", "eesite-error"))
        assert "event: reload" in reload_event(served, since, "posts/other/index.html")
    finally:
        served.close()


class Held(Live):
    """`eesite serve`'s rebuild loop, stopped right after a rebuild wrote the edited post's
    page ahead of the rest, until the test lets it go on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ahead, self.go_on, self.written = threading.Event(), threading.Event(), {}

    def _ahead(self, written):
        super()._ahead(written)
        self.written = dict(written)
        self.ahead.set()
        self.go_on.wait(60)


def test_the_edited_post_page_is_served_before_the_rest_of_the_rebuild(site, tmp_path):
    small_site(site)
    age(site.root)
    served = Served(site, Held)
    live = served.live
    try:
        since, _ = served_at(served.get("/draws/1/")[1])
        site.write("content/draws/0001-2023-07-01-stem.md",  # a fact: the full rebuild
                   draw_text("1", crs=455, draw_date="2023-07-01"))
        assert live.ahead.wait(20)
        assert live.building and list(live.written) == ["draws/1/index.html"]
        status, page = served.get("/draws/1/", timeout=10)  # answered now: the rest waits
        assert status == 200 and "<dd>455</dd>" in page
        assert "event: reload" in reload_event(served, since, "draws/1/index.html")
        assert "event: reload" not in reload_event(served, since, "draws/2/index.html", wait=1)
        status, _ = served.get("/static/style.css", timeout=10)  # so that the page can paint
        assert status == 200
        listing: list = []
        waiting = threading.Thread(target=lambda: listing.append(served.get("/draws/")))
        waiting.start()
        waiting.join(1)
        assert waiting.is_alive() and not listing  # the archive is not rebuilt yet
        live.go_on.set()
        waiting.join(30)
        assert "<td class=\"num\">455</td>" in listing[0][1]
        assert "event: reload" in reload_event(served, since, "draws/2/index.html")  # round 1
        # the page served ahead was final: it does not reload again
        assert "event: reload" not in reload_event(served, *served_at(page), wait=1.5)
        live.wait_idle()
        assert tree(site.output) == clean_build(site, tmp_path)
    finally:
        live.go_on.set()
        served.close()


def test_a_page_written_ahead_is_put_back_when_the_rebuild_fails(site):
    small_site(site)
    age(site.root)
    served = Served(site, Held)
    live = served.live
    archive = site.root / "templates/archive.html"
    good = archive.read_text()
    try:
        site.write("content/draws/0001-2023-07-01-stem.md",
                   draw_text("1", crs=455, draw_date="2023-07-01"))
        assert live.ahead.wait(20)
        assert "<dd>455</dd>" in served.get("/draws/1/")[1]
        archive.write_text("{% extends 'base.html' %}{% block content %}{% if %}")
        live.go_on.set()
        wait_until(lambda: served.shows("/draws/1/", "templates/archive.html:1"))
        page = served.get("/draws/1/")[1]
        # (the facts, not the bare number: the injected script's session token is random)
        assert "<dd>481</dd>" in page and "<dd>455</dd>" not in page  # the last good site, whole
        assert "<dd>481</dd>" in site.page("draws/1/index.html")
        archive.write_text(good)
        wait_until(lambda: "eesite-error" not in served.get("/draws/1/")[1])
        assert "<dd>455</dd>" in served.get("/draws/1/")[1]
    finally:
        live.go_on.set()
        served.close()


def test_a_rebuild_that_fails_otherwise_than_on_input_is_shown_and_put_back(site, monkeypatch):
    """A disk that fills up mid-rebuild (no BuildError): the page written ahead is put back,
    its tab told to reload, the overlay says what happened, and nothing stays `fresh`."""
    import eesite.build
    small_site(site)
    age(site.root)
    served = Served(site, Held)
    live = served.live
    full = eesite.build._render_and_write

    try:
        monkeypatch.setattr(eesite.build, "_render_and_write", disk_full)
        site.write("content/draws/0001-2023-07-01-stem.md",
                   draw_text("1", crs=455, draw_date="2023-07-01"))
        assert live.ahead.wait(20)
        page = served.get("/draws/1/")[1]
        assert "<dd>455</dd>" in page
        live.go_on.set()
        live.wait_idle()
        assert live.fresh == frozenset()
        assert "<dd>481</dd>" in site.page("draws/1/index.html")  # put back
        shown = served.get("/draws/1/")[1]
        assert "rebuild failed: OSError" in shown and "No space left on device" in shown
        assert "event: reload" in reload_event(served, *served_at(page), wait=10)
        monkeypatch.setattr(eesite.build, "_render_and_write", full)
        live.ahead.clear()
        site.write("content/posts/hello.md", post_text("Hello", body="Words."))
        wait_until(lambda: "eesite-error" not in served.get("/draws/1/")[1])
        assert "<dd>455</dd>" in served.get("/draws/1/")[1]
    finally:
        live.go_on.set()
        served.close()


def test_a_prose_edit_whose_write_failed_is_written_by_the_next_rebuild(site, monkeypatch):
    """A prose edit that never reached output/ (disk full while writing) is not taken as done:
    the next rebuild, once there is space, writes it (it used to keep the old page and say
    "fixed")."""
    import eesite.build
    small_site(site)
    age(site.root)
    served = Served(site)
    space = eesite.build.rewrite

    try:
        monkeypatch.setattr(eesite.build, "rewrite", disk_full)
        text = post_text("Hello", extra="tags: [analysis]\n", body="New prose.")
        site.write("content/posts/hello.md", text)
        wait_until(lambda: served.shows("/posts/hello/", "No space left on device"))
        monkeypatch.setattr(eesite.build, "rewrite", space)
        site.write("content/posts/hello.md", text)  # saved again, unchanged
        wait_until(lambda: "eesite-error" not in served.get("/posts/hello/")[1])
        assert "New prose." in site.page("posts/hello/index.html")
    finally:
        served.close()


def test_a_new_slug_never_goes_ahead_onto_another_page(site):
    """A page given the slug of a listing would take its path: it waits for the full build,
    which refuses two items at one URL, and the listing is never overwritten meanwhile."""
    small_site(site)
    site.write("content/pages/about.md", post_text("About", body="About us."))
    age(site.root)
    served = Served(site, Held)
    live = served.live
    try:
        listing = site.page("categories/index.html")
        site.write("content/pages/about.md",
                   post_text("About", extra="slug: categories\n", body="About us."))
        wait_until(lambda: served.shows("/about/", "eesite-error"))
        assert not live.ahead.is_set()
        assert site.page("categories/index.html") == listing
    finally:
        live.go_on.set()
        served.close()


def test_a_page_written_ahead_is_counted_and_its_index_saved(site):
    """The terminal counts the page written ahead, and the cache saved when serve stops
    records it as it is on disk (the next `eesite build` takes the no-change shortcut)."""
    from eesite.cache import Cache
    from eesite.settings import load_settings
    small_site(site)
    site.write("content/pages/about.md", post_text("About", extra="summary: one\n", body="Us."))
    age(site.root)
    served = Served(site)
    try:
        served.live.save_cache()
        site.write("content/pages/about.md", post_text("About", extra="summary: two\n",
                                                       body="Us."))
        wait_until(lambda: served.shows("/about/", "two"))
        served.live.wait_idle()
        assert " 1 written, " in served.said[-1]
    finally:
        served.close()  # saves the cache
    known = Cache.open(site.root, load_settings(site.root)).output["about/index.html"]
    st = os.stat(site.output / "about/index.html")
    assert known[1:] == (st.st_size, st.st_mtime_ns)


def test_a_tab_from_an_earlier_run_of_the_server_reloads_at_once(site):
    """A tab left open across a restart reconnects naming a generation of the old run (which
    may be far ahead of the new run's count): it reloads at once instead of never."""
    small_site(site)
    served = Served(site)
    try:
        page = served.get("/draws/1/")[1]
        assert f"run={served.live.run}&" in page
        since, file = served_at(page)
        assert "event: reload" in reload_event(served, 40, file, wait=10, run="1-2")
        assert "event: reload" not in reload_event(served, since, file, wait=1)
    finally:
        served.close()


def test_while_a_page_written_ahead_is_fresh_only_static_assets_skip_the_wait(site):
    """The style sheet of the page written ahead is served at once; a page that happens to
    live at /static/ (a post's slug) still waits for the rebuild that may change it."""
    live = Live(Options(site.root, site.output, now=NOW))
    with live.state:
        live.building, live.fresh = True, frozenset({"draws/1/index.html"})
    assert live.wait_idle(0.1, "draws/1/index.html")
    assert live.wait_idle(0.1, "static/style.css")
    assert not live.wait_idle(0.1, "static/index.html")
    assert not live.wait_idle(0.1, "draws/2/index.html")


def test_wanted_names_the_file_a_request_would_get():
    assert wanted("/") == "index.html"
    assert wanted("/draws/1/") == wanted("/draws/1") == "draws/1/index.html"
    assert wanted("/draws/1/?x=1#top") == "draws/1/index.html"
    assert wanted("/static/style.css") == "static/style.css"
    assert wanted("/caf%C3%A9/") == "café/index.html"
    assert wanted("/%ff/") is None


def test_live_reload_in_a_browser_reloads_only_the_changed_page(site, browser):
    small_site(site)
    age(site.root)
    served = Served(site)
    context = browser.new_context()
    try:
        edited, other = context.new_page(), context.new_page()
        base = f"http://127.0.0.1:{served.port}"
        for tab, path in ((edited, "/draws/1/"), (other, "/posts/other/")):
            tab.goto(base + path)
            tab.evaluate("window.untouched = true")
        edited.wait_for_timeout(300)  # both tabs are listening
        site.write("content/draws/0001-2023-07-01-stem.md",
                   draw_text("1", crs=455, draw_date="2023-07-01"))
        edited.wait_for_function("document.body.innerText.includes('455')", timeout=20000)
        assert edited.evaluate("window.untouched") is None  # it reloaded
        served.live.wait_idle()
        other.wait_for_timeout(1000)
        assert other.evaluate("window.untouched") is True  # its page did not change
    finally:
        context.close()
        served.close()


def test_a_page_written_ahead_paints_in_a_browser_before_the_rebuild_ends(site, browser):
    """Its style sheet must not wait for the rest of the rebuild, or chromium cannot paint
    the page that was served ahead."""
    small_site(site)
    age(site.root)
    served = Served(site, Held)
    live = served.live
    context = browser.new_context()
    try:
        site.write("content/draws/0001-2023-07-01-stem.md",
                   draw_text("1", crs=455, draw_date="2023-07-01"))
        assert live.ahead.wait(20)
        tab = context.new_page()
        tab.goto(f"http://127.0.0.1:{served.port}/draws/1/", wait_until="load", timeout=30000)
        tab.wait_for_function("performance.getEntriesByType('paint').length > 0", timeout=30000)
        assert live.building and "455" in tab.inner_text("main")
        assert tab.evaluate("document.styleSheets[0].cssRules.length") > 0
    finally:
        live.go_on.set()
        context.close()
        served.close()
