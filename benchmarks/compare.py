"""`make bench-compare`: eesite, Hugo and Pelican building the same generated draw posts.

The posts come from benchmarks/generate.py (the corpus of `make bench`). eesite builds them with
the project's own templates (its whole site: a page per round, listings, feeds, pool snapshots,
years, charts); Hugo and Pelican build them with minimal themes written here: a page per post
(Markdown rendered, tables included) and a home listing paginated like eesite's (10 a page), with
taxonomies, feeds and sitemaps turned off. So eesite does more work per run than the other two;
the "files" column shows how much.

Every run is a cold build in a fresh process: no output folder and no cache (eesite's
.eesite-cache, Hugo's cache folder). Times are medians of --repeat runs; peak RSS is the largest
resident set of any one process of the run (from wait4, so eesite's forked workers count too).
It prints one table; it never fails on speed.
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
from eesite.write import spare_folder  # noqa: E402

PAGE_SIZE = 10

HUGO_CONFIG = f"""baseURL = "https://bench.example.org/"
title = "Benchmark Draws"
disableKinds = ["taxonomy", "term", "section", "RSS", "sitemap", "robotsTXT", "404"]
paginate = {PAGE_SIZE}
[markup.goldmark.renderer]
unsafe = false
"""

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

# .Site.RegularPages, not `where` over it: Hugo evaluates the argument again on each of the
# N/10 listing pages, which made the home listing quadratic (37 s instead of ~10 s at 10,000).
HUGO_INDEX = """{{ define "main" }}{{ $pager := .Paginate .Site.RegularPages }}<ul>{{ range $pager.Pages }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> <time>{{ .Date.Format "2006-01-02" }}</time>
<p>{{ .Params.summary }}</p></li>{{ end }}</ul>
<nav>{{ if $pager.HasPrev }}<a href="{{ $pager.Prev.URL }}">Newer</a>{{ end }}
{{ if $pager.HasNext }}<a href="{{ $pager.Next.URL }}">Older</a>{{ end }}</nav>{{ end }}
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


@dataclass(frozen=True)
class Tool:
    """How to build one site cold: the command, its working folder, what to remove first."""

    name: str
    command: tuple[str, ...]
    cwd: Path
    output: Path
    caches: tuple[Path, ...] = ()


def _split(text: str) -> tuple[dict, str]:
    """Front matter and Markdown body of a generated post."""
    _, head, body = text.split("---\n", 2)
    return yaml.load(head, Loader=yaml.CSafeLoader), body


def hugo_site(source: Path, root: Path) -> Path:
    """The posts as a Hugo site: the same files (Hugo reads their YAML front matter as is)."""
    _fresh(root)
    for rel, text in (("config.toml", HUGO_CONFIG), ("layouts/_default/baseof.html", HUGO_BASE),
                      ("layouts/_default/single.html", HUGO_SINGLE),
                      ("layouts/index.html", HUGO_INDEX)):
        _write(root / rel, text)
    shutil.copytree(source / "content" / "draws", root / "content" / "draws")
    return root


def pelican_site(source: Path, root: Path) -> Path:
    """The posts as a Pelican site: Pelican's Markdown reader wants `Key: value` metadata, so
    the flat fields move there (Pelican has no nested metadata); the body is unchanged."""
    _fresh(root)
    for rel, text in (("pelicanconf.py", PELICAN_CONFIG),
                      ("theme/templates/article.html", PELICAN_ARTICLE),
                      ("theme/templates/index.html", PELICAN_INDEX),
                      ("theme/static/style.css", "")):
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


def tools(count: int, work: Path, pelican: Path) -> tuple[Tool, ...]:
    """The three sites of `count` posts, generated afresh."""
    ee = generate(work / f"compare-eesite-{count}", count, HERE.parent / "templates")
    hugo = hugo_site(ee, work / f"compare-hugo-{count}")
    pel = pelican_site(ee, work / f"compare-pelican-{count}")
    eesite = Path(sys.executable).with_name("eesite")
    return (
        Tool("eesite", (str(eesite), "build", "--source", str(ee)), ee, ee / "output",
             (ee / ".eesite-cache", spare_folder(ee / "output"))),
        Tool("Hugo", ("hugo", "--quiet", "--source", str(hugo), "--destination", "public",
                      "--cacheDir", str(hugo / ".hugo-cache")), hugo, hugo / "public",
             (hugo / ".hugo-cache", hugo / "resources")),
        Tool("Pelican", (str(pelican), "content", "-o", "output", "-s", "pelicanconf.py", "-q"),
             pel, pel / "output"),
    )


def check_rendered(tool: Tool) -> None:
    """Refuse to report a figure for a site whose post pages lack the rendered Markdown."""
    page = next(p for p in sorted(tool.output.glob("draws/*/index.html")))
    html = page.read_text(encoding="utf-8")
    if "<table" not in html or "<h2" not in html or "<li>" not in html:
        raise SystemExit(f"{tool.name}: {page} has no rendered Markdown table/heading/list")


def main() -> None:
    p = argparse.ArgumentParser(description="Cold builds of eesite, Hugo and Pelican side by side.")
    p.add_argument("--sizes", default="1000", help="post counts (default: 1000; full: 1000,10000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; medians are shown")
    p.add_argument("--work", type=Path, default=HERE / ".work", help="where sites are generated")
    p.add_argument("--pelican", type=Path, default=HERE / ".work" / "pelican-venv" / "bin" /
                   "pelican", help="the pelican command (make bench-compare installs it)")
    args = p.parse_args()
    args.pelican, args.work = args.pelican.resolve(), args.work.resolve()
    rows = []
    for count in (int(n) for n in args.sizes.split(",")):
        built = {}
        for tool in tools(count, args.work, args.pelican):
            runs = [run_cold(tool) for _ in range(args.repeat)]
            check_rendered(tool)
            built[tool.name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs),
                                runs[-1][2])
            print(f"{tool.name} {count:,} posts: " + ", ".join(f"{r[0]:.2f} s" for r in runs),
                  file=sys.stderr)
        rows.append((count, built))
    empty_trash(args.work)
    mib = 1024 * 1024
    print(f"\neesite {_version('eesite')} · Hugo {_version('hugo')} · Pelican "
          f"{_version(str(args.pelican))} · Python {sys.version.split()[0]} · {os.cpu_count()} "
          f"cores · cold builds, median of {args.repeat} runs\n")
    print("| tool | posts | files | seconds | peak RSS | time vs eesite | RSS vs eesite |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for count, built in rows:
        base_s, base_rss, _ = built["eesite"]
        for name, (secs, rss, files) in built.items():
            print(f"| {name} | {count:,} | {files:,} | {secs:.2f} s | {rss / mib:.0f} MiB | "
                  f"{secs / base_s:.2f}× | {rss / base_rss:.2f}× |")


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
