"""The write stage: atomic swap, kept mtimes, removed pages, and refusing what is not ours."""

from __future__ import annotations

import os

import pytest

from eesite.cache import digest
from eesite.errors import BuildError
from eesite.write import MANIFEST, safe_join, stage, staging_folder, write_site
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
    assert not list(tmp_path.glob(".out.eesite-*"))  # no staging left behind


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
    assert not list(tmp_path.glob(".out.eesite-*"))


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
