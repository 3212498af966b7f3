"""Live rebuilds of prose edits (delta.py): only the pages that show the text are made again,
and the result is byte-identical to a clean build."""

from __future__ import annotations

import os
import time

from eesite.build import Options, build
from eesite.cache import Cache
from eesite.delta import Session
from eesite.settings import load_settings
from tests.conftest import NOW, draw_text, post_text
from tests.test_incremental import clean_build, small_site, tree


def age(root, seconds: float = 60) -> None:
    past = time.time() - seconds
    for path in [root / "pyproject.toml", *(root / "templates").rglob("*"),
                 *(root / "content").rglob("*")]:
        os.utime(path, (past, past))


class Live:
    """Rebuilds the way `eesite serve` does: one cache and one session kept in memory."""

    def __init__(self, site):
        self.site = site
        self.settings = load_settings(site.root)
        self.cache = Cache.open(site.root, self.settings)
        self.session = Session()

    def build(self):
        options = Options(self.site.root, self.site.output, now=NOW, live=True)
        started = self.session.site is not None and dict(self.cache.pages)
        _, report = build(options, self.settings, self.cache, persist=False, session=self.session)
        remade = {p for p, t in self.cache.pages.items() if started and started.get(p) is not t}
        return report, remade


def test_a_prose_edit_remakes_its_page_and_the_feeds_that_carry_it(site, tmp_path):
    small_site(site)
    age(site.root)
    live = Live(site)
    live.build()
    site.write("content/draws/0007-2023-07-07-stem.md",  # the newest draw: in the feeds
               draw_text("7", crs=487, draw_date="2023-07-07", body="A *new* sentence."))
    report, remade = live.build()
    assert remade == {"draws/7/index.html", "feed.xml", "atom.xml", "feed.json",
                      "categories/stem/feed.xml", "categories/stem/atom.xml",
                      "categories/stem/feed.json"}  # not the listings, archive, years, pool
    assert "<em>new</em>" in site.page("draws/7/index.html")
    assert "A &lt;em&gt;new&lt;/em&gt; sentence." in site.page("feed.xml")
    assert tree(site.output) == clean_build(site, tmp_path)


def test_an_older_post_remakes_only_its_page_and_other_edits_take_the_full_build(site, tmp_path):
    small_site(site)
    site.write("content/posts/hello.md", post_text("Hello", extra="tags: [analysis]\n"))
    age(site.root)
    live = Live(site)
    live.build()
    site.write("content/draws/0001-2023-07-01-stem.md",
               draw_text("1", crs=481, draw_date="2023-07-01", body="Older prose, edited."))
    report, remade = live.build()
    assert report.written >= 1
    assert "draws/1/index.html" in remade
    assert not {"index.html", "draws/index.html", "sitemap.xml", "draws.json"} & remade
    assert tree(site.output) == clean_build(site, tmp_path)
    # front matter: the cut-off shows on listings, so those are made again (full build)
    site.write("content/draws/0001-2023-07-01-stem.md",
               draw_text("1", crs=399, draw_date="2023-07-01", body="Older prose, edited."))
    report, remade = live.build()
    assert "draws/index.html" in remade and "399" in site.page("draws/index.html")
    assert tree(site.output) == clean_build(site, tmp_path)
    # a template edit, then prose again right after it: still equal to a clean build
    site.write("templates/post.html", (site.root / "templates/post.html").read_text()
               .replace("</article>", "<p>Thanks.</p></article>"))
    live.build()
    site.write("content/posts/hello.md", post_text("Hello", extra="tags: [analysis]\n",
                                                   body="Changed words."))
    live.build()
    assert tree(site.output) == clean_build(site, tmp_path)


def test_eesite_build_takes_the_quick_path_for_prose_too(site, tmp_path):
    small_site(site)
    site.write("pyproject.toml", (site.root / "pyproject.toml").read_text() + "feed_length = 2\n")
    age(site.root)
    settings = load_settings(site.root)
    options = Options(site.root, site.output, now=NOW)
    build(options, settings)
    path = site.write("content/posts/other.md", post_text(
        "Other", date="2026-02-01T09:00:00-05:00", body="A sentence added by the editor."))
    cache = Cache.open(site.root, settings)
    _, report = build(options, settings, cache)
    assert "html" not in cache.loaded  # the quick path: no full render, no HTML store
    assert report.written == 4  # its page and the site feed in three formats
    assert "A sentence added by the editor." in site.page("posts/other/index.html")
    assert tree(site.output) == clean_build(site, tmp_path)
    os.utime(path, (time.time() - 30, time.time() - 30))
    site.write("content/draws/0007-2023-07-07-stem.md",  # in the feeds: several files, swapped
               draw_text("7", crs=487, draw_date="2023-07-07", body="Edited again."))
    cache = Cache.open(site.root, settings)
    _, report = build(options, settings, cache)
    assert "html" not in cache.loaded and report.written > 1
    assert tree(site.output) == clean_build(site, tmp_path)
    site.write("content/draws/0001-2023-07-01-stem.md",  # in no feed: one file, in place
               draw_text("1", crs=481, draw_date="2023-07-01", body="The oldest, edited."))
    cache = Cache.open(site.root, settings)
    _, report = build(options, settings, cache)
    assert "html" not in cache.loaded and report.written == 1
    assert tree(site.output) == clean_build(site, tmp_path)


def test_live_prose_edit_restores_output_files_deleted_by_hand(site, tmp_path):
    small_site(site)
    age(site.root)
    live = Live(site)
    live.build()
    (site.output / "feed.xml").unlink()
    (site.output / "draws/2/index.html").unlink()
    site.write("content/draws/0001-2023-07-01-stem.md",
               draw_text("1", crs=481, draw_date="2023-07-01", body="Prose, edited."))
    live.build()
    assert tree(site.output) == clean_build(site, tmp_path)


def test_a_prose_edit_that_leaves_the_feeds_as_they_were_stays_on_the_quick_path(site, tmp_path):
    small_site(site)
    site.write("pyproject.toml", (site.root / "pyproject.toml").read_text()
               + "feed_full_content = false\n")  # feeds carry summaries: the text is not in them
    age(site.root)
    settings = load_settings(site.root)
    options = Options(site.root, site.output, now=NOW)
    build(options, settings)
    site.write("content/draws/0007-2023-07-07-stem.md",  # the newest draw: in every feed
               draw_text("7", crs=487, draw_date="2023-07-07", body="Only the page changes."))
    cache = Cache.open(site.root, settings)
    _, report = build(options, settings, cache)
    assert "html" not in cache.loaded and report.written == 1
    assert tree(site.output) == clean_build(site, tmp_path)
