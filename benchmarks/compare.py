"""`make bench-compare`: eesite, Hugo and Pelican building the same generated draw posts.

The posts come from benchmarks/generate.py (the corpus of `make bench`). eesite builds them with
the project's own templates (its whole site: a page per round, listings, feeds, pool snapshots,
years, charts). Hugo and Pelican build them with themes written here, in one or both of two
setups (--themes, default both):

- minimal: a page per post (Markdown rendered, tables included) and a home listing paginated
  like eesite's (10 a page), with taxonomies, feeds and sitemaps turned off. eesite does more
  work per run than the other two; the "files" column shows how much.
- full: like for like, as much of eesite's site as each tool builds natively from these posts.
  Beside the minimal theme's pages: a page listing the categories and one listing the tags; each
  category's rounds, paged like eesite's (`rounds_per_page`, 500 a page: eesite pages category
  listings by rounds, not by `posts_per_page`); each tag's posts, 10 a page; every round, 500 a
  page (eesite's /draws/ archive: Hugo's section page, Pelican's archives); feeds site-wide and
  per category (none per tag, as in eesite), each of eesite's `feed_length` (50) newest posts
  with their full HTML. Hugo writes RSS 2.0 (summary in <description>, the post in
  <content:encoded>, as eesite), Atom and JSON Feed 1.1 through its output formats, with
  templates written here (Hugo's own RSS template puts .Summary in the items and has no Atom or
  JSON Feed), and its built-in sitemap. Pelican writes RSS (the post in <description>:
  RSS_FEED_SUMMARY_ONLY off) and Atom; it has no JSON Feed and no sitemap (plugins only), so
  neither is built. Neither builds what is eesite's own: the pool snapshot of each round, the
  year pages, charts, the numbers and feeds pages, draws.json; nor, here, a 404 page or
  robots.txt. The category and tag pages list posts as the home listing does. Hugo's "files"
  also count the redirect it writes at page/1/ of every paged listing (13 at 1,000 posts).

Every run is a cold build in a fresh process: no output folder and no cache (eesite's
.eesite-cache, Hugo's cache folder). Times are medians of --repeat runs; peak RSS is the largest
resident set of any one process of the run (from wait4, so eesite's forked workers count too).
It prints one table, each tool with each theme against eesite at the same size; it never fails
on speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.generate import empty_trash, generate, set_aside  # noqa: E402
from benchmarks.run import calibrate, speed_line  # noqa: E402
from eesite.settings import Settings  # noqa: E402
from eesite.write import spare_folder  # noqa: E402

# eesite's defaults, which the generated site keeps (generate.SETTINGS sets no other)
PAGE_SIZE = Settings.posts_per_page  # the home listing and each tag's (10)
ROUNDS_PAGE_SIZE = Settings.rounds_per_page  # each category's rounds and the archive (500)
FEED_LENGTH = Settings.feed_length  # items of each feed (50)
THEMES = ("minimal", "full")


def hugo_config(disable: str, more: str = "") -> str:
    """Hugo's config.toml: the kinds it does not build, and the full theme's tables."""
    return f"""baseURL = "https://bench.example.org/"
title = "Benchmark Draws"
disableKinds = [{disable}]
paginate = {PAGE_SIZE}
{more}[markup.goldmark.renderer]
unsafe = false
"""


HUGO_CONFIG = hugo_config('"taxonomy", "term", "section", "RSS", "sitemap", "robotsTXT", "404"')

# The front matter's `category` (one slug) and `tags` as taxonomies. Hugo reads a taxonomy from
# the field named by its plural, so the plural of `category` is "category" (`category =
# "categories"` finds no terms), and a permalink puts a category's pages at /categories/<slug>/
# like eesite's (its list: content/category/_index.md). The feeds at eesite's file names; none
# for tags (content/tags/_index.md cascades HTML only to the tag pages).
HUGO_FULL_CONFIG = hugo_config('"robotsTXT", "404"', f"""[services.rss]
limit = {FEED_LENGTH}
[taxonomies]
category = "category"
tag = "tags"
[permalinks]
category = "/categories/:slug/"
[mediaTypes."application/atom+xml"]
suffixes = ["xml"]
[mediaTypes."application/feed+json"]
suffixes = ["json"]
[outputFormats.RSS]
baseName = "feed"
[outputFormats.Atom]
mediaType = "application/atom+xml"
baseName = "atom"
[outputFormats.JSONFeed]
mediaType = "application/feed+json"
baseName = "feed"
isPlainText = true
[outputs]
home = ["HTML", "RSS", "Atom", "JSONFeed"]
section = ["HTML"]
taxonomy = ["HTML"]
term = ["HTML", "RSS", "Atom", "JSONFeed"]
""")

HUGO_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ block "title" . }}{{ .Site.Title }}\
{{ end }}</title></head>
<body><main>{{ block "main" . }}{{ end }}</main></body></html>
"""

HUGO_SINGLE = """{{ define "title" }}{{ .Title }} · {{ .Site.Title }}{{ end }}
{{ define "main" }}<article><h1>{{ .Title }}</h1>
<p><time datetime="{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}">\
{{ .Date.Format "January 2, 2006" }}</time> · {{ .Params.summary }}</p>
{{ .Content }}</article>{{ end }}
"""

# A listing's posts and its links to the next and previous pages, under `$pager`.
HUGO_LISTING = """<ul>{{ range $pager.Pages }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> <time>{{ .Date.Format "2006-01-02" }}</time>
<p>{{ .Params.summary }}</p></li>{{ end }}</ul>
<nav>{{ if $pager.HasPrev }}<a href="{{ $pager.Prev.URL }}">Newer</a>{{ end }}
{{ if $pager.HasNext }}<a href="{{ $pager.Next.URL }}">Older</a>{{ end }}</nav>{{ end }}
"""

# .Site.RegularPages, not `where` over it: Hugo evaluates the argument again on each of the
# N/10 listing pages, which made the home listing quadratic (37 s instead of ~10 s at 10,000).
HUGO_INDEX = '{{ define "main" }}{{ $pager := .Paginate .Site.RegularPages }}' + HUGO_LISTING

# A section's or a term's pages: every round 500 a page (the draws section, a category), a
# tag's posts 10 a page.
HUGO_LIST = ('{{ define "title" }}{{ .Title }} · {{ .Site.Title }}{{ end }}\n{{ define "main" }}'
             f'{{{{ $pager := .Paginate .Pages (cond (eq .Data.Plural "tags") {PAGE_SIZE} '
             f'{ROUNDS_PAGE_SIZE}) }}}}<h1>{{{{ .Title }}}}</h1>' + HUGO_LISTING)

HUGO_TERMS = """{{ define "title" }}{{ .Title }} · {{ .Site.Title }}{{ end }}
{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range .Data.Terms.Alphabetical }}
<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> {{ .Count }}</li>{{ end }}</ul>\
{{ end }}
"""

# A feed's items: the newest posts of the home page (the site) or of a category.
# Hugo runs the XML layouts through html/template, which would escape "<?" and "+" in text:
# hence safeHTML, as in Hugo's own RSS template.
HUGO_ITEMS = ('{{ $items := first site.Config.Services.RSS.Limit '
              '(cond .IsHome site.RegularPages .Pages) }}')
HUGO_XML = HUGO_ITEMS + '{{ `<?xml version="1.0" encoding="utf-8"?>` | safeHTML }}\n'

HUGO_RSS = HUGO_XML + """<rss version="2.0" \
xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>{{ .Title }}</title>
<link>{{ .Permalink }}</link><description>{{ .Title }}</description>{{ with index $items 0 }}
<lastBuildDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</lastBuildDate>\
{{ end }}{{ range $items }}
<item><title>{{ .Title }}</title><link>{{ .Permalink }}</link><guid>{{ .Permalink }}</guid>
<pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
<description>{{ .Params.summary }}</description>
<content:encoded>{{ .Content | html }}</content:encoded></item>{{ end }}
</channel></rss>
"""

HUGO_ATOM = HUGO_XML + """<feed xmlns="http://www.w3.org/2005/Atom"><id>{{ .Permalink }}</id>
<title>{{ .Title }}</title><link href="{{ .Permalink }}"/>{{ with index $items 0 }}
<updated>{{ .Date.Format "2006-01-02T15:04:05Z07:00" | safeHTML }}</updated>{{ end }}\
{{ range $items }}
<entry><id>{{ .Permalink }}</id><title>{{ .Title }}</title><link href="{{ .Permalink }}"/>
<updated>{{ .Date.Format "2006-01-02T15:04:05Z07:00" | safeHTML }}</updated>
<summary>{{ .Params.summary }}</summary>
<content type="html">{{ .Content | html }}</content></entry>{{ end }}
</feed>
"""

HUGO_JSON_FEED = HUGO_ITEMS + """{{ $out := slice }}{{ range $items }}\
{{ $out = $out | append (dict "id" .Permalink "url" .Permalink "title" .Title
  "summary" .Params.summary "content_html" .Content "tags" .Params.tags
  "date_published" (.Date.Format "2006-01-02T15:04:05Z07:00")) }}{{ end }}\
{{ dict "version" "https://jsonfeed.org/version/1.1" "title" .Title
  "home_page_url" .Permalink "items" $out | jsonify }}
"""

PELICAN_CONFIG = f"""AUTHOR = "Benchmark"
SITENAME = "Benchmark Draws"
SITEURL = ""
PATH = "content"
THEME = "theme"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
DEFAULT_PAGINATION = {PAGE_SIZE}
PAGINATED_TEMPLATES = {{"index": None}}
DIRECT_TEMPLATES = ["index"]
ARTICLE_URL = "draws/{{slug}}/"
ARTICLE_SAVE_AS = "draws/{{slug}}/index.html"
TAG_SAVE_AS = CATEGORY_SAVE_AS = AUTHOR_SAVE_AS = ""
FEED_ALL_ATOM = CATEGORY_FEED_ATOM = TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = AUTHOR_FEED_RSS = None
RELATIVE_URLS = True
"""

PELICAN_ARTICLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ article.title }} · {{ SITENAME }}</title>
</head><body><main><article><h1>{{ article.title }}</h1>
<div><time datetime="{{ article.date.isoformat() }}">{{ article.locale_date }}</time> ·
{{ article.summary }}</div>
{{ article.content }}</article></main></body></html>
"""

PELICAN_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ SITENAME }}</title></head>
<body><main><ul>{% for article in articles_page.object_list %}
<li><a href="{{ SITEURL }}/{{ article.url }}">{{ article.title }}</a>
<time>{{ article.date.strftime("%Y-%m-%d") }}</time><div>{{ article.summary }}</div></li>
{% endfor %}</ul><nav>{% if articles_page.has_previous() %}
<a href="{{ SITEURL }}/{{ articles_previous_page.url }}">Newer</a>{% endif %}
{% if articles_page.has_next() %}<a href="{{ SITEURL }}/{{ articles_next_page.url }}">Older</a>
{% endif %}</nav></main></body></html>
"""

# Later assignments win: the minimal config with categories, tags, the archive and feeds on.
PELICAN_FULL_CONFIG = PELICAN_CONFIG + f"""SITEURL = "https://bench.example.org"
DIRECT_TEMPLATES = ["index", "categories", "tags", "archives"]
PAGINATED_TEMPLATES = {{"index": None, "tag": None, "category": {ROUNDS_PAGE_SIZE},
                       "archives": {ROUNDS_PAGE_SIZE}}}
CATEGORY_URL = "categories/{{slug}}/"
CATEGORY_SAVE_AS = "categories/{{slug}}/index.html"
CATEGORIES_SAVE_AS = "categories/index.html"
TAG_URL = "tags/{{slug}}/"
TAG_SAVE_AS = "tags/{{slug}}/index.html"
TAGS_SAVE_AS = "tags/index.html"
ARCHIVES_SAVE_AS = "draws/index.html"
FEED_MAX_ITEMS = {FEED_LENGTH}
FEED_ALL_ATOM = "atom.xml"
FEED_ALL_RSS = "feed.xml"
CATEGORY_FEED_ATOM = "categories/{{slug}}/atom.xml"
CATEGORY_FEED_RSS = "categories/{{slug}}/feed.xml"
RSS_FEED_SUMMARY_ONLY = False
"""

# The list of categories or of tags (`{groups}`: categories or tags).
PELICAN_GROUPS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ SITENAME }}</title></head>
<body><main><ul>{% for group, articles in {groups} %}
<li><a href="{{ SITEURL }}/{{ group.url }}">{{ group }}</a> {{ articles | count }}</li>
{% endfor %}</ul></main></body></html>
"""


@dataclass(frozen=True)
class Tool:
    """How to build one site cold: the command, its working folder, what to remove first."""

    name: str
    command: tuple[str, ...]
    cwd: Path
    output: Path
    caches: tuple[Path, ...] = ()
    theme: str = "own"  # Hugo's and Pelican's: minimal or full (see THEMES)


def _split(text: str) -> tuple[dict, str]:
    """Front matter and Markdown body of a generated post."""
    _, head, body = text.split("---\n", 2)
    return yaml.load(head, Loader=yaml.CSafeLoader), body


def hugo_site(source: Path, root: Path, theme: str = "minimal") -> Path:
    """The posts as a Hugo site: the same files (Hugo reads their YAML front matter as is)."""
    _fresh(root)
    files = {"config.toml": HUGO_CONFIG, "layouts/_default/baseof.html": HUGO_BASE,
             "layouts/_default/single.html": HUGO_SINGLE, "layouts/index.html": HUGO_INDEX}
    if theme == "full":
        files |= {"config.toml": HUGO_FULL_CONFIG, "layouts/_default/list.html": HUGO_LIST,
                  "layouts/_default/terms.html": HUGO_TERMS,
                  "layouts/_default/rss.xml": HUGO_RSS,
                  "layouts/_default/list.atom.xml": HUGO_ATOM,
                  "layouts/_default/list.jsonfeed.json": HUGO_JSON_FEED,
                  "content/category/_index.md":
                  "---\ntitle: Categories\nurl: /categories/\n---\n",
                  "content/tags/_index.md":
                  '---\ntitle: Tags\ncascade:\n  outputs: ["HTML"]\n---\n'}
    for rel, text in files.items():
        _write(root / rel, text)
    shutil.copytree(source / "content" / "draws", root / "content" / "draws")
    return root


def pelican_site(source: Path, root: Path, theme: str = "minimal") -> Path:
    """The posts as a Pelican site: Pelican's Markdown reader wants `Key: value` metadata, so
    the flat fields move there (Pelican has no nested metadata); the body is unchanged."""
    _fresh(root)
    files = {"pelicanconf.py": PELICAN_CONFIG, "theme/templates/article.html": PELICAN_ARTICLE,
             "theme/templates/index.html": PELICAN_INDEX, "theme/static/style.css": ""}
    if theme == "full":  # a category's, a tag's and the archive's pages list as the home does
        files |= {"pelicanconf.py": PELICAN_FULL_CONFIG,
                  **{f"theme/templates/{t}.html": PELICAN_INDEX
                     for t in ("category", "tag", "archives")},
                  **{f"theme/templates/{t}.html": PELICAN_GROUPS.replace("{groups}", t)
                     for t in ("categories", "tags")}}
    for rel, text in files.items():
        _write(root / rel, text)
    out = root / "content"
    for path in sorted((source / "content" / "draws").glob("*.md")):
        meta, body = _split(path.read_text(encoding="utf-8"))
        head = [f"Title: {meta['title']}", f"Date: {meta['date'].isoformat()}",
                f"Summary: {meta['summary']}", f"Tags: {', '.join(meta['tags'])}",
                f"Category: {meta['category']}", f"Slug: {path.stem}"]
        head += [f"{k.replace('_', '')}: {v}" for k, v in meta.items()
                 if k not in {"title", "date", "summary", "tags", "category"}
                 and not isinstance(v, dict)]
        (out / path.name).write_text("\n".join(head) + "\n\n" + body, encoding="utf-8")
    return root


def _fresh(root: Path) -> None:
    set_aside(root)
    (root / "content").mkdir(parents=True)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run_cold(tool: Tool) -> tuple[float, int, int]:
    """(seconds, peak RSS in bytes, files written) of one cold build in a fresh process."""
    set_aside(tool.output, *tool.caches)  # deleted when all is measured (see set_aside)
    log = tool.cwd / f".{tool.name.lower()}-build.log"
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(tool.command, cwd=tool.cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{tool.name} build failed (exit {proc.returncode}):\n"
                         f"{log.read_text(errors='replace')[-3000:]}")
    files = sum(1 for p in tool.output.rglob("*") if p.is_file())
    return took, usage.ru_maxrss * 1024, files


def tools(count: int, work: Path, pelican: Path, themes: tuple[str, ...]) -> list[Tool]:
    """eesite's site of `count` posts and Hugo's and Pelican's in each theme, generated afresh;
    the minimal theme's in compare-<tool>-<count>, another's in compare-<tool>-<theme>-<count>."""
    ee = generate(work / f"compare-eesite-{count}", count, HERE.parent / "templates")
    eesite = Path(sys.executable).with_name("eesite")
    built = [Tool("eesite", (str(eesite), "build", "--source", str(ee)), ee, ee / "output",
                  (ee / ".eesite-cache", spare_folder(ee / "output")))]
    for theme in themes:
        name = f"{count}" if theme == "minimal" else f"{theme}-{count}"
        hugo = hugo_site(ee, work / f"compare-hugo-{name}", theme)
        pel = pelican_site(ee, work / f"compare-pelican-{name}", theme)
        built += [
            Tool("Hugo", ("hugo", "--quiet", "--source", str(hugo), "--destination", "public",
                          "--cacheDir", str(hugo / ".hugo-cache")), hugo, hugo / "public",
                 (hugo / ".hugo-cache", hugo / "resources"), theme=theme),
            Tool("Pelican", (str(pelican), "content", "-o", "output", "-s", "pelicanconf.py",
                             "-q"), pel, pel / "output", theme=theme),
        ]
    return built


def check_rendered(tool: Tool) -> None:
    """Refuse to report a figure for a site whose post pages lack the rendered Markdown, or,
    beyond the minimal theme, that lacks a category's listing or its feed with whole posts."""
    page = next(p for p in sorted(tool.output.glob("draws/*/index.html")))
    html = page.read_text(encoding="utf-8")
    if "<table" not in html or "<h2" not in html or "<li>" not in html:
        raise SystemExit(f"{tool.name}: {page} has no rendered Markdown table/heading/list")
    if tool.theme == "minimal":
        return
    for pattern, marks in (("categories/*/index.html", ("draws/",)),
                           ("categories/*/feed.xml", ("<item>", "&lt;table"))):
        found = sorted(tool.output.glob(pattern))
        text = found[0].read_text(encoding="utf-8") if found else ""
        if not all(mark in text for mark in marks):
            raise SystemExit(f"{tool.name} ({tool.theme}): no {pattern} with {' and '.join(marks)}")


def main() -> None:
    p = argparse.ArgumentParser(description="Cold builds of eesite, Hugo and Pelican side by side.")
    p.add_argument("--sizes", default="1000", help="post counts (default: 1000; both: 1000,10000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; medians are shown")
    p.add_argument("--themes", default=",".join(THEMES),
                   help="Hugo's and Pelican's: minimal, full or both (default: minimal,full)")
    p.add_argument("--work", type=Path, default=HERE / ".work", help="where sites are generated")
    p.add_argument("--pelican", type=Path, default=HERE / ".work" / "pelican-venv" / "bin" /
                   "pelican", help="the pelican command (make bench-compare installs it)")
    args = p.parse_args()
    args.pelican, args.work = args.pelican.resolve(), args.work.resolve()
    themes = tuple(t.strip() for t in args.themes.split(","))
    if any(t not in THEMES for t in themes):
        p.error(f"--themes: a comma-separated list of {', '.join(THEMES)}, not {args.themes!r}")
    rows, before = [], calibrate()
    for count in (int(n) for n in args.sizes.split(",")):
        built = {}
        for tool in tools(count, args.work, args.pelican, themes):
            runs = [run_cold(tool) for _ in range(args.repeat)]
            check_rendered(tool)
            built[tool.name, tool.theme] = (statistics.median(r[0] for r in runs),
                                            max(r[1] for r in runs), runs[-1][2])
            print(f"{tool.name} ({tool.theme}) {count:,} posts: " +
                  ", ".join(f"{r[0]:.2f} s" for r in runs), file=sys.stderr)
        rows.append((count, built))
    empty_trash(args.work)
    after = calibrate()
    mib = 1024 * 1024
    print(f"\neesite {_version('eesite')} · Hugo {_version('hugo')} · Pelican "
          f"{_version(str(args.pelican))} · Python {sys.version.split()[0]} · {os.cpu_count()} "
          f"cores · cold builds, median of {args.repeat} runs")
    print(speed_line(before, after) + "\n")
    print("| tool | theme | posts | files | seconds | peak RSS | time vs eesite | RSS vs eesite |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for count, built in rows:
        base_s, base_rss, _ = built["eesite", "own"]
        for (name, theme), (secs, rss, files) in built.items():
            print(f"| {name} | {theme} | {count:,} | {files:,} | {secs:.2f} s | "
                  f"{rss / mib:.0f} MiB | {secs / base_s:.2f}× | {rss / base_rss:.2f}× |")


def _version(command: str) -> str:
    if command == "eesite":
        from eesite import __version__
        return __version__
    done = subprocess.run([command, "version" if command == "hugo" else "--version"],
                          capture_output=True, text=True, check=False)
    words = done.stdout.split()
    return (words[1].split("+")[0].lstrip("v") if command == "hugo" else words[-1]) if words \
        else "?"


if __name__ == "__main__":
    main()
