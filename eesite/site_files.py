"""The site-wide files built in Python, not from a template: the static files
(templates/static/** copied as they are), sitemap.xml, robots.txt and draws.json (open data).

Apart from render.py, which adds them to the site's pages: none needs Jinja or the Renderer.
Each function imports Page from render.py when called, as section modules do (render.py
imports this module: no import cycle).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from json.encoder import encode_basestring  # (json's C encoder where it is built)
from pathlib import Path
from typing import TYPE_CHECKING

from eesite.model import Site

if TYPE_CHECKING:  # render.py imports this module for the files render() adds
    from eesite.render import Page


def static_files(templates: Path) -> Iterator[Page]:
    """templates/static/** copied to static/** as they are."""
    from eesite.render import Page

    base = templates / "static"
    if base.is_dir():
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                rel = path.relative_to(base).as_posix()
                yield Page(f"static/{rel}", path.read_bytes(), f"templates/static/{rel}")


def _xml_text(text: str) -> str:
    """xml.sax.saxutils.escape (whose module loads urllib.request, http and ssl: 13 ms of
    every eesite command's start)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sitemap(site: Site, pages: list[Page]) -> Page:
    """sitemap.xml (sitemaps.org 0.9) of every HTML page with absolute URLs."""
    from eesite.render import Page

    rows = []
    for page in sorted((p for p in pages if p.in_sitemap), key=lambda p: p.path):
        url = "/" + page.path.removesuffix("index.html")
        lastmod = f"<lastmod>{page.lastmod.isoformat()}</lastmod>" if page.lastmod else ""
        rows.append(f"  <url><loc>{_xml_text(site.settings.absolute(url))}</loc>{lastmod}</url>")
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
           + "\n".join(rows) + "\n</urlset>\n")
    return Page("sitemap.xml", xml.encode("utf-8"), "sitemap.xml")


def robots(site: Site) -> Page:
    from eesite.render import Page

    text = f"User-agent: *\nAllow: /\n\nSitemap: {site.settings.absolute('/sitemap.xml')}\n"
    return Page("robots.txt", text.encode("utf-8"), "robots.txt")


def _or_null(text: str | None) -> str:
    return "null" if text is None else encode_basestring(text)


def draws_json(site: Site) -> Page:
    """Open data for readers who build trackers: every published draw, newest first."""
    from eesite.render import Page

    def moment(value: datetime | None) -> str | None:
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None

    # each row as json.dumps(row, ensure_ascii=False) writes it, its strings by json's own
    # (C) string encoder: json.dumps builds an encoder on every call (0.1 s of 10,000 rows)
    q, absolute = encode_basestring, site.settings.absolute
    rows = []
    for e in site.draws:
        d = e.draw
        rows.append(
            f'  {{"round": {q(d.round)}, "draw_date": "{d.draw_date.isoformat()}", '
            f'"category": {q(d.category)}, "draw_name": {q(d.draw_name)}, '
            f'"list_version": {_or_null(d.list_version)}, "programs": {q(d.programs)}, '
            f'"invitations": {int(d.invitations)}, "crs_cutoff": {int(d.crs_cutoff)}, '
            f'"round_time": {_or_null(moment(d.round_time))}, '
            f'"tie_break": {_or_null(moment(d.tie_break))}, "url": {q(absolute(e.url))}, '
            f'"ircc_url": {_or_null(d.ircc_url)}}}')
    data = {
        "source": "Immigration, Refugees and Citizenship Canada (IRCC), Express Entry rounds "
                  "of invitations; compiled by " + site.settings.title + ", not an IRCC product",
        "updated": site.updated.isoformat() if site.updated else None,
        "count": len(rows),
    }
    # One draw a line, as json.dumps writes each (readable and diff-friendly; an indented
    # dump of the whole runs json's pure-Python encoder: 0.5 s for 10,000 draws).
    text = ",\n".join(rows).replace("\u2028", "\\u2028").replace(
        "\u2029", "\\u2029")  # line breaks to some readers
    head = json.dumps(data, ensure_ascii=False, indent=1).removesuffix("\n}")
    text = f'{head},\n "draws": [' + (f"\n{text}\n ]" if text else "]") + "\n}\n"
    return Page("draws.json", text.encode("utf-8"), "draws.json")
