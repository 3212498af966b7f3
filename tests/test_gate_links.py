"""Quality gate: no broken internal link or anchor on the bundled site.

linkchecker (from PyPI) crawls the site served by a real HTTP server on 127.0.0.1, from the
home page and the 404 page, following canonical links and the sitemap too; external links
(IRCC, canada.ca) are only checked for syntax, so the test needs no internet.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from tests.conftest import Served, serve

LINKCHECKER = Path(sys.executable).with_name("linkchecker")
CONFIG = """\
[checking]
threads=8
maxrequestspersecond=1000
[filtering]
checkextern=0
[AnchorCheck]
"""


def broken_links(base: str, tmp_path: Path, *starts: str) -> list[str]:
    """Every internal link that fails, or anchor that is missing, as `page: link: why`."""
    config = tmp_path / "linkcheckerrc"
    config.write_text(CONFIG)
    result = subprocess.run(
        [str(LINKCHECKER), "--config", str(config), "--no-status", "--output", "csv",
         *(base + s for s in starts)],
        capture_output=True, text=True, check=False, cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    lines = [ln for ln in result.stdout.splitlines() if ln and not ln.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines)), delimiter=";"))
    assert lines and "urlname" in lines[0], result.stdout[-2000:]
    return [f"{r['parentname'].removeprefix(base)}:{r['line']}: {r['urlname']}: "
            f"{r['result']} {r['warningstring']}".strip()
            for r in rows if r["valid"] != "True" or r["warningstring"]]


def test_no_broken_internal_links_or_anchors(bundled_site: Served, tmp_path: Path):
    broken = broken_links(bundled_site.base, tmp_path, "/", "/404.html")
    assert broken == [], f"{len(broken)} broken links:\n" + "\n".join(broken[:50])


def test_link_gate_finds_a_missing_page_and_a_missing_anchor(tmp_path: Path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><title>x</title><h1 id="top">x</h1>'
        '<a href="/gone/">gone</a> <a href="/#top">ok</a> <a href="/a.html#nowhere">a</a>'
        ' <a href="https://unreachable.invalid/">external</a>')
    (site / "a.html").write_text('<!DOCTYPE html><html lang="en"><title>a</title><p id="p">a')
    with serve(site) as base:
        broken = broken_links(base, tmp_path, "/")
    assert len(broken) == 2, broken
    assert any("/gone/" in b and "404" in b for b in broken)
    assert any("#nowhere" in b for b in broken)
