"""Whole builds through the CLI on small real sites: output, failures, drafts, collisions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from eesite.cli import main
from tests.conftest import ROOT, draw_text, post_text


def test_build_writes_pages_and_summary_line(site, capsys):
    site.write("content/draws/0253-2023-07-04-stem.md", draw_text("253", crs=500, draw_date="2023-07-04"))
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text("254"))
    site.write("content/posts/hello.md", post_text("Hello & <goodbye>", extra="tags: [analysis]\n"))
    assert site.run("build") == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("built 2 draws, 1 articles: ")
    assert " written, 0 unchanged, 0 removed in " in out[-1]
    for rel in ("index.html", "draws/index.html", "draws/254/index.html", "posts/hello/index.html",
                "categories/stem/index.html", "tags/analysis/index.html", "404.html",
                "sitemap.xml", "robots.txt", "draws.json", "static/style.css"):
        assert (site.output / rel).is_file(), rel
    page = site.page("draws/254/index.html")
    assert "−14" in page  # CRS change against round 253 (500 → 486)
    assert "Hello &amp; &lt;goodbye&gt;" in site.page("posts/hello/index.html")
    assert site.run("build") == 0
    # 14 pages and files, 3 site-wide and 3 STEM feeds, /feeds/; /numbers/, /charts/, /2023/,
    # static/charts.js, static/occupations.js
    assert ": 0 files written, 26 unchanged, 0 removed" in capsys.readouterr().out


def test_two_items_on_one_url_are_refused(site, capsys):
    """Two files of one kind with one slug are refused while loading (tests/corpus/bad); a
    page whose slug takes a section's URL is refused at render time."""
    site.write("content/posts/a.md", post_text("A"))
    site.write("content/pages/draws.md", post_text("Draws"))
    assert site.run("build") == 1
    err = capsys.readouterr().err
    assert "draws/index.html is also produced by content/pages/draws.md" in err
    assert not site.output.exists()


def test_drafts_and_future_posts_only_when_asked(site):
    site.write("content/posts/draft.md", post_text("D", extra="draft: true\n"))
    site.write("content/posts/later.md", post_text("L", date="2999-01-01T00:00:00+00:00"))
    site.write("content/posts/now.md", post_text("N"))
    assert site.run("build") == 0
    assert not (site.output / "posts/draft").exists() and not (site.output / "posts/later").exists()
    assert "/posts/draft/" not in (site.output / "sitemap.xml").read_text()
    assert site.run("build", "--drafts", "--future") == 0
    assert (site.output / "posts/draft/index.html").is_file()
    assert (site.output / "posts/later/index.html").is_file()
    assert site.run("build") == 0
    assert not (site.output / "posts/draft/index.html").exists()  # gone again


def test_renamed_slug_leaves_no_stale_page(site):
    site.write("content/posts/a.md", post_text("A", extra="slug: first\n"))
    assert site.run("build") == 0
    site.write("content/posts/a.md", post_text("A", extra="slug: second\n"))
    assert site.run("build") == 0
    assert not (site.output / "posts/first/index.html").exists()
    assert (site.output / "posts/second/index.html").is_file()


def test_check_validates_without_writing(site, capsys):
    site.write("content/posts/a.md", post_text())
    assert site.run("check") == 0
    assert not site.output.exists()
    site.write("content/posts/b.md", post_text(extra="tags: notalist\n"))
    assert site.run("check") == 1
    assert "content/posts/b.md:4: tags: expected a list" in capsys.readouterr().err


def test_new_draw_and_new_post_scaffold_valid_drafts(site, capsys):
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text())
    assert main(["new", "draw", "--source", str(site.root), "--category", "pnp",
                 "--date", "2026-09-01"]) == 0
    assert main(["new", "post", "Compétence linguistique en français", "--source",
                 str(site.root)]) == 0
    draw = site.root / "content/draws/0255-2026-09-01-pnp.md"
    post = site.root / "content/posts/competence-linguistique-en-francais.md"
    assert 'round: "255"' in draw.read_text() and "draft: true" in draw.read_text()
    assert "Compétence linguistique en français" in post.read_text()
    assert site.run("check", "--drafts") == 0
    assert main(["new", "post", "Compétence linguistique en français", "--source",
                 str(site.root)]) == 1  # never overwrites


def test_draws_json_is_open_data(site):
    site.write("content/draws/0254-2023-07-05-stem.md",
               draw_text(extra="tie_break: 2022-11-23T00:01:29Z\n"))
    assert site.run("build") == 0
    data = json.loads(site.page("draws.json"))
    assert data["count"] == 1
    assert data["draws"][0] == {
        "round": "254", "draw_date": "2023-07-05", "category": "stem",
        "draw_name": "STEM occupations (Version 1)", "list_version": None,
        "programs": "Federal Skilled Worker Program", "invitations": 500, "crs_cutoff": 486,
        "round_time": None, "tie_break": "2022-11-23T00:01:29Z",
        "url": "https://example.org/draws/254/", "ircc_url": None,
    }
    site.write("content/draws/0255-2023-07-06-stem.md", draw_text("255", draw_date="2023-07-06"))
    assert site.run("build") == 0
    rows = [line for line in site.page("draws.json").splitlines() if line.startswith("  {")]
    assert [json.loads(row.rstrip(","))["round"] for row in rows] == ["255", "254"]  # a line each


def test_draws_json_rows_are_as_json_writes_them(site):
    """Each row is exactly `json.dumps(row, ensure_ascii=False)` (eesite writes the rows
    itself, with json's string encoder), whatever the strings hold; U+2028/2029 escaped."""
    name = 'STEM \\"quoted\\" \\\\ back\\tslash, fédéral \\u2028 ligne'
    text = draw_text(extra="round_time: 2023-07-05T14:30:00-04:00\n"
                     "list_version: \"2023-Version 1\"\n").replace(
        '"STEM occupations (Version 1)"', f'"{name}"')
    site.write("content/draws/0254-2023-07-05-stem.md", text)
    assert site.run("build") == 0
    data = json.loads(site.page("draws.json"))
    row = data["draws"][0]
    assert row["draw_name"] == 'STEM "quoted" \\ back\tslash, fédéral \u2028 ligne'
    assert row["round_time"] == "2023-07-05T18:30:00Z" and row["list_version"] == "2023-Version 1"
    line = "  " + json.dumps(row, ensure_ascii=False).replace("\u2028", "\\u2028")
    assert line in site.page("draws.json").splitlines()


def test_draws_json_of_a_site_without_draws(site):
    site.write("content/posts/a.md", post_text())
    assert site.run("build") == 0
    assert json.loads(site.page("draws.json"))["draws"] == []


def test_output_inside_content_is_refused(site, capsys):
    site.write("content/posts/a.md", post_text())
    assert site.run("build", "--output", str(site.root / "content" / "out")) == 1
    assert "inside content/" in capsys.readouterr().err


def test_the_eesite_process_says_everything_and_exits_with_the_build_s_code(site, tmp_path):
    """`eesite build` ends its process without freeing the site object by object (cli._leave):
    what it prints still reaches a pipe, the cache is saved, and the exit code is the build's."""
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text("254"))

    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as on a
    # fresh machine: output to a pipe waits in a buffer until flushed

    def run(*command: str, closed: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "eesite", *command, "--source",
                               str(site.root)], capture_output=not closed, text=True,
                              cwd=tmp_path, env=buffered, check=False,
                              preexec_fn=(lambda: os.close(1)) if closed else None)  # `>&-`

    first = run("build")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("built 1 draws, 0 articles: ") and "building" in first.stderr
    again = run("build")  # the first process saved its cache and state before it left
    assert again.returncode == 0 and ": 0 files written, " in again.stdout
    assert (site.root / ".eesite-cache/state.pickle").is_file()
    assert run("check", closed=True).returncode == 0  # no stdout at all (cron's `>&-`)
    site.write("content/draws/0255-2023-07-06-stem.md", draw_text("255", crs="high"))
    failed = run("build")
    assert failed.returncode == 1 and "0255-2023-07-06-stem.md" in failed.stderr
    assert "nothing was written" in failed.stderr
    checked = run("check")
    assert checked.returncode == 1 and "0255-2023-07-06-stem.md" in checked.stderr
    probe = subprocess.run(  # main() itself returns, as benchmarks/run.py's probe needs
        [sys.executable, "-c", "import sys; from eesite.cli import main; sys.argv = "
         f"['eesite', 'check', '--source', {str(site.root)!r}]; print('returned', main())"],
        capture_output=True, text=True, cwd=tmp_path, env=buffered, check=False)
    assert probe.stdout.strip().endswith("returned 1"), probe.stderr


@pytest.mark.parametrize("command", [[], ["build"], ["check"], ["new"], ["import"]])
def test_every_command_has_help(command):
    result = subprocess.run([sys.executable, "-m", "eesite", *command, "--help"],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0 and "usage: eesite" in result.stdout


def test_a_second_eesite_process_waits_for_the_one_writing_the_site(site, tmp_path):
    """Two eesite processes on one site (a `serve` rebuild and an `eesite build`) would share
    the staging folder and the spare: the second waits for the first (an flock beside
    output/), says so, and then builds; the site equals a clean build."""
    import fcntl
    import threading
    import time

    from eesite.write import output_lock
    from tests.test_incremental import clean_build, small_site, tree

    small_site(site)
    assert main(["build", "--source", str(site.root)]) == 0
    site.write("content/draws/0003-2023-07-03-stem.md",
               draw_text("3", crs=300, draw_date="2023-07-03"))
    with output_lock(site.output):  # as another eesite process in the middle of its build
        proc = subprocess.Popen([sys.executable, "-m", "eesite", "build", "--source",
                                 str(site.root)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        said: list[str] = []
        reader = threading.Thread(target=lambda: said.extend(proc.stderr), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not any("waiting: another eesite process" in line for line in said):
            assert proc.poll() is None and time.monotonic() < deadline, said
            time.sleep(0.02)
        time.sleep(0.5)
        assert proc.poll() is None  # still waiting
        assert ">300<" not in site.page("draws/3/index.html")
    out, _ = proc.communicate(timeout=120)
    reader.join(timeout=10)
    assert proc.returncode == 0, said
    assert "built 7 draws" in out and "300" in site.page("draws/3/index.html")
    lock = site.output.parent / f".{site.output.name}.eesite-lock"
    with lock.open("rb") as f:  # released when the process ended
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    built, clean = tree(site.output), clean_build(site, tmp_path)
    assert built == clean


def test_files_put_into_output_between_builds_are_kept(site, tmp_path):
    """Every file in output/ that is not eesite's survives the builds after it, however it got
    there: into a page's folder, a new folder of them, a folder whose mtime was set back (tar,
    rsync), a folder tree prepared earlier and moved in, two of the user's folders swapped by
    renames. (A swap that listed only the folders changed since the last one, by their ctime,
    lost the last two: a moved folder's subfolders keep their old ctimes.)"""
    import shutil

    from tests.test_incremental import assert_as_clean_build, small_site

    def build(crs: int) -> None:
        site.write("content/draws/0003-2023-07-03-stem.md",
                   draw_text("3", crs=crs, draw_date="2023-07-03"))
        assert main(["build", "--source", str(site.root)]) == 0
        assert str(crs) in site.page("draws/3/index.html")

    small_site(site)
    build(300)
    ours = {"draws/2/notes.txt": "mine", "extra/deep/data.csv": "a,b", "CNAME": "example.org",
            "draws/5/kept-as-tar-left-it.txt": "tar", "assets/img/logo.png": "logo v1",
            "a/img/a.png": "a", "b/img/b.png": "b"}
    for rel, text in ours.items():
        site.write(f"output/{rel}", text)
    folder = site.output / "draws/5"
    os.utime(folder, ns=(folder.stat().st_atime_ns, 1_000_000_000))  # mtime back, ctime now
    prepared = {"img/logo.png": "logo v2", "img/banner.png": "banner"}
    for rel, text in prepared.items():  # the next version of the user's assets, made now
        site.write(f"new-assets/{rel}", text)
    build(301)
    build(302)
    assert {rel: site.page(rel) for rel in ours} == ours
    shutil.rmtree(site.output / "assets")
    (site.root / "new-assets").rename(site.output / "assets")  # deployed by a move
    (site.output / "a").rename(site.output / "t")  # the user swaps two of their folders
    (site.output / "b").rename(site.output / "a")
    (site.output / "t").rename(site.output / "b")
    ours = {**{rel: text for rel, text in ours.items() if not rel.startswith(("assets/", "a/",
                                                                               "b/"))},
            **{f"assets/{rel}": text for rel, text in prepared.items()},
            "a/img/b.png": "b", "b/img/a.png": "a"}
    for crs in (303, 304, 305):
        build(crs)
        assert {rel: site.page(rel) for rel in ours} == ours
    for rel in ours:
        (site.output / rel).unlink()
    for name in ("extra", "assets", "a", "b"):
        shutil.rmtree(site.output / name)
    assert_as_clean_build(site, tmp_path)
