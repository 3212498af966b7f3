"""The write stage: atomic swap, kept mtimes, removed pages, and refusing what is not ours."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from eesite.cache import digest
from eesite.errors import BuildError
from eesite.write import (
    MANIFEST,
    list_spare,
    safe_join,
    spare_folder,
    stage,
    staging_folder,
    write_site,
)
from tests.conftest import snapshot


def test_first_write_then_unchanged_files_keep_mtime(tmp_path):
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    report = write_site({"index.html": b"a", "draws/1/index.html": b"b"}, out, src)
    assert (report.written, report.unchanged, report.removed) == (2, 0, 0)
    old = (out / "index.html").stat().st_mtime_ns
    os.utime(out / "draws/1/index.html", ns=(1, 1))
    report = write_site({"index.html": b"a", "draws/1/index.html": b"c"}, out, src)
    assert (report.written, report.unchanged) == (1, 1)
    assert (out / "index.html").stat().st_mtime_ns == old
    assert (out / "draws/1/index.html").read_bytes() == b"c"


def test_pages_no_longer_produced_are_removed_but_foreign_files_kept(tmp_path):
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    write_site({"posts/old/index.html": b"x", "index.html": b"i"}, out, src)
    (out / "CNAME").write_text("example.org")  # the user's own file
    report = write_site({"posts/new/index.html": b"y", "index.html": b"i"}, out, src)
    assert report.removed == 1
    assert not (out / "posts/old").exists() or not any((out / "posts/old").iterdir())
    assert (out / "posts/new/index.html").read_bytes() == b"y"
    assert (out / "CNAME").read_text() == "example.org"
    assert "CNAME" not in (out / MANIFEST).read_text()
    assert _leftovers(tmp_path) <= {".out.eesite-spare"}  # no staging left behind


def test_non_empty_folder_eesite_did_not_create_is_refused(tmp_path):
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    out.mkdir()
    (out / "thesis.tex").write_text("my work")
    before = snapshot(out)
    with pytest.raises(BuildError, match="not empty and eesite did not create it"):
        write_site({"index.html": b"a"}, out, src)
    assert snapshot(out) == before
    write_site({"index.html": b"a"}, out, src, force=True)
    assert (out / "thesis.tex").read_text() == "my work"  # --force still keeps it


def test_foreign_file_in_the_way_is_not_overwritten(tmp_path):
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    write_site({"index.html": b"a"}, out, src)
    (out / "about.html").write_text("mine")
    with pytest.raises(BuildError, match="a file eesite did not write is in the way"):
        write_site({"index.html": b"a", "about.html": b"generated"}, out, src)
    assert (out / "about.html").read_text() == "mine"


@pytest.mark.parametrize("where", ["same", "parent"])
def test_output_that_is_or_contains_the_source_is_refused(tmp_path, where):
    src = tmp_path / "site"
    src.mkdir()
    out = src if where == "same" else tmp_path
    with pytest.raises(BuildError, match="is or contains the source"):
        write_site({"index.html": b"a"}, out, src)


@pytest.mark.parametrize("rel", ["../x", "/etc/passwd", "a/../../x", "a\\..\\x", "", "a//b"])
def test_safe_join_refuses_paths_outside(tmp_path, rel):
    with pytest.raises(BuildError, match="outside the output folder"):
        safe_join(tmp_path, rel)


def test_unwritable_path_in_files_writes_nothing(tmp_path):
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    write_site({"index.html": b"a"}, out, src)
    before = snapshot(out)
    with pytest.raises(BuildError):
        write_site({"index.html": b"b", "../escape.html": b"x"}, out, src)
    assert snapshot(out) == before
    assert not (tmp_path / "escape.html").exists()


def test_build_swaps_the_whole_site_even_for_one_change_but_live_preview_writes_in_place(tmp_path):
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    write_site({"index.html": b"a", "b.html": b"b"}, out, src)
    before = out.stat().st_ino
    write_site({"index.html": b"a2", "b.html": b"b"}, out, src)  # `eesite build`: swapped in
    swapped = out.stat().st_ino
    assert swapped != before and (out / "index.html").read_bytes() == b"a2"
    write_site({"index.html": b"a3", "b.html": b"b"}, out, src, in_place_limit=100)  # serve
    assert out.stat().st_ino == swapped and (out / "index.html").read_bytes() == b"a3"


def _stage_all(out, files: dict[str, bytes]) -> dict:
    """What the render workers do on a large build: write each page into the staging folder."""
    return {rel: stage(str(staging_folder(out)), rel, data, digest(data))
            for rel, data in files.items()}


def test_staged_pages_are_swapped_in_and_unchanged_ones_keep_their_mtime(tmp_path):
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    write_site({"index.html": b"a", "draws/1/index.html": b"b"}, out, src)
    (out / "CNAME").write_text("example.org")
    old = (out / "index.html").stat()
    files = _stage_all(out, {"index.html": b"a", "draws/1/index.html": b"B", "c/index.html": b"c"})
    report = write_site({**files, "robots.txt": b"r"}, out, src)
    assert (report.written, report.unchanged) == (3, 1)
    assert (out / "index.html").stat().st_ino == old.st_ino  # the old file, not the staged copy
    assert (out / "index.html").stat().st_mtime_ns == old.st_mtime_ns
    assert [(out / p).read_bytes() for p in ("draws/1/index.html", "c/index.html", "robots.txt")] \
        == [b"B", b"c", b"r"]
    assert (out / "CNAME").read_text() == "example.org"
    assert report.index["c/index.html"] == ((files["c/index.html"].digest,
                                              *files["c/index.html"][1:]))
    assert report.index["c/index.html"][1:] == (1, (out / "c/index.html").stat().st_mtime_ns)
    assert _leftovers(tmp_path) <= {".out.eesite-spare"}


def test_live_preview_moves_a_few_staged_pages_in_place(tmp_path):
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    write_site({"index.html": b"a", "b.html": b"b"}, out, src)
    inode = out.stat().st_ino
    files = _stage_all(out, {"index.html": b"a2", "b.html": b"b"})
    report = write_site(files, out, src, in_place_limit=100)
    assert (report.written, report.unchanged) == (1, 1)
    assert out.stat().st_ino == inode and (out / "index.html").read_bytes() == b"a2"


def test_stage_refuses_paths_outside_the_staging_folder(tmp_path):
    with pytest.raises(BuildError):
        stage(str(tmp_path / "staging"), "../escape.html", b"x", digest(b"x"))
    assert not (tmp_path / "escape.html").exists()


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.glob(".out.eesite-*")}


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("listed", [False, True], ids=["spare listed while writing",
                                                     "spare listed before (during render)"])
def test_the_site_before_a_swap_is_kept_and_becomes_the_next_one(tmp_path, listed):
    """The spare (the site before the last swap) is brought up to date and swapped in: a few
    changed pages cost a few writes, and the old site stays whole until the swap. A build
    lists the spare while its workers render (`list_spare`): the same result."""
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    spare = spare_folder(out)
    a = {"index.html": b"a", "draws/1/index.html": b"1", "draws/2/index.html": b"2",
         "draws/3/index.html": b"3"}
    write_site(a, out, src)
    first_draws = os.open(out / "draws", os.O_RDONLY)  # held open: its inode is not reused
    (out / "CNAME").write_text("example.org")  # the user's own file
    b = {**a, "draws/2/index.html": b"2b"}
    write_site(b, out, src)
    assert _tree(spare) == {**_tree_of(a), "CNAME": b"example.org",
                            MANIFEST: (spare / MANIFEST).read_bytes()}
    kept = (out / "draws/3/index.html").stat()
    (spare / "junk.html").write_bytes(b"not for readers")  # whatever lands in the spare
    (spare / "draws/1/index.html").unlink()
    (spare / "draws/1/index.html").write_bytes(b"tampered")
    c = {"index.html": b"a", "draws/1/index.html": b"1", "draws/2/index.html": b"2b",
         "draws/3/index.html": b"3c", "draws/4/index.html": b"4"}
    report = write_site(c, out, src, spare=list_spare(out) if listed else None)
    assert (report.written, report.unchanged, report.removed) == (2, 3, 0)
    assert (out / "draws").stat().st_ino == os.fstat(first_draws).st_ino  # the spare's folder
    os.close(first_draws)
    assert _tree(out) == {**_tree_of(c), "CNAME": b"example.org",
                          MANIFEST: (out / MANIFEST).read_bytes()}
    assert (out / "draws/2/index.html").stat().st_mtime_ns == \
        (spare / "draws/2/index.html").stat().st_mtime_ns  # unchanged: the same file, linked
    assert _tree(spare) == {**_tree_of(b), "CNAME": b"example.org",
                            MANIFEST: (spare / MANIFEST).read_bytes()}  # the old site, whole
    assert (spare / "draws/3/index.html").stat().st_ino == kept.st_ino
    assert report.index["draws/4/index.html"][1:] == (1, (out / "draws/4/index.html").stat().st_mtime_ns)
    d = {"index.html": b"a"}
    write_site(d, out, src)  # pages removed: their folders go too
    assert _tree(out) == {"index.html": b"a", "CNAME": b"example.org",
                          MANIFEST: (out / MANIFEST).read_bytes()}
    assert not (out / "draws").exists()


def test_a_spare_is_not_kept_when_most_files_changed_and_is_not_needed(tmp_path):
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    write_site({"a.html": b"1", "b.html": b"1", "c.html": b"1"}, out, src)
    write_site({"a.html": b"2", "b.html": b"2", "c.html": b"1"}, out, src)
    assert not spare_folder(out).exists()  # it would be a second copy of most of the site
    write_site({"a.html": b"2", "b.html": b"2", "c.html": b"3"}, out, src)
    assert spare_folder(out).exists()
    shutil.rmtree(spare_folder(out))  # lost: the next swap assembles the site as before
    write_site({"a.html": b"4", "b.html": b"2", "c.html": b"3"}, out, src)
    assert _tree(out) == {"a.html": b"4", "b.html": b"2", "c.html": b"3",
                          MANIFEST: (out / MANIFEST).read_bytes()}


def _tree_of(files: dict[str, bytes]) -> dict[str, bytes]:
    return dict(sorted(files.items()))


def test_the_spare_never_hides_a_page_or_writes_through_a_file_not_eesites(tmp_path):
    out, src, elsewhere = tmp_path / "out", tmp_path / "src", tmp_path / "elsewhere"
    src.mkdir()
    elsewhere.mkdir()
    write_site({"a.html": b"1", "b.html": b"1", "c.html": b"1"}, out, src)
    write_site({"a.html": b"2", "b.html": b"1", "c.html": b"1"}, out, src)  # now a spare
    os.symlink(elsewhere, out / "docs")  # the user's own link, in the way of a new page
    with pytest.raises(OSError):  # loudly, as without a spare; never a page silently lost
        write_site({"a.html": b"2", "b.html": b"1", "c.html": b"1", "docs/index.html": b"d"},
                   out, src)
    assert not list(elsewhere.iterdir())  # nothing written through the link
    assert _tree(out)["a.html"] == b"2" and not (out / "docs" / "index.html").exists()
    (out / "docs").unlink()
    write_site({"a.html": b"3", "b.html": b"1", "c.html": b"1"}, out, src)  # a spare again
    (spare_folder(out) / "empty" / "deeper").mkdir(parents=True)  # a folder nothing wants
    write_site({"a.html": b"4", "b.html": b"1", "c.html": b"1"}, out, src)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "a.html", "b.html", "c.html"]


def test_a_spare_listed_early_and_changed_since_is_listed_again(tmp_path):
    """A build lists the spare while it renders; if another eesite process swaps meanwhile,
    the spare is another folder by the time of the write: the early listing is not used (it
    used to leave a file of that folder in output/ without a manifest entry, and a later
    build that made that path was refused as 'not eesite's')."""
    out, src = tmp_path / "out", tmp_path / "src"
    src.mkdir()
    same = {f"p{n}.html": b"same" for n in range(6)}
    write_site({"a.html": b"1", **same}, out, src)
    write_site({"a.html": b"2", **same, "z/index.html": b"z"}, out, src)
    listed = list_spare(out)  # this build renders...
    assert listed.current(out)
    write_site({"a.html": b"3", **same}, out, src)  # ...another one swaps meanwhile
    assert not listed.current(out)
    write_site({"a.html": b"4", **same}, out, src, spare=listed)
    assert _tree(out) == {"a.html": b"4", **same, MANIFEST: (out / MANIFEST).read_bytes()}
    write_site({"a.html": b"4", **same, "z/index.html": b"z2"}, out, src)
    assert (out / "z/index.html").read_bytes() == b"z2"
