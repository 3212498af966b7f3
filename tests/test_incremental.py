"""Incremental builds: after any sequence of edits, output/ equals a clean build, byte for byte."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import html
import os
import shutil
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest

from eesite import render
from eesite.cache import CACHE_DIR
from eesite.incremental import Reads, TracingEnvironment
from tests.conftest import draw_text, post_text


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def clean_build(site, tmp_path: Path) -> dict[str, bytes]:
    """The same sources built from scratch in another folder, without any cache."""
    twin = tmp_path / "twin"
    shutil.rmtree(twin, ignore_errors=True)
    twin.mkdir()
    for name in ("content", "templates", "pyproject.toml"):
        src = site.root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, twin / name)
    from eesite.cli import main
    assert main(["build", "--source", str(twin)]) == 0
    assert not (site.root / "twin").exists()
    return tree(twin / "output")


def assert_as_clean_build(site, tmp_path: Path) -> None:
    """output/ holds what a clean build of the same sources makes (the manifest aside)."""
    built = tree(site.output)
    clean = clean_build(site, tmp_path)
    for tree_ in (clean, built):
        tree_.pop(".eesite-manifest")
    assert built == clean


def small_site(site) -> None:
    for n in range(1, 8):
        site.write(f"content/draws/{n:04d}-2023-07-0{n}-stem.md",
                   draw_text(str(n), crs=480 + n, draw_date=f"2023-07-0{n}",
                             category="stem" if n % 2 else "cec"))
    site.write("content/posts/hello.md", post_text("Hello", extra="tags: [analysis]\n"))
    site.write("content/posts/other.md", post_text("Other", date="2026-02-01T09:00:00-05:00"))


def remade(site, pages: list[str], edit) -> list[str]:
    """The pages among `pages` whose trace changed when `edit()` was followed by a build."""
    from eesite.cache import Cache
    from eesite.settings import load_settings

    def fingerprints() -> dict[str, str]:
        found = Cache.open(site.root, load_settings(site.root)).pages
        return {p: found[p].fingerprint for p in pages}

    before = fingerprints()
    edit()
    assert site.run("build") == 0
    after = fingerprints()
    return [p for p in pages if after[p] != before[p]]


@pytest.mark.parametrize("workers", [False, True], ids=["one process", "checked in workers"])
def test_every_edit_ends_byte_identical_to_a_clean_build(site, tmp_path, capsys, monkeypatch,
                                                         workers):
    if workers:  # as a site of thousands of posts is: two forked workers check the pages
        monkeypatch.setattr(render, "CHECK_IN_WORKERS", 1)
        monkeypatch.setenv("EESITE_JOBS", "2")
    small_site(site)
    edits = [
        lambda: site.write("content/draws/0003-2023-07-03-stem.md",
                           draw_text("3", crs=300, draw_date="2023-07-03", body="New *prose*.")),
        lambda: site.write("content/draws/0008-2023-07-08-cec.md",
                           draw_text("8", draw_date="2023-07-08", category="cec")),
        lambda: (site.root / "content/draws/0005-2023-07-05-stem.md").unlink(),
        lambda: (site.root / "content/posts/hello.md").rename(site.root / "content/posts/bye.md"),
        lambda: site.write("content/posts/other.md", post_text("Other, retitled",
                                                                extra="tags: [news]\n")),
        lambda: site.write("templates/post.html", (site.root / "templates/post.html")
                           .read_text().replace("</article>", "<p>Thanks.</p></article>")),
        lambda: site.write("templates/macros.html", (site.root / "templates/macros.html")
                           .read_text().replace("Older →", "Older posts →")),
        lambda: site.write("templates/macros.html",  # charts.html reaches draw_table only
                           (site.root / "templates/macros.html").read_text()  # through an
                           .replace('<th scope="col">#</th>', '<th scope="col">Round</th>')),
        lambda: site.write("templates/trends_macros.html",  # made once a build (fragment)
                           (site.root / "templates/trends_macros.html").read_text()
                           .replace("<li>Years: ", "<li>Rounds by year: ")),
        lambda: site.write("pyproject.toml", (site.root / "pyproject.toml").read_text()
                           .replace('title = "Test Draws"', 'title = "Renamed Draws"')),
        lambda: site.write("content/draws/0001-2023-07-01-stem.md",
                           draw_text("1", crs=481, draw_date="2023-07-01", extra="draft: true\n")),
    ]
    assert site.run("build") == 0
    for edit in edits:
        edit()
        assert site.run("build") == 0
        assert_as_clean_build(site, tmp_path)
    assert "Thanks." in site.page("posts/bye/index.html")
    assert "Rounds by year: " in site.page("2023/index.html")
    assert '<th scope="col">Round</th>' in site.page("charts/index.html")
    assert not (site.output / "posts/hello").exists()


def test_second_build_renders_only_what_changed(site, capsys):
    small_site(site)
    assert site.run("build") == 0
    capsys.readouterr()
    assert site.run("build") == 0
    assert ": 0 files written," in capsys.readouterr().out
    before = tree(site.output)
    path = site.root / "content/draws/0004-2023-07-04-stem.md"
    path.write_text(path.read_text().replace("Editor's prose.", "Changed prose."))
    assert site.run("build") == 0
    after = tree(site.output)
    changed = {p for p in after if after[p] != before.get(p)}
    # its page and the feeds that carry its full text; listings show no prose: unchanged
    assert "draws/4/index.html" in changed
    assert all(p == "draws/4/index.html" or p.endswith((".xml", ".json")) for p in changed), changed
    assert "sitemap.xml" not in changed and "draws.json" not in changed
    assert f": {len(changed)} files written," in capsys.readouterr().out


def _signed(body: bytes) -> bytes:
    """A store as this user's eesite writes it (see cache.save)."""
    from eesite.cache import _MAGIC, signing_key

    return _MAGIC + hmac.new(signing_key(), body, hashlib.sha256).hexdigest().encode() + b"\n" + body


def _peak_rss_since_reset() -> int:
    """This process's peak resident set in KiB (VmHWM) since the last call: Linux resets it
    when "5" is written to clear_refs (since Linux 4.0)."""
    status = Path("/proc/self/status").read_text()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("no /proc/self/clear_refs to reset the peak with")
    return int(status.split("VmHWM:")[1].split()[0])


def test_a_corrupt_or_planted_cache_is_discarded_not_trusted(site, tmp_path):
    """Stores are signed with a key of the user's kept outside the site: a planted one is
    never unpickled. The unpickler is a second guard: even a store signed with that key runs
    no code."""
    small_site(site)
    assert site.run("build") == 0
    cache = site.root / CACHE_DIR
    stores = sorted(cache.glob("*.pickle"))
    assert stores
    stores[0].write_bytes(stores[0].read_bytes()[:-40])  # truncated
    pwned = site.root / "pwned"  # (an absolute path: the build's working folder is not the site)
    command = b"touch %s" % str(pwned).encode()
    plants = [
        b"cos\nsystem\n(S'%s'\ntR." % command,  # a module outside eesite
        # protocol 4 resolves a dotted name attribute by attribute: os.system through the
        # `os` that eesite.render imports, and a function of eesite's own, not a record
        *(b"\x80\x04" + b"".join(b"\x8c%c%s" % (len(part), part) for part in (module, name))
          + b"\x93\x8c%c%s\x85R." % (len(command), command)
          for module, name in ((b"eesite.render", b"os.system"),
                               (b"eesite.write", b"shutil.rmtree"),
                               (b"eesite.build", b"os.system"))),
        b"\x80\x04\x8c\x0feesite.__main__\x8c\x03run\x93.",  # importing it runs the CLI
        b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93\x8c\x02os\x8c\x06system\x86R.",
    ]
    # 12 bytes that make the unpickler allocate and clear a memo of 200 million slots (3 GiB
    # at its peak here; with 2**30, 15 GiB and 47 s): a store not signed with the user's key
    # is not read
    hog = b"\x80\x05Nr" + struct.pack("<I", 200_000_000) + b"."
    unsigned = hmac.new(b"\0" * 32, hog, hashlib.sha256).hexdigest().encode()  # another key
    sys.modules.pop("eesite.__main__", None)  # (as in a fresh process: not imported yet)
    for i, store in enumerate(stores[1:]):
        if i % 2:  # signed with this user's key: the unpickler must refuse it
            store.write_bytes(_signed(plants[i // 2 % len(plants)]))
        else:
            store.write_bytes(b"eesite-cache 3\n" + unsigned + b"\n" + hog)
    assert len(stores) > 2 * len(plants)
    site.write("content/posts/hello.md", post_text("Hello again"))
    _peak_rss_since_reset()
    assert site.run("build") == 0
    assert _peak_rss_since_reset() < 1_000_000
    assert not pwned.exists()
    built, clean = tree(site.output), clean_build(site, tmp_path)
    assert built == clean


@pytest.fixture
def key_folder(tmp_path, monkeypatch) -> Iterator[Path]:
    """A fresh place for the signing key ($XDG_CACHE_HOME), forgotten again afterwards."""
    from eesite import cache

    folder = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    cache._KEY.clear()
    yield folder
    monkeypatch.undo()  # (before the key is looked up again)
    cache._KEY.clear()


@pytest.mark.parametrize("place", ["not a folder", "no home", "shared key", "group-readable key",
                                   "another user's folder", "in another user's folder",
                                   "another user's key folder"])
def test_without_a_key_of_the_users_own_nothing_is_kept_and_the_build_says_so(
        site, tmp_path, key_folder, monkeypatch, capsys, place):
    """No signing key, or one another user wrote or can read (a shared HOME): nothing is
    kept between runs, and the build says why."""
    small_site(site)
    if place == "not a folder":
        key_folder.write_text("")
        why = f"{key_folder / 'eesite'}: Not a directory"
    elif place == "no home":  # (no HOME, no home in the user database: never the working folder)
        os.environ.pop("XDG_CACHE_HOME")  # (the fixture's monkeypatch puts both back)
        monkeypatch.setenv("HOME", "relative-home")
        monkeypatch.chdir(tmp_path)
        why = "no home folder to keep it in"
    elif "user's" in place:  # (`sudo` keeping HOME): no key nor folder of root's left there
        if os.getuid() != 0:
            pytest.skip("giving a folder to another user needs root")
        owned = key_folder / "eesite" if place == "another user's key folder" else key_folder
        owned.mkdir(parents=True)
        os.chown(owned, 65534, -1)  # nobody's
        if place == "in another user's folder":
            os.environ["XDG_CACHE_HOME"] = str(key_folder / ".cache")  # (monkeypatch undoes)
        why = f"{owned} belongs to another user"
    else:
        (key_folder / "eesite").mkdir(parents=True)
        key = key_folder / "eesite/signing.key"
        key.write_bytes(b"k" * 32)
        if place == "shared key":
            if os.getuid() != 0:
                pytest.skip("giving a file to another user needs root")
            os.chown(key, 65534, -1)  # nobody's
            key.chmod(0o600)
            why = f"{key} is not this user's alone (owner 65534, mode 600)"
        else:
            key.chmod(0o640)
            why = f"{key} is not this user's alone (owner {os.getuid()}, mode 640)"
    assert site.run("build") == 0
    assert capsys.readouterr().err.count(why) == 1
    site.write("content/posts/hello.md", post_text("Hello again"))
    assert site.run("build") == 0
    assert "Hello again" in (site.output / "posts/hello/index.html").read_text()
    assert not list((site.root / CACHE_DIR).glob("*.pickle"))
    assert not list((site.root / CACHE_DIR).glob("jinja/*.cache"))
    assert not (tmp_path / "relative-home").exists()
    if "user's" in place:
        assert [str(p) for p in key_folder.rglob("*")] == (
            [str(key_folder / "eesite")] if place == "another user's key folder" else [])


def test_a_damaged_key_is_made_again_and_a_relative_cache_home_is_ignored(
        site, tmp_path, key_folder, monkeypatch, capsys):
    """A key file only ever appears whole (linked into place), so one of another length is
    damaged: it is replaced. A relative $XDG_CACHE_HOME is ignored (the XDG rule): it would
    put the key inside the folder eesite runs in, the site itself."""
    small_site(site)
    (key_folder / "eesite").mkdir(parents=True)
    (key_folder / "eesite/signing.key").write_bytes(b"")
    (key_folder / "eesite/signing.key").chmod(0o600)
    assert site.run("build") == 0
    assert len((key_folder / "eesite/signing.key").read_bytes()) == 32
    assert site.run("build") == 0
    assert ": 0 files written," in capsys.readouterr().out  # the cache was kept

    from eesite import cache

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")
    monkeypatch.chdir(site.root)
    cache._KEY.clear()
    assert site.run("build") == 0
    assert not (site.root / "relative").exists()
    assert len((home / ".cache/eesite/signing.key").read_bytes()) == 32


def _key_in_a_child(folder: str, start: float) -> bytes | None:
    from eesite import cache

    os.environ["XDG_CACHE_HOME"] = folder
    cache._KEY.clear()
    time.sleep(max(0.0, start - time.time()))  # (all at once)
    return cache.signing_key()


def test_processes_making_the_key_at_once_all_get_the_same_whole_key(tmp_path):
    """Before the key was linked into place, one of several processes starting together on
    a fresh machine could read it empty: 10 of 80 got no key (and a `serve` kept nothing on
    disk for its whole session)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        for trial in range(10):
            folder = str(tmp_path / f"xdg{trial}")
            start = time.time() + 0.2
            keys = pool.starmap(_key_in_a_child, [(folder, start)] * 4)
            assert None not in keys and len(set(keys)) == 1, keys
            assert len(keys[0]) == 32
            assert os.listdir(os.path.join(folder, "eesite")) == ["signing.key"]


def test_compiled_templates_are_signed_so_a_planted_one_never_runs(site, tmp_path):
    """Jinja runs what its bytecode cache holds (a plain pickle, then marshalled code): each
    compiled template is signed with a key of this user's kept outside the site, so a file
    planted in `.eesite-cache/jinja` is compiled over, never loaded; a signed one is loaded,
    not compiled again."""
    from jinja2.bccache import bc_magic

    small_site(site)
    assert site.run("build") == 0
    compiled = sorted((site.root / CACHE_DIR / "jinja").glob("*.cache"))
    assert len(compiled) > 5
    site.write("content/posts/hello.md", post_text("Hello again"))
    assert site.run("build") == 0  # the same templates: loaded, not written again
    assert [p.stat().st_ino for p in compiled] == [
        p.stat().st_ino for p in sorted((site.root / CACHE_DIR / "jinja").glob("*.cache"))]
    pwned = site.root / "pwned"
    planted = bc_magic + b"cos\nsystem\n(S'touch %s'\ntR." % str(pwned).encode()
    for path in compiled:
        path.write_bytes(planted)
    site.write("content/posts/hello.md", post_text("Hello once more"))
    assert site.run("build") == 0
    assert not pwned.exists()
    assert all(p.read_bytes() != planted for p in compiled)  # compiled over
    assert_as_clean_build(site, tmp_path)


def test_every_store_a_build_saves_loads_again(site):
    """The unpickler admits only eesite's records and a few standard types: a store holding
    anything else would be discarded on every load, silently making every build start from
    nothing (a `{% set %}` block passed to `feed_links` put a Markup in traces; a time with
    no offset in front matter, in the site's zone, is pickled through `getattr`)."""
    from eesite.cache import Cache, load
    from eesite.settings import load_settings

    small_site(site)
    site.write("content/posts/local.md", post_text("Local", date="2026-03-01 09:00"))
    assert site.run("build") == 0
    key = Cache.open(site.root, load_settings(site.root)).key
    stores = sorted((site.root / CACHE_DIR).glob("*.pickle"))
    assert len(stores) > 10
    assert [s.name for s in stores if load(site.root, s.name.removesuffix(".pickle"), key)
            is None] == []


def test_a_store_loaded_is_not_left_young_for_the_collector_to_scan(site):
    """A store's objects are all kept (the posts and traces stores: hundreds of thousands at
    10,000 posts); left young, the collector's next pass would scan them all for nothing."""
    import gc

    from eesite.cache import Cache, load
    from eesite.settings import load_settings

    small_site(site)
    assert site.run("build") == 0
    key = Cache.open(site.root, load_settings(site.root)).key
    gc.collect()
    posts = {}
    for i in range(16):
        posts.update(load(site.root, f"posts.{i:02x}", key) or {})
    young = {id(o) for generation in (0, 1) for o in gc.get_objects(generation=generation)}
    assert posts and gc.isenabled()
    assert [rel for rel, hit in posts.items() if id(hit) in young or id(hit[2]) in young] == []
    assert gc.get_freeze_count() == 0  # and nothing left frozen: serve reclaims as before


def test_output_files_edited_by_hand_are_rewritten(site):
    small_site(site)
    assert site.run("build") == 0
    page = site.output / "draws/2/index.html"
    page.write_text("vandalised")
    (site.output / "posts/other/index.html").unlink()
    assert site.run("build") == 0
    assert "Round 2" in page.read_text()
    assert (site.output / "posts/other/index.html").is_file()


def test_a_year_page_counts_only_what_it_read_of_the_years_before(site, tmp_path):
    """A year page reads a little of its neighbours (`older`, `y.previous`), whose records link
    back through every year before: a cut-off changed in 2022 must leave the 2023 page's check
    unchanged (incremental.py, `read_in_part`), a change it shows must reach it."""
    from eesite.cache import Cache
    from eesite.settings import load_settings

    def draw(n: int, crs: int = 0, invitations: int = 0) -> None:
        year = 2020 + (n + 1) // 2
        site.write(f"content/draws/{n:04d}-{year}-0{n}-01-stem.md",
                   draw_text(str(n), crs=crs or 480 + n, invitations=invitations or 500 + n,
                             draw_date=f"{year}-0{n}-01"))

    def fingerprints() -> dict[str, str]:
        cache = Cache.open(site.root, load_settings(site.root))
        return {year: cache.pages[f"{year}/index.html"].fingerprint for year in (2021, 2022, 2023)}

    for n in range(1, 7):
        draw(n)
    site.write("content/draws/0008-2024-03-01-stem.md",  # 2023 is complete: it compares
               draw_text("8", draw_date="2024-03-01"))    # itself with 2022 (`base`)
    assert site.run("build") == 0
    before = fingerprints()
    draw(3, crs=401)
    assert site.run("build") == 0
    after = fingerprints()
    assert after[2022] != before[2022]  # its table shows the cut-off
    assert after[2021] == before[2021] and after[2023] == before[2023]
    site.write("content/draws/0007-2023-09-01-stem.md",
               draw_text("7", draw_date="2023-09-01"))  # a new round: the latest month moves
    assert site.run("build") == 0
    latest = fingerprints()
    assert latest[2023] != after[2023]
    assert latest[2021] == after[2021] and latest[2022] == after[2022]
    built = tree(site.output)
    draw(3, invitations=9999)  # 2023 compares its invitations with 2022's
    assert site.run("build") == 0
    assert tree(site.output)["2023/index.html"] != built["2023/index.html"]
    assert_as_clean_build(site, tmp_path)


def test_a_call_with_an_argument_that_cannot_be_found_again_is_always_made(site, tmp_path):
    """`.get(entry.url, {})`: a fresh dict cannot be looked up next build, so the page that made
    the call is rendered again every build rather than kept on an unverifiable read."""
    draw_html = site.root / "templates/draw.html"
    text = draw_html.read_text()
    assert "{% if ytd %}" in text
    site.write("templates/draw.html", text.replace(
        "{% if ytd %}",
        "{% set ytd = site.analytics.year_to_date.get(entry.url, {}) %}{% if ytd %}"))
    for n in (1, 2, 3):
        site.write(f"content/draws/{n:04d}-2023-07-0{n}-stem.md",
                   draw_text(str(n), draw_date=f"2023-07-0{n}"))
    assert site.run("build") == 0
    site.write("content/draws/0001-2023-07-01-stem.md",
               draw_text("1", draw_date="2023-07-01", invitations=4321))
    assert site.run("build") == 0
    assert "5,321 invitations so far" in site.page("draws/3/index.html")  # 4,321 + 2 × 500
    assert_as_clean_build(site, tmp_path)


def distribution(as_of: str, base: int) -> str:
    """A draw's pool distribution whose subtotals add up."""
    parts = {"491-500": base, "481-490": base + 1, "471-480": base + 2, "461-470": base + 3,
             "451-460": base + 4, "441-450": base + 5, "431-440": base + 6, "421-430": base + 7,
             "411-420": base + 8, "401-410": base + 9}
    bands = {"601-1200": 10, "501-600": 20, "451-500": sum(list(parts.values())[:5]),
             **dict(list(parts.items())[:5]), "401-450": sum(list(parts.values())[5:]),
             **dict(list(parts.items())[5:]), "351-400": 30, "301-350": 40, "0-300": 50}
    bands["total"] = sum(v for k, v in bands.items() if k not in parts)
    rows = "".join(f'    "{k}": {v}\n' for k, v in bands.items())
    return f"distribution:\n  as_of: {as_of}\n  bands:\n{rows}"


def test_the_pool_page_is_kept_when_only_a_cut_off_changes(site, tmp_path):
    """The pool page lists every snapshot with links to its rounds, as plain rows made in
    trends.py: a changed cut-off is not on it, so its check passes and it is kept; a changed
    distribution is, and reaches it."""
    from eesite.cache import Cache
    from eesite.settings import load_settings

    def draw(n: int, crs: int = 0, base: int = 100) -> None:
        day = f"2023-07-0{n}"
        site.write(f"content/draws/{n:04d}-{day}-stem.md",
                   draw_text(str(n), crs=crs or 480 + n, draw_date=day,
                             extra=distribution(day, base + n)))

    def pool_trace():
        return Cache.open(site.root, load_settings(site.root)).pages["pool/index.html"]

    for n in range(1, 6):
        draw(n)
    assert site.run("build") == 0
    before, page = pool_trace(), site.page("pool/index.html")
    assert "#3</a>" in page and "5 snapshots" in page
    draw(3, crs=401)
    assert site.run("build") == 0
    assert pool_trace().fingerprint == before.fingerprint
    assert site.page("pool/index.html") == page
    draw(3, crs=401, base=900)
    assert site.run("build") == 0
    assert site.page("pool/index.html") != page
    assert_as_clean_build(site, tmp_path)


def test_a_string_and_markup_of_the_same_text_hash_apart():
    """A template escapes a str and not Markup: the same text as the other type is a change."""
    from datetime import datetime, timezone

    from markupsafe import Markup

    from eesite.keys import Keys
    from eesite.model import build_site
    from eesite.settings import load_settings
    from eesite.templating import make_environment
    from tests.conftest import ROOT

    site = build_site((), load_settings(ROOT), datetime(2026, 1, 1, tzinfo=timezone.utc))
    keys = Keys(site, make_environment(ROOT / "templates", site), {})
    assert keys.value("a<b") != keys.value(Markup("a<b"))
    assert keys.value(("x", "a<b")) != keys.value(("x", Markup("a<b")))
    assert keys.value("a<b") == keys.value("a<b")


def test_a_posts_html_counts_by_the_digest_of_its_markdown(site):
    """A page's check counts a post's HTML (`prose.Html`) by the digest of its Markdown, not
    its bytes: the same key, the same value whatever the text (it cannot differ under one
    cache key); another key, another value; never equal to a plain string."""
    from datetime import datetime, timezone

    from eesite.cache import digest
    from eesite.keys import Keys
    from eesite.model import build_site
    from eesite.prose import Html
    from eesite.render import Renderer
    from eesite.settings import load_settings
    from eesite.templating import make_environment
    from tests.conftest import ROOT

    empty = build_site((), load_settings(ROOT), datetime(2026, 1, 1, tzinfo=timezone.utc))
    keys = Keys(empty, make_environment(ROOT / "templates", empty), {})
    assert keys.value(Html("<p>a</p>", "k1")) == keys.value(Html("<p>b</p>", "k1"))
    assert keys.value(Html("<p>a</p>", "k1")) != keys.value(Html("<p>a</p>", "k2"))
    assert keys.value(Html("<p>a</p>", "k1")) != keys.value("<p>a</p>")
    small_site(site)
    from eesite.build import Options, load_site

    loaded = load_site(Options(source=site.root, output=site.output), load_settings(site.root))
    r = Renderer(loaded, site.root / "templates")
    entry = loaded.draws[0]
    html = r.markdown(entry)
    assert type(html) is Html and html.key == digest(loaded.texts[entry.post.source])
    assert "<p>Editor" in html


def test_what_templates_import_is_kept_for_the_next_process(site, tmp_path):
    """A new `eesite build` process learns what each template imports from the cache's
    `imports` (keyed by the template's source digest) instead of parsing every template, and
    that is enough: an edit of macros.html, which the charts page shows only through
    trends_macros.html, still makes the charts page again."""
    import subprocess
    import sys

    from eesite.cache import Cache, digest
    from eesite.settings import load_settings

    small_site(site)

    def build() -> None:
        done = subprocess.run([sys.executable, "-m", "eesite", "build", "--source",
                               str(site.root)], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    build()
    trends = (site.root / "templates/trends_macros.html").read_text(encoding="utf-8")
    imports = Cache.open(site.root, load_settings(site.root)).imports
    assert imports[("trends_macros.html", digest(trends))] == ("macros.html",)
    macros = site.root / "templates/macros.html"
    text = macros.read_text(encoding="utf-8")
    head = "{% macro draw_table(entries, caption, show_change=False) -%}"
    assert head in text
    for mark in ("<!-- edited table -->", "<!-- edited again -->"):  # the second build
        # traces the charts page with what it learnt from the cache; the third relies on it
        macros.write_text(text.replace(head, head + mark), encoding="utf-8")
        build()
        assert mark in site.page("charts/index.html")
    assert tree(site.output) == clean_build(site, tmp_path)


def test_the_archive_is_paged_and_an_edit_remakes_only_its_page(site, tmp_path):
    """`rounds_per_page` rounds a page (/draws/, /draws/page/N/); the charts page's table of
    every round gives way to a link to the archive once there are more. Each archive page
    shows how many rounds there are (`site.draws | length`): a count counts, not every round,
    so a changed cut-off remakes the one page listing that round, and a new round every
    page."""

    site.write("pyproject.toml", (site.root / "pyproject.toml").read_text()
               + "rounds_per_page = 2\n")
    small_site(site)  # rounds 1..7
    assert site.run("build") == 0
    pages = ["draws/index.html", *(f"draws/page/{n}/index.html" for n in (2, 3, 4))]
    first, last = site.page(pages[0]), site.page(pages[-1])
    assert '<a href="/draws/7/">7</a>' in first and '<a href="/draws/6/">6</a>' in first
    assert '<a href="/draws/5/">5</a>' not in first and 'rel="next" href="/draws/page/2/"' in first
    assert "<title>All Express Entry rounds of invitations, page 4 of 4" in last
    assert '<a href="/draws/1/">1</a>' in last and 'rel="prev" href="/draws/page/3/"' in last
    assert "All 7 rounds of invitations" not in last and "All 7 rounds are listed" in site.page(
        "charts/index.html")
    assert "/draws/page/4/" in site.page("sitemap.xml")
    assert '<a href="/draws/" aria-current="page">All draws</a>' in site.page(pages[2])

    assert remade(site, pages, lambda: site.write(
        "content/draws/0001-2023-07-01-stem.md", draw_text("1", crs=300, draw_date="2023-07-01"))
    ) == [pages[-1]]
    assert "300" in site.page(pages[-1])
    site.write("content/draws/0008-2023-07-08-stem.md", draw_text("8", draw_date="2023-07-08"))
    assert site.run("build") == 0
    assert all("Every one of the 8 rounds" in site.page(p) for p in pages)
    assert (site.output / "draws/page/4/index.html").is_file()
    assert_as_clean_build(site, tmp_path)


def test_category_and_tag_pages_are_paged_and_an_edit_remakes_only_its_page(site, tmp_path):
    """A category's rounds go `rounds_per_page` a page (/categories/stem/page/N/), a tag's
    posts `posts_per_page` a page, each page with the group's facts and a pager. A page
    counts what it read of its group (its counts and cut-off range), not every round in it:
    a cut-off that moves no extreme remakes the one page listing that round."""

    site.write("pyproject.toml", (site.root / "pyproject.toml").read_text()
               + "rounds_per_page = 2\nposts_per_page = 2\n")
    small_site(site)  # stem: rounds 1, 3, 5, 7
    site.write("content/draws/0009-2023-07-09-stem.md",
               draw_text("9", crs=489, draw_date="2023-07-09", category="stem"))
    for n in (1, 2):
        site.write(f"content/posts/more{n}.md", post_text(f"More {n}", extra="tags: [analysis]\n",
                                                        date=f"2026-01-0{n + 2}T09:00:00-05:00"))
    assert site.run("build") == 0
    pages = ["categories/stem/index.html",
             *(f"categories/stem/page/{n}/index.html" for n in (2, 3))]
    first, middle, last = (site.page(p) for p in pages)
    assert '<a href="/draws/9/">9</a>' in first and '<a href="/draws/7/">7</a>' in first
    assert '<a href="/draws/5/">5</a>' not in first and 'rel="next" href="/categories/stem/page/2/"' in first
    assert "occupations rounds, page 2 of 3 · Test Draws</title>" in middle
    assert '<a href="/draws/5/">5</a>' in middle and '<a href="/draws/3/">3</a>' in middle
    assert '<a href="/draws/1/">1</a>' in last and 'rel="prev" href="/categories/stem/page/2/"' in last
    for page in (first, middle, last):  # the group's facts on every page
        assert "<dt>Rounds</dt><dd>5</dd>" in page and "<dd>481</dd>" in page and "<dd>489</dd>" in page
    assert "/categories/stem/page/3/" in site.page("sitemap.xml")
    assert 'href="/categories/" aria-current="page"' in last
    tag_first, tag_last = site.page("tags/analysis/index.html"), site.page(
        "tags/analysis/page/2/index.html")
    assert "More 2" in tag_first and "More 1" in tag_first and "Hello" not in tag_first
    assert "Hello" in tag_last and "3 posts, newest first" in tag_last
    assert 'rel="prev" href="/tags/analysis/"' in tag_last

    assert remade(site, pages, lambda: site.write(
        "content/draws/0003-2023-07-03-stem.md",
        draw_text("3", crs=484, draw_date="2023-07-03", category="stem"))) == [pages[1]]
    assert '<td class="num">484</td>' in site.page(pages[1])
    site.write("content/draws/0001-2023-07-01-stem.md",
               draw_text("1", crs=470, draw_date="2023-07-01", category="stem"))
    assert site.run("build") == 0  # a new lowest cut-off: every page's facts
    assert all("<dd>470</dd>" in site.page(p) for p in pages)
    assert_as_clean_build(site, tmp_path)


def test_a_change_to_the_newest_round_remakes_only_the_first_home_page(site, tmp_path):
    """Only /'s lead shows the newest round; /page/N/ lists older posts (one of them its
    teaser). An editor's usual edit (the round just published) remade every page of the home
    listing (999 at 10,000 posts, 0.4 s) when every page read `site.latest_draw`; now only
    the first and the one listing its teaser do."""

    site.write("pyproject.toml", (site.root / "pyproject.toml").read_text()
               + "posts_per_page = 2\n")
    small_site(site)  # 7 rounds and 2 articles: 5 home pages
    assert site.run("build") == 0
    pages = ["index.html", *(f"page/{n}/index.html" for n in (2, 3, 4, 5))]

    changed = remade(site, pages, lambda: site.write(
        "content/draws/0007-2023-07-07-stem.md",
        draw_text("7", crs=333, draw_date="2023-07-07", category="stem")))
    listing = [p for p in pages[1:] if 'href="/draws/7/"' in site.page(p)]  # its teaser
    assert len(listing) == 1
    assert changed == ["index.html", *listing]
    assert '<dt>CRS cut-off</dt><dd>333</dd>' in site.page("index.html")
    assert all("CRS cut-off</dt>" not in site.page(p) for p in pages[1:])
    assert_as_clean_build(site, tmp_path)


def spread_site(site) -> None:
    """Seven rounds, each with a pool distribution, whose records on "in numbers" (lowest and
    highest cut-off, largest and smallest round, largest drop and rise, longest and shortest
    gap) fall on rounds 1, 2, 3, 5, 6 and 7: round 4 (CEC, 7 July) holds none."""
    days = (1, 2, 4, 7, 11, 16, 22)  # gaps of 1..6 days
    cutoffs = (500, 480, 450, 481, 455, 482, 530)
    for n, (day, crs) in enumerate(zip(days, cutoffs, strict=True), start=1):
        site.write(f"content/draws/{n:04d}-2023-07-{day:02d}-x.md", draw_text(
            str(n), crs=crs, invitations=1000 + 100 * n, draw_date=f"2023-07-{day:02d}",
            category="stem" if n % 2 else "cec", extra=distribution(f"2023-07-{day:02d}", n)))


def test_a_round_edit_keeps_the_pages_that_do_not_show_it(site, tmp_path):
    """"In numbers" handed its per-year table and chart the years, which count whole with
    every round's facts, so any front-matter edit made it again (the same bytes); they get
    plain rows now (`trends.year_rows`). The pool page looped over the latest snapshot's
    rounds to link them, so every edit of the newest round made it again, with its table of
    every snapshot (0.5 s at 10,000 posts); it takes their links from its plain rows now.
    /feeds/ was handed the feeds, which count their entries: now plain rows (`FeedRow`). The
    categories page named each category's newest round from its entry: now from
    `Group.newest_round`, its URL and date."""
    spread_site(site)
    assert site.run("build") == 0
    numbers, pool, feeds = "numbers/index.html", "pool/index.html", "feeds/index.html"
    categories = "categories/index.html"
    middle = site.root / "content/draws/0004-2023-07-07-x.md"
    newest = site.root / "content/draws/0007-2023-07-22-x.md"

    def edit(path: Path, old: str, new: str):
        text = path.read_text()
        assert old in text
        return lambda: path.write_text(text.replace(old, new))

    # what they do not show: kept (the round's own page shows it)
    assert remade(site, [numbers, pool, feeds], edit(middle, "Federal Skilled Worker Program",
                                                     "Canadian Experience Class")) == []
    assert "Canadian Experience Class" in site.page("draws/4/index.html")
    assert remade(site, [pool], edit(newest, "crs_cutoff: 530", "crs_cutoff: 531")) == []
    assert remade(site, [pool, categories], edit(newest, "Federal Skilled Worker Program",
                                                 "Provincial Nominee Program")) == []
    assert '<a href="/draws/7/">round 7</a>' in site.page(pool)
    # what they show: made again
    assert remade(site, [numbers], edit(middle, "invitations: 1400", "invitations: 1450")) \
        == [numbers]
    assert ">9,850<" in site.page(numbers)  # the year's invitations: 1,100 + ... + 1,700 + 50
    assert remade(site, [pool], edit(newest, '"601-1200": 10\n', '"601-1200": 15\n')) == [pool]
    assert remade(site, [categories], edit(newest, "draw_date: 2023-07-22",
                                           "draw_date: 2023-07-23")) == [categories]
    assert '<a href="/draws/7/">July 23, 2023</a>' in site.page(categories)
    assert remade(site, [numbers, pool, feeds, categories], lambda: site.write(
        "content/draws/0008-2023-07-30-x.md", draw_text(
            "8", crs=470, invitations=1000, draw_date="2023-07-30", category="cec",
            extra=distribution("2023-07-30", 8)))) == [numbers, pool, feeds, categories]
    assert '<a href="/draws/8/">round 8</a>' in site.page(pool)
    assert '<td class="num">4</td>' in site.page(feeds)  # CEC's rounds: 2, 4, 6, 8
    assert_as_clean_build(site, tmp_path)


# ---- calls from templates: what Jinja passes, and what counts --------------------------------

class _Callable:
    @jinja2.pass_context
    def __call__(self, context, x):
        return f"obj:{context['n']}:{x}"


class _Record:
    def shout(self, x):
        return f"{x}!"


def _stop():
    raise StopIteration


CALLABLES = {
    "plain": lambda x, y=0: f"plain:{x}:{y}",
    "builtin": "a-b".replace,
    "method": _Record().shout,
    "context": jinja2.pass_context(lambda ctx, x: f"ctx:{ctx['n']}:{x}"),
    "env": jinja2.pass_environment(lambda env, x: f"env:{env.autoescape}:{x}"),
    "evalctx": jinja2.pass_eval_context(lambda ec, x: f"eval:{ec.autoescape}:{x}"),
    "obj": _Callable(),
    "stop": _stop,
}
CALLS = """{{ plain(1) }}{{ plain(1, y=2) }}{{ builtin("-", "+") }}{{ method("m") }}
{% for n in [7] %}{{ context(n) }}{{ plain(n) }}{% endfor %}{% set n = 5 %}{{ context(1) }}
{{ env(2) }}{{ evalctx(3) }}{{ obj(4) }}{{ stop() is defined }}
{% macro m(x) %}<{{ plain(x) }}{{ context(x) }}>{% endmacro %}{{ m("k") }}
{% block b %}{{ context(9) }}{{ plain(8) }}{% endblock %}"""


def test_template_calls_get_what_jinja_gives_them():
    """TracingContext.call calls plain functions and methods itself (Context.call asks each
    what to pass first): every kind of callable gets what Jinja's own call gives it."""
    def page(env: jinja2.Environment) -> str:
        env.globals.update(CALLABLES, n=3)
        return env.from_string(CALLS).render()

    ours = page(TracingEnvironment(autoescape=True))
    assert ours == page(jinja2.Environment(autoescape=True))
    assert all(part in ours for part in ("plain:1:2", "a+b", "m!", "ctx:5:1", "env:True:2",
                                         "eval:True:3", "obj:5:4", "False", "<plain:k:0"))


def test_a_model_value_handed_to_a_function_counts_whole():
    env = TracingEnvironment(autoescape=True)
    record = _Record()
    env.globals.update(CALLABLES)
    env.reads = reads = Reads()
    reads.register(record, (("ctx", "r"),))
    try:
        env.from_string("{{ plain(r) }}{{ method(r) }}").render(r=record)
    finally:
        env.reads = None
    assert reads.whole == {(("ctx", "r"),)}


@pytest.mark.parametrize("use", ["{{ [r] | join }}", "{{ plain((1, [r])) }}",
                                 "{{ plain({'k': r}) }}", "{{ plain({r: 1}) }}"])
def test_a_model_value_inside_a_literal_handed_to_a_function_counts_whole(use):
    """`[d] | join` writes out `d` whole: a record the page also read a field of counted by
    its shape alone, and the page was kept when another field changed."""
    env = TracingEnvironment(autoescape=True)
    env.globals.update(CALLABLES)
    env.trace_filters()
    record = _Tagged(("a", "b"))
    env.reads = reads = Reads()
    reads.values[(("ctx", "r"),)] = record  # (as a record read from `site` is)
    reads.register(record, (("ctx", "r"),))
    try:
        env.from_string("{{ r.tags | length }}" + use).render(r=record)
    finally:
        env.reads = None
    assert (("ctx", "r"),) in reads.whole
    assert ("v", (("ctx", "r"),)) in reads.leaves()


@dataclasses.dataclass(frozen=True)
class _Tagged:
    tags: tuple[str, ...]


@pytest.mark.parametrize("use", [
    "{{ 'b' in r.tags }}", "{{ r.tags == ('a', 'b') }}", "{{ (r.tags + ('c',)) | length }}",
    "{{ r.tags }}", "{{ r.tags ~ '' }}", "{{ [1] if r.tags < ('b',) }}", "{{ [r.tags] }}",
    "{{ '%r' % (r.tags,) }}", "{% for t in r.tags[1:] %}{{ t }}{% endfor %}",
])
def test_a_tuple_read_into_and_used_whole_counts_whole(use):
    """A tuple read from the model whose length a page took counted by its length only (its
    "shape"), but `in`, `==`, `<`, `+` and its text use its items: ('a', 'b') and ('a', 'c')
    gave the same check, and the page was kept stale; so did a slice, which Jinja takes
    without `getitem`. (Its methods, `index` and `count`, are recorded with what each call
    gave.)"""
    env = TracingEnvironment(autoescape=True)
    env.trace_filters()
    record = _Tagged(("a", "b"))
    env.reads = reads = Reads()
    reads.register(record, (("ctx", "r"),))
    try:
        env.from_string("{{ r.tags | length }}" + use).render(r=record)
    finally:
        env.reads = None
    path = (("ctx", "r"), (".", "tags"))
    assert path in reads.whole
    assert ("v", path) in reads.leaves()


def test_feed_html_made_or_found_by_workers_stays_in_the_cache(site, tmp_path, monkeypatch):
    """Workers send back only the feed-item HTML they made (the rest is in the store already):
    after a rebuild in workers the cache holds the same HTML as after a one-process build."""
    from eesite.cache import Cache
    from eesite.cli import main
    from eesite.settings import load_settings

    def stored(root: Path) -> set[str]:
        return set(Cache.open(root, load_settings(root)).html.values())

    small_site(site)
    monkeypatch.setenv("EESITE_JOBS", "1")
    clean_build(site, tmp_path)
    one_process = stored(tmp_path / "twin")
    monkeypatch.setattr(render, "CHECK_IN_WORKERS", 1)
    monkeypatch.setenv("EESITE_JOBS", "2")
    assert main(["build", "--source", str(site.root)]) == 0
    assert stored(site.root) == one_process
    site.write("content/draws/0003-2023-07-03-stem.md",  # its feeds are made again
               draw_text("3", crs=490, draw_date="2023-07-03", category="stem"))
    assert main(["build", "--source", str(site.root)]) == 0
    assert main(["build", "--source", str(site.root)]) == 0  # nothing changed: store left as is
    clean_build(site, tmp_path)
    assert stored(site.root) == stored(tmp_path / "twin")
    assert any("Round 3" in html for html in stored(site.root))


def test_draw_pages_share_their_reads_of_the_site(site, tmp_path):
    """A draw page gets its round's occupation list, year-to-date counts and next round in
    its context: its recorded reads of `site` are those of every draw page of its category
    (they differ only by the category whose feeds its head links: one fingerprint part a
    build for each), and what it shows of its own round still counts."""
    from eesite.cache import Cache
    from eesite.settings import load_settings

    small_site(site)
    assert site.run("build") == 0
    traces = [t for t in Cache.open(site.root, load_settings(site.root)).pages.values()
              if t.template == "draw.html"]
    assert len(traces) == 7
    assert len({t.paths for t in traces}) == 2  # stem and cec rounds
    assert {("v", (("g", "feed_links"), ("()", ((slug,), ())))) for slug in ("stem", "cec")} \
        == {leaf for t in traces for leaf in t.paths if leaf[1][0][0] == "g"}
    assert not any("/draws/" in repr(t.paths) for t in traces)
    assert {("v", (("ctx", name),)) for name in ("applied", "ytd", "after")} <= set(
        traces[0].context)
    # no pages, no occupation lists: two paths to the one empty tuple, nothing to check
    assert not any(kind == "i" for t in traces for kind, _ in t.context)
    site.write("content/draws/0001-2023-07-01-stem.md",  # later 2023 rounds count it
               draw_text("1", crs=481, draw_date="2023-07-01", invitations=4321))
    assert site.run("build") == 0
    assert "Draw 3 of 2023, 5,321 invitations so far" in site.page("draws/3/index.html")
    site.write("content/draws/0008-2023-07-08-cec.md", draw_text("8", draw_date="2023-07-08"))
    assert site.run("build") == 0
    assert 'rel="next" href="/draws/8/"' in site.page("draws/7/index.html")
    assert_as_clean_build(site, tmp_path)


def test_feeds_whose_items_are_unchanged_are_kept_not_made(site, tmp_path, monkeypatch):
    """A feed is made again only when one of its items (or the feed) changed, and then only
    the changed items' HTML is made (the others' is in the cache): an edit of a round in no
    feed makes none, unless a round in a feed compares with it; the result is a clean
    build's."""
    from eesite import feeds

    made: list[str] = []  # the feeds made (their RSS file)
    items: list[str] = []  # the items whose HTML was made
    real_rss, real_html = feeds.rss, feeds.feed_html
    monkeypatch.setattr(feeds, "rss", lambda site_, feed, *a: made.append(feed.key) or
                        real_rss(site_, feed, *a))
    monkeypatch.setitem(feeds.WRITERS, "rss", feeds.rss)
    monkeypatch.setattr(feeds, "feed_html", lambda fragment, base: items.append(
        base.removeprefix("https://example.org")) or real_html(fragment, base))
    monkeypatch.setenv("EESITE_JOBS", "1")  # (a spy sees only its own process)
    site.write("pyproject.toml", (site.root / "pyproject.toml").read_text()
               + "feed_length = 2\n")
    small_site(site)  # rounds 1-7 of July 2023, stem (odd) and cec (even); two articles
    assert site.run("build") == 0  # feeds: articles (all), rounds 7, 5 (stem), 6, 4 (cec)
    assert sorted(made) == ["all", "cec", "stem"]

    def edit(n: int, crs: int) -> None:
        made.clear()
        items.clear()
        site.write(f"content/draws/{n:04d}-2023-07-0{n}-stem.md",
                   draw_text(str(n), crs=crs, draw_date=f"2023-07-0{n}"))
        assert site.run("build") == 0

    edit(1, 470)  # in no feed, and no round in a feed compares with it
    assert made == [] and items == []
    edit(7, 499)
    assert made == ["stem"] and items == ["/draws/7/"]  # round 5's item as it was
    assert "CRS cut-off: <strong>499</strong>" in html.unescape(
        site.page("categories/stem/feed.xml"))
    edit(3, 400)  # in no feed, but round 5's item compares with it
    assert made == ["stem"] and items == ["/draws/5/"]
    assert "(+85)" in html.unescape(site.page("categories/stem/feed.xml"))
    made.clear()
    site.write("templates/feed_item.html", (site.root / "templates/feed_item.html")
               .read_text().replace("Programs covered:", "Programmes:"))
    assert site.run("build") == 0  # feeds made again, and no page: their traces still kept
    assert sorted(made) == ["all", "cec", "stem"]
    edit(1, 460)
    assert made == []
    assert_as_clean_build(site, tmp_path)


def test_a_feed_item_that_calls_feed_links_is_never_kept_by_its_key(site, monkeypatch):
    """`feed_links` reads the site (its calls are recorded like reads of `site`), which an
    item's key does not hold: items whose template calls it make their feeds every build,
    as before feeds were kept."""
    from eesite import feeds

    made: list[str] = []
    real = feeds.rss
    monkeypatch.setattr(feeds, "rss", lambda site_, feed, *a: made.append(feed.key) or
                        real(site_, feed, *a))
    monkeypatch.setitem(feeds.WRITERS, "rss", feeds.rss)
    monkeypatch.setenv("EESITE_JOBS", "1")
    item = site.root / "templates/feed_item.html"
    site.write("templates/feed_item.html", item.read_text().replace(
        "<p>Source:", "<p>{{ feed_links() | length }} feeds.</p>\n<p>Source:"))
    small_site(site)
    assert site.run("build") == 0
    made.clear()
    site.write("content/draws/0001-2023-07-01-stem.md",  # in no feed's latest items
               draw_text("1", crs=470, draw_date="2023-07-01"))
    assert site.run("build") == 0
    assert sorted(made) == ["all", "cec", "stem"]
    assert "3 feeds." in site.page("categories/cec/feed.xml")


def test_kept_feeds_count_the_installed_feedgen_and_lxml():
    """Their versions decide the XML written: an upgrade makes every feed again."""
    from importlib.metadata import version

    from eesite.feeds import _writer_stamp

    stamp = dict(_writer_stamp())
    assert stamp["feedgen"] == (f"feedgen-{version('feedgen')}.dist-info",)
    assert stamp["lxml"] == (f"lxml-{version('lxml')}.dist-info",)


def test_a_feed_item_that_reads_the_site_makes_its_feeds_every_build(site, tmp_path):
    """feed_item.html reading a `site` value is not covered by an item's key: its feeds are
    then made every build, so they show that value as it is now."""
    small_site(site)
    item = site.root / "templates/feed_item.html"
    site.write("templates/feed_item.html", item.read_text().replace(
        "<p>Source:", "<p>{{ site.draws | length }} rounds on this site.</p>\n<p>Source:"))
    assert site.run("build") == 0
    assert "7 rounds on this site." in site.page("categories/cec/feed.xml")
    site.write("content/draws/0008-2023-06-01-stem.md",  # older: in no cec item's comparison
               draw_text("8", draw_date="2023-06-01"))
    assert site.run("build") == 0
    assert "8 rounds on this site." in site.page("categories/cec/feed.xml")
    assert_as_clean_build(site, tmp_path)


def test_a_build_that_finds_every_text_in_the_cache_makes_no_markdown_converter(
        site, monkeypatch):
    """Making the converter (with its extensions) is skipped when no text is to convert: a
    front-matter edit finds every post's HTML in the cache."""
    made = []
    real = render.new_markdown
    monkeypatch.setattr(render, "new_markdown", lambda: made.append(1) or real())
    monkeypatch.setenv("EESITE_JOBS", "1")
    small_site(site)
    assert site.run("build") == 0
    assert made
    made.clear()
    site.write("content/draws/0003-2023-07-03-stem.md",
               draw_text("3", crs=300, draw_date="2023-07-03"))
    assert site.run("build") == 0
    assert made == [] and "<dd>300</dd>" in site.page("draws/3/index.html")
    site.write("content/draws/0003-2023-07-03-stem.md",
               draw_text("3", crs=300, draw_date="2023-07-03", body="New *prose*."))
    assert site.run("build") == 0
    assert made and "<em>prose</em>" in site.page("draws/3/index.html")


def test_a_full_build_takes_each_body_digest_from_the_loader_not_from_hashing_again(
        site, monkeypatch):
    """A body's digest keys its HTML. The loader takes it when it parses the post and keeps
    it in the posts store, so a front-matter edit's build (which checks every page) does not
    hash the 10,000 bodies again (~0.05 s), and the HTML found is the right one."""
    from eesite.cache import digest

    hashed: list[str] = []
    monkeypatch.setattr(render, "digest", lambda data: hashed.append(data) or digest(data))
    monkeypatch.setenv("EESITE_JOBS", "1")
    small_site(site)
    assert site.run("build") == 0
    bodies = {"Editor's prose.\n", "Some *text*.\n"}
    hashed.clear()
    site.write("content/draws/0003-2023-07-03-stem.md",
               draw_text("3", crs=300, draw_date="2023-07-03", body="Other prose."))
    assert site.run("build") == 0
    assert "<dd>300</dd>" in site.page("draws/3/index.html")
    assert "<p>Other prose.</p>" in site.page("draws/3/index.html")
    assert "<p>Editor's prose.</p>" in site.page("draws/4/index.html")
    assert not [data for data in hashed if data in bodies or data == "Other prose.\n"]


def test_traces_of_pages_that_read_alike_hold_one_tuple_and_the_store_keeps_it_once(site):
    """Pages of one kind load the same templates and read the same (`Trace.templates`,
    `paths`, `context`): each trace used to hold its own equal tuples, and the cache's pickles
    stored and unpickled them once a page (22,000 traces: 0.10 s to load, now 0.05 s). They
    are one object now, in the build that makes the traces and in the store it saves."""
    import pickle

    from eesite.build import Options, build
    from eesite.cache import Cache
    from eesite.settings import load_settings

    small_site(site)
    settings = load_settings(site.root)
    cache = Cache.open(site.root, settings)
    build(Options(source=site.root, output=site.output), settings, cache)  # in this process
    made = [t for t in cache.pages.values() if t.template == "draw.html"]
    assert len(made) == 7
    for field in ("templates", "paths", "context"):  # (paths: one for each category's pages)
        values = [getattr(t, field) for t in made]
        assert len({id(v) for v in values}) == len(set(values)) <= 2, field
    stored = pickle.loads(pickle.dumps({t.output: t for t in made}))  # as a store shard does
    assert len({id(t.context) for t in stored.values()}) == 1
    fresh = Cache.open(site.root, load_settings(site.root)).pages  # saved, loaded again
    assert {t.context for t in fresh.values() if t.template == "draw.html"} == {made[0].context}


def test_a_page_that_asks_for_the_feeds_of_another_category_follows_them(site, tmp_path):
    """`feed_links` looks through the site's categories in Python, where no trace sees it: its
    calls are recorded with what they gave (`TracingEnvironment.recorded`). A theme whose 404
    page links the trades feeds shows them once the first trades round is published; that
    page was kept as it was before."""
    small_site(site)  # stem and cec rounds only
    page = site.root / "templates/404.html"
    site.write("templates/404.html", page.read_text().replace(
        "<h1>Page not found</h1>", "<h1>Page not found</h1>\n<p>Trades: {% for f in "
        "feed_links('trades') %}<a href=\"{{ f.path }}\">{{ f.label }}</a> {% endfor %}</p>"))
    assert site.run("build") == 0
    assert "/categories/trades/" not in site.page("404.html")
    site.write("content/draws/0008-2023-07-08-trades.md",
               draw_text("8", draw_date="2023-07-08", category="trades"))
    assert site.run("build") == 0
    assert 'href="/categories/trades/feed.xml"' in site.page("404.html")
    assert_as_clean_build(site, tmp_path)


def test_what_an_imported_template_reads_at_its_top_level_counts_for_every_page(site, tmp_path):
    """Jinja runs an imported template's top-level code once a build and keeps the module:
    a value it reads there (outside its macros) was recorded only for the first page that
    imported it, and a later page that showed it through a macro was kept stale; so were the
    calls of a method read there. Those reads are recorded apart and count for every page
    that imports the template, and such a method's calls for the page that makes them."""
    macros, page = (site.root / "templates" / name for name in ("macros.html", "404.html"))
    stock_macros, stock_page = macros.read_text(), page.read_text()

    def theme(top: str, macro: str) -> None:
        site.write("templates/macros.html", stock_macros + top + "\n"
                   + "{% macro shown() %}" + macro + "{% endmacro %}\n")
        site.write("templates/404.html", stock_page.replace(
            '{% extends "base.html" %}', '{% extends "base.html" %}\n'
            '{% from "macros.html" import shown %}').replace(
            "<h1>Page not found</h1>", "<h1>Page not found</h1>\n<p>{{ shown() }}</p>"))

    small_site(site)
    theme("{% set newest = site.latest_draw %}", "Newest: round {{ newest.draw.round }}")
    assert site.run("build") == 0
    assert "Newest: round 7" in site.page("404.html")
    site.write("content/draws/0008-2023-07-08-cec.md", draw_text("8", draw_date="2023-07-08"))
    assert site.run("build") == 0
    assert "Newest: round 8" in site.page("404.html")
    theme("{% set standing = site.analytics.year_to_date.get %}",
          "{{ standing('/draws/3/').invitations }} invited in 2023 up to round 3")
    assert site.run("build") == 0
    assert "1500 invited in 2023 up to round 3" in site.page("404.html")
    site.write("content/draws/0002-2023-07-02-stem.md",  # the same rounds in the same order
               draw_text("2", crs=482, draw_date="2023-07-02", category="cec", invitations=900))
    assert site.run("build") == 0
    assert "1900 invited in 2023 up to round 3" in site.page("404.html")
    assert_as_clean_build(site, tmp_path)


def test_a_template_loaded_by_name_at_the_top_of_an_imported_one_is_recorded(site, tmp_path):
    """A template that an imported template loads at its top level by a name worked out as
    it runs cannot be seen in its source (`with_imports`): the load counts for every page
    that imports it, so an edit of that template remakes them."""
    site.write("templates/part.html", "{% macro shown() %}Part one{% endmacro %}\n")
    site.write("templates/macros2.html", '{% set which = "part.html" %}{% from which import '
               'shown %}{% macro shown2() %}{{ shown() }}{% endmacro %}\n')
    page = site.root / "templates/404.html"
    site.write("templates/404.html", page.read_text().replace(
        '{% extends "base.html" %}', '{% extends "base.html" %}\n'
        '{% from "macros2.html" import shown2 %}').replace(
        "<h1>Page not found</h1>", "<h1>Page not found</h1>\n<p>{{ shown2() }}</p>"))
    small_site(site)
    assert site.run("build") == 0
    assert "Part one" in site.page("404.html")
    site.write("templates/part.html", "{% macro shown() %}Part two{% endmacro %}\n")
    assert site.run("build") == 0
    assert "Part two" in site.page("404.html")
    assert_as_clean_build(site, tmp_path)


def test_the_html_store_is_read_a_shard_at_a_time_and_a_lost_shard_costs_only_its_html(
        tmp_path, monkeypatch):
    """The HTML store's keys come from a small index: a lookup reads the one shard that
    holds the key, and a change writes only the shards whose keys change. A shard that is
    lost (not written, damaged) only makes its HTML be made again: its keys are listed but
    not found, never found wrong. A cache without an index (an older eesite's) is read whole
    once and the index saved."""
    from eesite import cache as cache_module
    from eesite.cache import CACHE_DIR, Cache, shard_of

    values = {f"key{i}": f"<p>{i}</p>" for i in range(100)}
    first = Cache(tmp_path, "k")
    first.keep_html(set(values), values)
    first.save()
    read: list[str] = []
    real = cache_module.load
    monkeypatch.setattr(cache_module, "load",
                        lambda root, name, key: read.append(name) or real(root, name, key))
    again = Cache(tmp_path, "k")
    assert "key7" in again.html and "nokey" not in again.html and read == ["html.keys"]
    shard = shard_of("key7")
    assert again.html.get("key7") == "<p>7</p>" and read == ["html.keys", f"html.{shard:02x}"]
    files = tmp_path / CACHE_DIR
    stamps = {p.name: p.stat().st_mtime_ns for p in files.glob("html.*.pickle")}
    again.keep_html(set(values) - {"key7"}, {"new": "<p>new</p>"})  # "new" is not wanted
    again.save()
    rewritten = {p.name for p in files.glob("html.*.pickle")
                 if p.stat().st_mtime_ns != stamps.get(p.name)}
    assert rewritten == {f"html.{shard:02x}.pickle", "html.keys.pickle"}
    (files / f"html.{shard:02x}.pickle").unlink()  # lost
    third = Cache(tmp_path, "k")
    lost = {k for k in values if shard_of(k) == shard} - {"key7"}
    assert lost and all(k in third.html and third.html.get(k) is None for k in lost)
    assert third.html.get("key8" if shard_of("key8") != shard else "key9") is not None
    remade = {k: values[k] for k in sorted(lost)[:2]}  # made again: stored again
    third.keep_html(set(third.html), remade)
    third.save()
    assert {k: Cache(tmp_path, "k").html.get(k) for k in remade} == remade
    lost -= remade.keys()
    (files / "html.keys.pickle").unlink()  # no index: read whole, and the index saved
    fourth = Cache(tmp_path, "k")
    assert set(fourth.html) == set(values) - lost - {"key7"}
    fourth.keep_html(set(fourth.html), {})
    fourth.save()
    assert (files / "html.keys.pickle").exists()
    read.clear()
    assert len(Cache(tmp_path, "k").html) == len(fourth.html) and read == ["html.keys"]


def test_a_page_its_check_keeps_never_reads_its_html(site, tmp_path, monkeypatch):
    """A round page counts its text whole, by the digest of its Markdown: checking it needs
    no HTML (`Renderer.markdown_key`). After a cut-off edit only the pages made again, and
    the feed items made again, ask for the HTML of their text (at 10,000 posts the checks
    read the whole 31 MB store for nothing)."""
    monkeypatch.setenv("EESITE_JOBS", "1")
    asked: list[str] = []
    real = render.Renderer.markdown
    monkeypatch.setattr(render.Renderer, "markdown",
                        lambda self, entry: asked.append(entry.post.source) or real(self, entry))
    small_site(site)
    assert site.run("build") == 0
    assert len(set(asked)) == 9
    asked.clear()
    site.write("content/draws/0003-2023-07-03-stem.md",
               draw_text("3", crs=300, draw_date="2023-07-03", category="stem"))
    assert site.run("build") == 0
    assert "content/draws/0003-2023-07-03-stem.md" in asked
    for unaffected in ("0001-2023-07-01-stem", "0002-2023-07-02-cec", "0006-2023-07-06-cec"):
        assert f"content/draws/{unaffected}.md" not in asked
    assert "content/posts/hello.md" not in asked
    assert_as_clean_build(site, tmp_path)


def test_html_a_lost_shard_held_is_made_once_and_stored_again(site, tmp_path, monkeypatch):
    """The index lists a text's HTML that its shard lacks (the shard lost, a save that
    failed, another process): a page that needs it makes it, in a forked worker too, and the
    build stores it again, so the next builds find it (it used to be made on every build)."""
    monkeypatch.setattr(render, "CHECK_IN_WORKERS", 1)
    monkeypatch.setenv("EESITE_JOBS", "2")
    small_site(site)
    assert site.run("build") == 0
    converted = tmp_path / "converted"
    real = render.new_markdown

    def counting():
        md = real()
        convert = md.convert

        def counted(text):
            with converted.open("a") as f:
                f.write(f"{os.getpid()}\n")
            return convert(text)

        md.convert = counted
        return md

    monkeypatch.setattr(render, "new_markdown", counting)
    for shard in (site.root / ".eesite-cache").glob("html.[0-9a-f][0-9a-f].pickle"):
        shard.unlink()  # every value lost, the index kept
    counts = []
    for note in ("<!-- one -->", "<!-- two -->"):  # every round page made again
        site.write("templates/draw.html", (site.root / "templates/draw.html").read_text()
                   .replace("{% block content %}", "{% block content %}" + note, 1))
        assert site.run("build") == 0
        counts.append(len(converted.read_text().split()) if converted.exists() else 0)
        converted.unlink(missing_ok=True)
    assert counts[0] >= 1 and counts[1] == 0
    assert "<p>Editor" in site.page("draws/3/index.html")


def test_a_kept_feed_asks_the_index_for_its_items_html_not_the_store(site, monkeypatch):
    """A feed is kept when the key of every item's HTML is in the store: asked of the index
    (`_Items.stored`), without reading the HTML (at 10,000 posts, the shards holding the
    items of 48 feeds)."""
    from eesite import feeds

    monkeypatch.setenv("EESITE_JOBS", "1")
    small_site(site)
    assert site.run("build") == 0
    item_keys: set[str] = set()
    fetched: list[str] = []
    real_key, real_get = feeds._Items.key, render._Html.get
    monkeypatch.setattr(feeds._Items, "key",
                        lambda self, e: item_keys.add(k := real_key(self, e)) or k)
    monkeypatch.setattr(render._Html, "get",
                        lambda self, key: fetched.append(key) or real_get(self, key))
    site.write("templates/archive.html", (site.root / "templates/archive.html").read_text()
               .replace("{% block content %}", "{% block content %}<!-- edited -->", 1))
    assert site.run("build") == 0
    assert item_keys and not item_keys & set(fetched)


def test_made_html_is_kept_in_a_shard_of_its_own(site, monkeypatch):
    """HTML made from other HTML (a feed's items, `Renderer.memo`'s) is kept apart from the
    posts' HTML, in one shard: a feed made again reads its items from one file (by their
    digests, the 50 items of a feed lay in 12 of 16 shards: 0.05 s at 10,000 posts)."""
    from eesite import cache as cache_module
    from eesite.cache import MADE, Cache, html_shard_of
    from eesite.settings import load_settings

    monkeypatch.setenv("EESITE_JOBS", "1")
    small_site(site)
    assert site.run("build") == 0
    store = Cache.open(site.root, load_settings(site.root)).html
    made = {k for k in store if k.startswith(MADE)}
    assert made and {html_shard_of(k) for k in made} == {Cache.SHARDS}
    assert {html_shard_of(k) for k in set(store) - made} <= set(range(Cache.SHARDS))
    read: list[str] = []
    real = cache_module.load
    monkeypatch.setattr(cache_module, "load",
                        lambda root, name, key: read.append(name) or real(root, name, key))
    again = Cache.open(site.root, load_settings(site.root)).html
    assert all("<" in again.get(k) for k in made)
    assert [name for name in read if name.startswith("html")] == \
        ["html.keys", f"html.{Cache.SHARDS:02x}"]
    (site.root / CACHE_DIR / "html.keys.pickle").unlink()  # no index: every shard read
    rebuilt = Cache.open(site.root, load_settings(site.root)).html
    assert set(rebuilt) == set(store) and all("<" in rebuilt.get(k) for k in made)


def test_a_warm_build_lists_the_spare_in_another_process_while_it_makes_the_model(
        site, tmp_path, monkeypatch):
    """From `CHECK_IN_WORKERS` posts, a warm build that will update the spare has it listed
    by another process (`pool.ahead`) while it loads and makes the model, where one core was
    idle, and uses that listing; the site is the same as a clean build's."""
    from eesite import build as build_module
    from eesite import pool, write

    small_site(site)
    assert site.run("build") == 0
    site.write("content/draws/0003-2023-07-03-stem.md",
               draw_text("3", crs=490, draw_date="2023-07-03", category="stem"))
    assert site.run("build") == 0  # the first swap: a spare from now on
    asked, given, walked = [], [], []
    monkeypatch.setattr(build_module, "ahead",
                        lambda func, *args: asked.append(func) or pool.ahead(func, *args))
    real_walk = write._walk
    monkeypatch.setattr(write, "_walk", lambda top, strict: walked.append(top) or
                        real_walk(top, strict))  # (this process's walks: the child has its own)
    monkeypatch.setattr(build_module, "write_site",
                        lambda *a, spare=None, **k: given.append(spare) or
                        write.write_site(*a, spare=spare, **k))
    monkeypatch.setattr(build_module, "CHECK_IN_WORKERS", 1)
    monkeypatch.setattr(render, "CHECK_IN_WORKERS", 1)
    monkeypatch.setenv("EESITE_JOBS", "2")
    time.sleep(2.1)  # (past the racy window: the edit is seen by its stamp)
    site.write("content/draws/0003-2023-07-03-stem.md",
               draw_text("3", crs=491, draw_date="2023-07-03", category="stem"))
    assert site.run("build") == 0
    assert asked == [write.list_spare] and len(given) == 1  # listed by the other process
    assert isinstance(given[0], write.SpareListing)  # (None had it failed: listed at the write)
    assert not isinstance(given[0].answer, OSError)  # the spare's files, and used: this
    assert walked == [str(site.output)]  # process walked output/ only, not the spare
    assert ">491<" in site.page("draws/3/index.html")
    assert_as_clean_build(site, tmp_path)
