"""The `eesite` command line: build, check, new, import (and serve, watch)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

from eesite import __version__
from eesite.build import Options, build, make_site
from eesite.errors import BuildError
from eesite.load import load_content
from eesite.scaffold import new_draw, new_post
from eesite.settings import load_settings


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report_problems(err: BuildError) -> int:
    count = len(err.problems)
    _say(f"error: {count} problem{'s' if count != 1 else ''} found; nothing was written")
    for problem in err.problems:
        _say(f"  {problem}")
    return 1


def _options(args: argparse.Namespace, **extra) -> Options:
    source = Path(args.source).resolve()
    output = Path(args.output) if args.output else source / "output"
    return Options(source=source, output=output.resolve(), drafts=args.drafts,
                   future=args.future, **extra)


def cmd_build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.one_shot:  # the build is all this process does: a full collection at the end of
        gc.disable()  # a large build would only rescan millions of live objects (~0.5 s)
    options = _options(args, force=args.force)
    settings = load_settings(options.source, base_url=args.base_url)
    _say(f"building {options.source} → {options.output}")
    made, report = build(options, settings)
    seconds = time.perf_counter() - started
    print(f"built {made.draws} draws, {made.articles} articles: "
          f"{report.written} files written, {report.unchanged} unchanged, "
          f"{report.removed} removed in {seconds:.2f} s")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    options = _options(args)
    settings = load_settings(options.source, base_url=args.base_url)
    site, files = make_site(options, settings)
    print(f"ok: {len(site.draws)} draws, {len(site.articles)} articles, {len(files)} files "
          "would be written")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from eesite.serve import serve
    from eesite.watch import Live

    live = Live(_options(args), base_url=args.base_url, say=_say)
    return serve(live, args.host, args.port, serve_http=args.command == "serve")


def cmd_new(args: argparse.Namespace) -> int:
    root = Path(args.source).resolve()
    settings = load_settings(root)
    now = datetime.now(settings.tz).replace(microsecond=0)
    if args.kind == "post":
        if not args.title:
            raise SystemExit('eesite new post: give the title, e.g. eesite new post "My title"')
        path = new_post(root, args.title, now)
    else:
        round_id = args.round or _next_round(root, settings)
        path = new_draw(root, round_id, args.date or now.date(), args.category, now)
    print(f"created {path.relative_to(root)} (a draft: set draft: false to publish)")
    return 0


def _next_round(root: Path, settings) -> str:
    numbers = [int("".join(c for c in p.draw.round if c.isdigit()))
               for p in load_content(root, settings) if p.draw]
    return str(max(numbers, default=0) + 1)


def cmd_import(args: argparse.Namespace) -> int:
    from eesite.importer import format_report, import_feed

    root = Path(args.source).resolve()
    report = import_feed(Path(args.feed), root / "content" / "draws",
                         datetime.now(timezone.utc).replace(microsecond=0))
    print(format_report(report))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="eesite", description="Build the Express Entry draw "
                                  "news site from content/ and templates/ into output/.")
    top.add_argument("--version", action="version", version=f"eesite {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def site_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--source", default=".", help="site root holding content/, templates/ and "
                       "pyproject.toml (default: the current folder)")
        p.add_argument("--output", help="output folder (default: SOURCE/output)")
        p.add_argument("--base-url", help="absolute URL the site is served from (overrides "
                       "the base_url setting)")
        p.add_argument("--drafts", action="store_true", help="include posts with draft: true")
        p.add_argument("--future", action="store_true", help="include posts dated in the future")

    def site_command(name: str, run, help: str, description: str,  # noqa: A002
                     **defaults) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=description)
        site_args(p)
        p.set_defaults(run=run, **defaults)
        return p

    p = site_command("build", cmd_build, "build the site into output/",
                     "Build the site. output/ is replaced in one step, and only when the whole "
                     "build succeeded.")
    p.add_argument("--force", action="store_true", help="build into a non-empty folder eesite "
                   "did not create, or over files it did not write")
    site_command("check", cmd_check, "validate content and templates; write nothing",
                 "Load, validate and render everything without writing. Exit 0 when all is "
                 "well, 1 with every problem listed otherwise.")
    p = site_command("serve", cmd_serve, "build, serve on 127.0.0.1, rebuild and reload on save",
                     "Build the site, serve output/ on HOST:PORT (127.0.0.1 only, unless --host "
                     "says otherwise), watch content/, templates/ and pyproject.toml, rebuild "
                     "what a change affects and reload open pages. A broken file shows an "
                     "overlay in the browser; the last good site stays served. Ctrl-C stops.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                   "127.0.0.1; 0.0.0.0 exposes the site to your network)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; the next free "
                   "one when busy)")
    site_command("watch", cmd_serve, "rebuild on every save, without a server",
                 "The rebuild loop of `eesite serve` without the server, for people with their "
                 "own. Ctrl-C stops.", host="127.0.0.1", port=0)

    p = sub.add_parser("new", help="scaffold a draw or an article as a draft",
                       description='eesite new draw [--round N] [--date D] [--category C] | '
                       'eesite new post "Title"')
    p.add_argument("kind", choices=["draw", "post"])
    p.add_argument("title", nargs="?", help="the article's title (new post)")
    p.add_argument("--round", help="round number (default: the next one)")
    p.add_argument("--date", type=date.fromisoformat, help="draw date YYYY-MM-DD (default: today)")
    p.add_argument("--category", default="general", help="category slug (default: general)")
    p.add_argument("--source", default=".", help="site root (default: the current folder)")
    p.set_defaults(run=cmd_new)

    p = sub.add_parser("import", help="create and update draw posts from IRCC's rounds feed",
                       description="Read IRCC's rounds feed (ee_rounds_123_en.json) and create a "
                       "draw post for each round that has none; update the figures of existing "
                       "posts when IRCC corrected them (the prose is never touched).")
    p.add_argument("feed", help="path to the feed JSON file")
    p.add_argument("--source", default=".", help="site root (default: the current folder)")
    p.set_defaults(run=cmd_import)
    return top


def run() -> int:
    """The `eesite` command (and `python -m eesite`): `main`, and a build or check that is
    done ends the process at once (see `_leave`)."""
    return main(leave=True)


def main(argv: list[str] | None = None, *, leave: bool = False) -> int:
    args = parser().parse_args(argv)
    args.one_shot = argv is None  # the `eesite` command itself, not a call from a program
    try:
        code = args.run(args)
    except BuildError as err:
        code = report_problems(err)
    except KeyboardInterrupt:
        _say("interrupted")
        code = 130
    if leave and args.run in (cmd_build, cmd_check):
        _leave(code)
    return code


def _leave(code: int) -> None:
    """End the process now: everything is written and closed, and freeing the millions of
    objects of a large site one by one on the way out costs ~0.25 s at 10,000 posts."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with the descriptor closed (`>&-`)
            continue
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe, a full disk: as Python's own exit says
            code = code or 120
    os._exit(code)
