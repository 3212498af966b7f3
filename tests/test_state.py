"""The no-change shortcut (state.py): nothing changed → nothing read, rendered or written; any
change to a source, an output file, the options or the moment → a real build."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from eesite.build import Options, build
from eesite.cache import Cache
from eesite.settings import load_settings
from tests.conftest import NOW, draw_text, post_text, snapshot
from tests.test_incremental import small_site


def age(root, seconds: float = 60) -> None:
    """Date every source file back, as if saved a minute ago (fresh stamps are not trusted)."""
    past = time.time() - seconds
    for folder in ("content", "templates"):
        for path in (root / folder).rglob("*"):
            os.utime(path, (past, past))
    os.utime(root / "pyproject.toml", (past, past))


def run(site, now=NOW, **options):
    """One build with a fresh cache object; (summary, report, names of the stores it read)."""
    settings = load_settings(site.root)
    cache = Cache.open(site.root, settings)
    summary, report = build(Options(site.root, site.output, now=now, **options), settings, cache)
    return summary, report, set(cache._stores)


def test_nothing_changed_reads_only_the_small_stores_and_touches_nothing(site):
    small_site(site)
    age(site.root)
    first, report, _ = run(site)
    assert report.written > 0
    before = snapshot(site.output)
    summary, report, read = run(site)
    assert (summary.draws, summary.articles) == (first.draws, first.articles) == (7, 2)
    assert report.written == report.removed == 0 and report.unchanged == first.files
    assert read == {"state", "output"}  # posts, HTML and page traces never loaded
    assert snapshot(site.output) == before


def test_a_changed_source_is_built(site):
    small_site(site)
    age(site.root)
    run(site)
    path = site.write("content/draws/0003-2023-07-03-stem.md",
                      draw_text("3", crs=311, draw_date="2023-07-03"))
    age(site.root, 30)  # even dated back, the stamp (size, mtime) differs from the recorded one
    _, report, read = run(site)
    assert "posts" in read and report.written > 0
    assert "311" in site.page("draws/3/index.html")
    os.utime(path, None)  # saved just now: too fresh to trust, so no shortcut either
    _, _, read = run(site)
    assert "posts" in read


def test_a_new_template_or_setting_is_built(site):
    small_site(site)
    age(site.root)
    run(site)
    site.write("templates/partial-new.html", "<p>unused</p>")
    age(site.root, 30)
    assert "posts" in run(site)[2]
    site.write("pyproject.toml", (site.root / "pyproject.toml").read_text()
               .replace('title = "Test Draws"', 'title = "Renamed"'))
    age(site.root, 20)
    run(site)
    assert "Renamed" in site.page("index.html")


def test_output_edited_or_deleted_by_hand_is_restored(site):
    small_site(site)
    age(site.root)
    run(site)
    good = site.page("draws/2/index.html")
    (site.output / "draws/2/index.html").write_text("vandalised", encoding="utf-8")
    (site.output / "draws/4/index.html").unlink()
    _, report, _ = run(site)
    assert report.written == 2
    assert site.page("draws/2/index.html") == good
    assert (site.output / "draws/4/index.html").is_file()


def test_other_options_or_another_moment_are_built(site):
    small_site(site)
    site.write("content/posts/later.md", post_text("Later", date="2027-03-01T09:00:00-05:00"))
    age(site.root)
    run(site)
    assert not (site.output / "posts/later/index.html").exists()
    _, _, read = run(site, now=NOW + timedelta(days=1))  # still before the later post
    assert read == {"state", "output"}
    _, report, read = run(site, now=datetime(2027, 3, 2, tzinfo=UTC))  # the later post is due
    assert "posts" in read and (site.output / "posts/later/index.html").is_file()
    run(site, now=NOW)  # back in time: it is withdrawn again
    assert not (site.output / "posts/later/index.html").exists()
    run(site, future=True)
    assert (site.output / "posts/later/index.html").is_file()


def test_an_output_file_touched_by_hand_is_restamped_so_the_shortcut_comes_back(site):
    small_site(site)
    age(site.root)
    run(site)
    os.utime(site.output / "draws/2/index.html")  # same bytes, another mtime
    _, report, read = run(site)
    assert "posts" in read and report.written == 0
    _, _, read = run(site)
    assert read == {"state", "output"}  # the index was brought up to date, not left stale


def test_posts_and_templates_in_linked_folders_are_stamped_too(site, tmp_path):
    small_site(site)
    elsewhere = tmp_path / "elsewhere"
    (site.root / "content/posts").rename(elsewhere)
    (site.root / "content/posts").symlink_to(elsewhere)
    age(site.root)
    for path in elsewhere.iterdir():
        os.utime(path, (time.time() - 60, time.time() - 60))
    run(site)
    run(site)
    (elsewhere / "hello.md").write_text(post_text("Hello, retitled", extra="tags: [analysis]\n"),
                                        encoding="utf-8")
    os.utime(elsewhere / "hello.md", (time.time() - 30, time.time() - 30))
    _, _, read = run(site)
    assert "posts" in read and "Hello, retitled" in site.page("posts/hello/index.html")


def test_a_lost_output_index_is_not_taken_for_an_unchanged_output(site):
    small_site(site)
    age(site.root)
    run(site)
    for store in (site.root / ".eesite-cache").glob("output*.pickle"):
        store.unlink()
    (site.output / "feed.xml").unlink()
    _, report, read = run(site)
    assert "posts" in read and (site.output / "feed.xml").is_file()


def test_a_rewrite_that_puts_the_old_mtime_back_is_seen(site):
    small_site(site)
    age(site.root)
    run(site)
    path = site.root / "content/draws/0003-2023-07-03-stem.md"
    st = os.stat(path)
    path.write_text(path.read_text().replace("crs_cutoff: 483", "crs_cutoff: 484"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # as `cp -p` or `touch -r` leave it
    assert os.stat(path).st_size == st.st_size
    run(site)
    assert "484" in site.page("draws/3/index.html")
