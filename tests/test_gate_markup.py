"""Quality gates on the bundled site's markup: every HTML page valid, the sitemap valid.

Both read the one build of the session (the `bundled_site` fixture); the Nu HTML Checker
(vnu.jar, installed from npm by `make tools`) checks every page in one Java run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from eesite.cli import main
from tests.conftest import ROOT, Served, tool

SCHEMAS = Path(__file__).parent / "schemas"


def _nu_check(output: Path, targets: list[Path]) -> None:
    """Every error the Nu HTML Checker finds in `targets` (files or folders below `output`)."""
    java = shutil.which("java")
    assert java, "Java is needed for the Nu HTML Checker: apt-get install default-jre-headless"
    result = subprocess.run(
        [java, "-jar", str(tool("vnu-jar/build/dist/vnu.jar")), "--skip-non-html",
         "--errors-only", "--format", "json", *map(str, targets)],
        capture_output=True, text=True, check=False)
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    errors = [f"{m.get('url', '?').removeprefix('file:' + str(output))}:"
              f"{m.get('lastLine', 0)}: {m.get('message')}" for m in messages]
    assert errors == [], f"{len(errors)} HTML errors:\n" + "\n".join(errors[:50])
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_html_page_passes_the_nu_html_checker(bundled_site: Served):
    pages = list(bundled_site.output.rglob("*.html"))
    assert len(pages) > 500  # every draw, article, listing and the 404 page
    _nu_check(bundled_site.output, [bundled_site.output])


def test_the_paged_archive_passes_the_nu_html_checker(tmp_path: Path):
    """The bundled rounds fit on one archive page; with `rounds_per_page = 100` the archive
    has pages with a pager, the charts page links the archive instead of its table, and the
    categories with more than 100 rounds are paged too."""
    site = tmp_path / "site"
    for name in ("content", "templates"):
        shutil.copytree(ROOT / name, site / name)
    settings = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "posts_per_page = 10\n" in settings
    (site / "pyproject.toml").write_text(
        settings.replace("posts_per_page = 10\n", "posts_per_page = 10\nrounds_per_page = 100\n"),
        encoding="utf-8")
    assert main(["build", "--source", str(site)]) == 0
    out = site / "output"
    pages = [out / "draws/index.html", *sorted((out / "draws/page").glob("*/index.html"))]
    assert len(pages) == 5 and 'rel="prev" href="/draws/page/4/"' in pages[-1].read_text()
    charts = out / "charts/index.html"
    assert 'in <a href="/draws/">the archive of every round</a>' in charts.read_text()
    paged = sorted(out.glob("categories/*/page/*/index.html"))
    assert paged and 'rel="prev"' in paged[-1].read_text()
    firsts = sorted({p.parents[2] / "index.html" for p in paged})
    _nu_check(out, [*pages, charts, *paged, *firsts])


def test_nu_html_checker_finds_errors(tmp_path: Path):
    """The gate can fail: a page with a skipped heading level and a stray end tag is caught."""
    (tmp_path / "bad.html").write_text('<!DOCTYPE html><html lang="en"><head><title>x</title>'
                                       "</head><body><h1>a</h1><h3>b</h3></span></body></html>")
    result = subprocess.run(["java", "-jar", str(tool("vnu-jar/build/dist/vnu.jar")),
                             "--errors-only", "--format", "json", str(tmp_path)],
                            capture_output=True, text=True, check=False)
    messages = json.loads(result.stderr)["messages"]
    assert result.returncode == 1 and len(messages) == 2


def test_sitemap_is_valid_against_the_sitemaps_org_schema(bundled_site: Served):
    schema = etree.XMLSchema(etree.parse(SCHEMAS / "sitemap.xsd"))
    sitemap = etree.parse(bundled_site.output / "sitemap.xml")
    assert schema.validate(sitemap), schema.error_log
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = sitemap.xpath("//s:loc/text()", namespaces=ns)
    assert all(loc.startswith(bundled_site.base + "/") for loc in locs)
    assert f"{bundled_site.base}/draws/294/" in locs and f"{bundled_site.base}/404.html" not in locs
    pages = {p for p in bundled_site.output.rglob("index.html")}
    assert len(locs) == len(pages)  # every page but 404.html, once


@pytest.mark.parametrize("bad", [
    "<url><loc>/relative/</loc></url>",
    "<url><loc>https://x.org/</loc><lastmod>yesterday</lastmod></url>",
    "<url><loc>https://x.org/</loc><priority>2</priority></url>",
])
def test_sitemap_schema_rejects_bad_entries(bad: str):
    schema = etree.XMLSchema(etree.parse(SCHEMAS / "sitemap.xsd"))
    doc = etree.fromstring(f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{bad}'
                           "</urlset>".encode())
    assert not schema.validate(doc)
