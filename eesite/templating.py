"""The Jinja environment the templates run in: its filters and globals, and how a template
error becomes a Problem (file and line in templates/).

Apart from render.py (which makes one per Renderer) so that what a template can call is read
in one place, without the rendering machinery around it.
"""

from __future__ import annotations

import functools
import traceback
from datetime import date, datetime, timezone
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from eesite import __version__
from eesite.analytics import band_rows
from eesite.errors import Problem
from eesite.escaping import CompiledTemplates, OutputEscaping
from eesite.feeds import feed_links
from eesite.incremental import TracingEnvironment
from eesite.model import Entry, Site

# ---- filters -------------------------------------------------------------------------------

def num(value: int) -> str:
    return f"{value:,}"


def signed(value: int) -> str:
    """+12 / −12 / ±0, with a real minus sign."""
    return f"+{value:,}" if value > 0 else (f"−{-value:,}" if value < 0 else "±0")


def change(now: int, before: int) -> Markup:
    """`<span class="delta up">+12</span>`: the change from `before` to `now`, classed by its
    sign. A global, not a macro: a table of 10,000 rounds calls it once a row, and a Jinja
    macro call costs ~7 µs (a third of a pool snapshot page's time)."""
    d = now - before
    kind = "up" if d > 0 else ("down" if d < 0 else "same")
    return Markup(f'<span class="delta {kind}">{escape(signed(d))}</span>')


def long_date(value: date | datetime) -> str:
    return _long_date(value.year, value.month, value.day)


@functools.cache
def _long_date(year: int, month: int, day: int) -> str:
    """Called ~30 times per page with a few thousand distinct days: strftime once per day."""
    return f"{date(year, month, day):%B} {day}, {year}"


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


def make_environment(templates: Path, site: Site, compiled: Path | None = None
                     ) -> TracingEnvironment:
    """Jinja with eesite's filters; `compiled` keeps compiled templates between runs."""
    env = TracingEnvironment(
        loader=jinja2.FileSystemLoader(templates, encoding="utf-8-sig"),  # a BOM is not output
        bytecode_cache=CompiledTemplates(str(compiled)) if compiled else None,
        autoescape=True,  # everywhere: front matter and imported strings are never trusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # one build, one environment: no stat of the template on every page
    )
    env.code_generator_class = OutputEscaping  # `{{ x }}` escaped as text, not Markup
    env.filters.update(num=num, signed=signed, long_date=long_date, utc_time=utc_time, iso=iso,
                       absolute=site.settings.absolute)

    env.globals.update(site=site, settings=site.settings, version=__version__, change=change,
                       band_rows=band_rows,
                       json_ld=lambda entry: json_ld(entry, site),  # (its entry counts whole,
                       # and the settings it reads are in every cache key)
                       feed_links=env.recorded("feed_links", functools.cache(
                           lambda category="": feed_links(site, category))))
    # (feed_links: every page's <head> asks, with one of a few categories; its result is a
    # tuple of frozen records, so one per category serves the whole build)
    env.trace_filters()
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
