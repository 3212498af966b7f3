"""Stage 3, render: the Site model in, a mapping of output path → bytes out.

Rendering is a pure function of the model and the templates: it writes nothing, so a build
that fails here leaves output/ untouched, and the write stage can compare bytes to keep the
mtime of unchanged files. Every output path has one origin; two items on one path are an
error (Pelican refuses that too).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import jinja2
import markdown

from eesite import __version__
from eesite.errors import BuildError, Problem
from eesite.feeds import feed_links, feed_pages
from eesite.model import Entry, Site
from eesite.occupation_pages import occupation_pages
from eesite.trends import trend_pages

MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists", "toc", "attr_list", "abbr")


@dataclass(frozen=True)
class Page:
    """One file to write: where, what, and which input it came from (for error messages)."""

    path: str  # relative to output/, forward slashes
    data: bytes
    origin: str
    lastmod: datetime | None = None  # for the sitemap; None keeps the page out of it
    in_sitemap: bool = False


def url_to_path(url: str) -> str:
    """"/draws/254/" → "draws/254/index.html"."""
    return url.strip("/") + "/index.html" if url.strip("/") else "index.html"


# ---- filters -------------------------------------------------------------------------------

def num(value: int) -> str:
    return f"{value:,}"


def signed(value: int) -> str:
    """+12 / −12 / ±0, with a real minus sign."""
    return f"+{value:,}" if value > 0 else (f"−{-value:,}" if value < 0 else "±0")


def long_date(value: date | datetime) -> str:
    return f"{value:%B} {value.day}, {value.year}"


def utc_time(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    return f"{long_date(value)}, {value:%H:%M:%S} UTC"


def iso(value: date | datetime) -> str:
    return value.isoformat()


def json_ld(entry: Entry, site: Site) -> dict:
    """schema.org NewsArticle for a post page (search engines and link previews read it)."""
    post = entry.post
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": post.title,
        "datePublished": post.date.isoformat(),
        "dateModified": (post.updated or post.date).isoformat(),
        "url": site.settings.absolute(entry.url),
        "mainEntityOfPage": site.settings.absolute(entry.url),
        "inLanguage": site.settings.language,
        "publisher": {"@type": "Organization", "name": site.settings.title,
                      "url": site.settings.absolute("/")},
        "author": {"@type": "Organization", "name": site.settings.title},
    }
    if post.summary:
        data["description"] = post.summary
    if post.draw and post.draw.ircc_url:
        data["isBasedOn"] = post.draw.ircc_url
    return data


def make_environment(templates: Path, site: Site) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates, encoding="utf-8-sig"),  # a BOM is not output
        autoescape=True,  # everywhere: front matter and imported strings are never trusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=num, signed=signed, long_date=long_date, utc_time=utc_time, iso=iso,
                       absolute=site.settings.absolute)
    env.globals.update(site=site, settings=site.settings, version=__version__,
                       json_ld=lambda entry: json_ld(entry, site),
                       feed_links=lambda category="": feed_links(site, category))
    return env


def template_problem(err: Exception, templates: Path) -> Problem:
    """The template file and line an exception came from, as a Problem."""
    if isinstance(err, jinja2.TemplateSyntaxError):
        name = err.filename or err.name or "?"
        return Problem(_rel(name, templates), err.lineno or 0, "", f"template syntax: {err.message}")
    where = ("templates", 0)
    for frame, line in traceback.walk_tb(err.__traceback__):
        filename = frame.f_code.co_filename
        if filename.endswith((".html", ".xml", ".txt")):
            where = (_rel(filename, templates), line)
    if isinstance(err, jinja2.TemplateNotFound):  # say where it was looked for, relatively
        return Problem(where[0], where[1], "", f"template error: TemplateNotFound: no "
                       f"{err.name!r} in {templates.name}/")
    return Problem(where[0], where[1], "", f"template error: {type(err).__name__}: {err}")


def _rel(filename: str, templates: Path) -> str:
    path = Path(filename)
    try:
        return (templates.name / path.resolve().relative_to(templates.resolve())).as_posix()
    except ValueError:
        return filename


class Renderer:
    """Renders every page of a Site; collects template problems instead of stopping at one."""

    def __init__(self, site: Site, templates: Path):
        self.site = site
        self.templates = templates
        self.env = make_environment(templates, site)
        self.md = markdown.Markdown(extensions=list(MARKDOWN_EXTENSIONS), output_format="html")
        self.problems: set[Problem] = set()

    def markdown(self, entry: Entry) -> str:
        self.md.reset()
        return self.md.convert(entry.post.body)

    def page(self, url: str, template: str, origin: str, lastmod: datetime | None = None,
             **context) -> Page | None:
        try:
            html = self.env.get_template(template).render(url=url, **context)
        except Exception as err:  # noqa: BLE001 - any template failure is the editor's to fix
            self.problems.add(template_problem(err, self.templates))
            return None
        return Page(url_to_path(url), html.encode("utf-8"), origin, lastmod, in_sitemap=True)

    def check_templates(self) -> None:
        """Compile every template so syntax errors in unused ones are found too."""
        for name in self.env.list_templates(extensions=["html", "xml", "txt"]):
            try:
                self.env.get_template(name)
            except jinja2.TemplateSyntaxError as err:
                self.problems.add(template_problem(err, self.templates))


def core_pages(r: Renderer) -> Iterator[Page | None]:
    """Posts, home pages, the archive, categories, tags and the 404 page."""
    site = r.site
    for entry in site.entries + site.pages:
        post = entry.post
        template = {"draw": "draw.html", "post": "post.html", "page": "page.html"}[post.kind]
        yield r.page(entry.url, template, post.source, post.updated or post.date,
                     entry=entry, content=r.markdown(entry))
    for listing in site.home:
        yield r.page(listing.url, "home.html", "templates/home.html", site.updated, listing=listing)
    yield r.page("/draws/", "archive.html", "templates/archive.html", site.updated)
    yield r.page("/categories/", "categories.html", "templates/categories.html", site.updated)
    for group in site.categories:
        yield r.page(group.url, "category.html", "templates/category.html",
                     group.entries[0].post.date, group=group)
    if site.tags:
        yield r.page("/tags/", "tags.html", "templates/tags.html", site.updated)
    for group in site.tags:
        yield r.page(group.url, "tag.html", "templates/tag.html", group.entries[0].post.date,
                     group=group)
    not_found = r.page("/404/", "404.html", "templates/404.html")
    if not_found:
        yield Page("404.html", not_found.data, not_found.origin)


def static_files(templates: Path) -> Iterator[Page]:
    """templates/static/** copied to static/** as they are."""
    base = templates / "static"
    if base.is_dir():
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                rel = path.relative_to(base).as_posix()
                yield Page(f"static/{rel}", path.read_bytes(), f"templates/static/{rel}")


def sitemap(site: Site, pages: list[Page]) -> Page:
    """sitemap.xml (sitemaps.org 0.9) of every HTML page with absolute URLs."""
    rows = []
    for page in sorted((p for p in pages if p.in_sitemap), key=lambda p: p.path):
        url = "/" + page.path.removesuffix("index.html")
        lastmod = f"<lastmod>{page.lastmod.isoformat()}</lastmod>" if page.lastmod else ""
        rows.append(f"  <url><loc>{xml_escape(site.settings.absolute(url))}</loc>{lastmod}</url>")
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
           + "\n".join(rows) + "\n</urlset>\n")
    return Page("sitemap.xml", xml.encode("utf-8"), "sitemap.xml")


def robots(site: Site) -> Page:
    text = f"User-agent: *\nAllow: /\n\nSitemap: {site.settings.absolute('/sitemap.xml')}\n"
    return Page("robots.txt", text.encode("utf-8"), "robots.txt")


def draws_json(site: Site) -> Page:
    """Open data for readers who build trackers: every published draw, newest first."""
    def moment(value: datetime | None) -> str | None:
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None

    draws = [
        {
            "round": e.draw.round, "draw_date": e.draw.draw_date.isoformat(),
            "category": e.draw.category, "draw_name": e.draw.draw_name,
            "list_version": e.draw.list_version, "programs": e.draw.programs,
            "invitations": e.draw.invitations, "crs_cutoff": e.draw.crs_cutoff,
            "round_time": moment(e.draw.round_time), "tie_break": moment(e.draw.tie_break),
            "url": site.settings.absolute(e.url), "ircc_url": e.draw.ircc_url,
        }
        for e in site.draws
    ]
    data = {
        "source": "Immigration, Refugees and Citizenship Canada (IRCC), Express Entry rounds "
                  "of invitations; compiled by " + site.settings.title + ", not an IRCC product",
        "updated": site.updated.isoformat() if site.updated else None,
        "count": len(draws),
        "draws": draws,
    }
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    return Page("draws.json", text.encode("utf-8"), "draws.json")


Section = Callable[[Renderer], Iterable[Page | None]]

# Each part of the site is a section: a function that yields its pages through
# `Renderer.page` (templated HTML) or as ready `Page`s (XML, JSON). Add new parts here.
# Section modules import Page and Renderer from here only inside functions (no import cycle).
SECTIONS: tuple[Section, ...] = (core_pages, occupation_pages, feed_pages, trend_pages)


def render_site(site: Site, templates: Path, sections: tuple[Section, ...] = SECTIONS
                ) -> dict[str, bytes]:
    """Every output file of the site, or a BuildError listing every problem met."""
    renderer = Renderer(site, templates)
    renderer.check_templates()
    pages = [p for section in sections for p in section(renderer) if p is not None]
    pages += [*static_files(templates), sitemap(site, pages), robots(site), draws_json(site)]
    problems = set(renderer.problems)
    files: dict[str, bytes] = {}
    origins: dict[str, str] = {}
    for page in pages:
        if page.path in origins:
            problems.add(Problem(page.origin, 0, "", f"{page.path} is also produced by "
                                 f"{origins[page.path]}: two items cannot share one URL; "
                                 "change a slug"))
            continue
        origins[page.path] = page.origin
        files[page.path] = page.data
    if problems:
        raise BuildError(problems)
    return files
