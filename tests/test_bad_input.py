"""Bad input: whatever an editor saves (or an attacker commits), a build fails cleanly.

tests/corpus/bad/<case>/ holds files laid over a small valid site (content, templates or
settings); its EXPECTED file lists the problems the build must print, each as
`file:line: ...`. Every case must exit 1 and leave output/ byte for byte (and mtime) as it
was. Files saved with a BOM or CRLF line endings are not bad: they build exactly like their
plain twins.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from eesite.cli import main
from tests.conftest import SiteDir, draw_text, post_text, snapshot

CORPUS = Path(__file__).parent / "corpus" / "bad"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
HUGE = 50 * 1024 * 1024  # a 50 MB post, made by the test: too big to keep in git


def valid_site(site: SiteDir) -> None:
    site.write("content/draws/0253-2023-07-04-stem.md",
               draw_text("253", crs=500, draw_date="2023-07-04"))
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text("254"))
    site.write("content/posts/hello.md", post_text("Hello", extra="tags: [analysis]\n",
                                                   body="Some *text*.\n\n| a | b |\n|---|---|\n| 1 | 2 |"))


def expected(case: str) -> list[str]:
    if case == "huge-post":
        return [f"content/posts/huge.md:3: expected at most 5,000,000 bytes (max_post_bytes), "
                f"got {HUGE:,}; the limit is reached on this line"]
    return (CORPUS / case / "EXPECTED").read_text(encoding="utf-8").splitlines()


def lay_over(site: SiteDir, case: str) -> None:
    if case == "huge-post":
        with (site.root / "content/posts/huge.md").open("wb") as file:
            file.write(b'---\ntitle: "Huge"\n')
            file.truncate(HUGE)  # a sparse file of zero bytes after the title line
        return
    for path in sorted((CORPUS / case).rglob("*")):
        if path.is_file() and path.name != "EXPECTED":
            target = site.root / path.relative_to(CORPUS / case)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


@pytest.mark.parametrize("case", [*CASES, "huge-post"])
def test_bad_input_fails_clearly_and_writes_nothing(site: SiteDir, capsys, case: str):
    valid_site(site)
    assert site.run("build") == 0
    before = snapshot(site.output)
    capsys.readouterr()
    lay_over(site, case)
    assert site.run("build") == 1
    err = [line for line in capsys.readouterr().err.splitlines()
           if not line.startswith("building ")]  # the build's first line, not a problem
    want = expected(case)
    assert err[0] == (f"error: {len(want)} problem{'s' if len(want) > 1 else ''} found; "
                      "nothing was written")
    found = [line.strip() for line in err[1:]]
    assert found == want
    assert all(re.match(r"^[^:\s][^:]*:[1-9][0-9]*: ", line) for line in found)  # file:line:
    assert snapshot(site.output) == before


def test_every_corpus_case_says_what_it_expects():
    assert len(CASES) >= 20
    for case in CASES:
        assert expected(case), f"tests/corpus/bad/{case}/EXPECTED is missing or empty"


def windows_twin(source: Path, target: Path) -> None:
    """Copy a site with every text file saved the Windows way: a BOM and CRLF line endings."""
    for path in sorted(source.rglob("*")):
        if path.is_file() and "output" not in path.relative_to(source).parts:
            data = path.read_bytes()
            if path.suffix in (".md", ".html", ".toml", ".xml", ".txt"):
                data = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)


def test_bom_and_crlf_files_build_exactly_like_their_plain_twins(tmp_path: Path):
    plain = SiteDir(tmp_path / "plain")
    valid_site(plain)
    plain.write("content/posts/long.md", post_text("Long", extra="summary: |\n  Two\n  lines.\n",
                                                   body="Line one.\n\n```\ncode\n```\n\nEnd."))
    windows = tmp_path / "windows"
    windows_twin(plain.root, windows)
    assert (windows / "templates/base.html").read_bytes()[:4] == b"\xef\xbb\xbf{"
    assert plain.run("build") == 0
    assert main(["build", "--source", str(windows)]) == 0
    files = {k: v[0] for k, v in snapshot(plain.output).items()}
    twins = {k: v[0] for k, v in snapshot(windows / "output").items()}
    assert len(files) > 10 and files.keys() == twins.keys()
    assert [k for k in files if files[k] != twins[k]] == []


def test_a_fragment_made_once_reports_its_template_error_like_a_page(site: SiteDir, capsys):
    """The trend pages' navigation is rendered once a build outside any page
    (Renderer.fragment): an error in its macro is still a problem at its file and line, with
    nothing written, not a crash."""
    valid_site(site)
    assert site.run("build") == 0
    before = snapshot(site.output)
    macros = site.root / "templates/trends_macros.html"
    text = macros.read_text(encoding="utf-8")
    assert text.count("<li>Years: ") == 1
    site.write("templates/trends_macros.html", text.replace("<li>Years: ", "<li>{{ 1 // 0 }}"))
    line = 1 + text[:text.index("<li>Years: ")].count("\n")
    capsys.readouterr()
    assert site.run("build") == 1
    err = capsys.readouterr().err
    assert (f"templates/trends_macros.html:{line}: template error: ZeroDivisionError: "
            "integer division or modulo by zero") in err
    assert snapshot(site.output) == before


@pytest.mark.parametrize("how", ["macro renamed", "file deleted"])
def test_a_fragment_whose_macro_or_template_is_gone_says_so_at_that_file(site: SiteDir, capsys,
                                                                         how: str):
    valid_site(site)
    assert site.run("build") == 0
    macros = site.root / "templates/trends_macros.html"
    if how == "file deleted":
        macros.unlink()
        want = ("templates/trends_macros.html:1: template error: TemplateNotFound: no "
                "'trends_macros.html' in templates/; eesite renders its macro 'subnav' once a build")
    else:
        site.write("templates/trends_macros.html", macros.read_text(encoding="utf-8")
                   .replace("{% macro subnav(", "{% macro navigation("))
        want = ("templates/trends_macros.html:1: template error: expected a macro 'subnav' "
                "(eesite renders it once a build), found none")
    capsys.readouterr()
    assert site.run("build") == 1
    lines = [line.strip() for line in capsys.readouterr().err.splitlines()]
    assert want in lines
    assert all(re.match(r"^[^:\s][^:]*:[1-9][0-9]*: ", line) for line in lines[2:])  # file:line
