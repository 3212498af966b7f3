"""Incremental builds: after any sequence of edits, output/ equals a clean build, byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eesite import render
from eesite.cache import CACHE_DIR
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


def small_site(site) -> None:
    for n in range(1, 8):
        site.write(f"content/draws/{n:04d}-2023-07-0{n}-stem.md",
                   draw_text(str(n), crs=480 + n, draw_date=f"2023-07-0{n}",
                             category="stem" if n % 2 else "cec"))
    site.write("content/posts/hello.md", post_text("Hello", extra="tags: [analysis]\n"))
    site.write("content/posts/other.md", post_text("Other", date="2026-02-01T09:00:00-05:00"))


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
        lambda: site.write("pyproject.toml", (site.root / "pyproject.toml").read_text()
                           .replace('title = "Test Draws"', 'title = "Renamed Draws"')),
        lambda: site.write("content/draws/0001-2023-07-01-stem.md",
                           draw_text("1", crs=481, draw_date="2023-07-01", extra="draft: true\n")),
    ]
    assert site.run("build") == 0
    for edit in edits:
        edit()
        assert site.run("build") == 0
        built = tree(site.output)
        built.pop(".eesite-manifest")
        clean = clean_build(site, tmp_path)
        clean.pop(".eesite-manifest")
        assert built == clean
    assert "Thanks." in site.page("posts/bye/index.html")
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


def test_a_corrupt_or_planted_cache_is_discarded_not_trusted(site, tmp_path):
    small_site(site)
    assert site.run("build") == 0
    cache = site.root / CACHE_DIR
    stores = sorted(cache.glob("*.pickle"))
    assert stores
    stores[0].write_bytes(stores[0].read_bytes()[:-40])  # truncated
    for store in stores[1:]:
        store.write_bytes(b"eesite-cache 1\n" + b"0" * 32 + b"\ncos\nsystem\n(S'touch pwned'\ntR.")
    site.write("content/posts/hello.md", post_text("Hello again"))
    assert site.run("build") == 0
    assert not (site.root / "pwned").exists()
    built, clean = tree(site.output), clean_build(site, tmp_path)
    assert built == clean


def test_output_files_edited_by_hand_are_rewritten(site):
    small_site(site)
    assert site.run("build") == 0
    page = site.output / "draws/2/index.html"
    page.write_text("vandalised")
    (site.output / "posts/other/index.html").unlink()
    assert site.run("build") == 0
    assert "Round 2" in page.read_text()
    assert (site.output / "posts/other/index.html").is_file()
