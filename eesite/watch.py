"""`eesite watch`: rebuild when a source file changes, and never stop on a bad file.

watchdog reports file-system events from content/, templates/ (with static/) and the site's
pyproject.toml. Editor droppings are ignored (swap and backup files, `.#x` locks, Vim's `4913`
probe, dot files), one save that makes a burst of events (write, rename, chmod) triggers one
rebuild after the burst has been quiet for a moment, and folder creation, deletion and moves
count like file changes. Rebuilds are incremental: the cache stays in memory between them.
A failed build keeps the last good output; its problems are printed once and kept in `error`
for the dev server's overlay.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from eesite.build import Options, build
from eesite.cache import Cache, settings_key
from eesite.delta import Session
from eesite.errors import BuildError, Problem
from eesite.settings import load_settings
from eesite.state import output_intact

QUIET = 0.03  # seconds without events that end a burst (one save's events come within ms)
LONGEST = 0.5  # a steady stream of events still rebuilds this often
WATCHED = ("content", "templates", "pyproject.toml")


def is_noise(path: str) -> bool:
    """Editor temp, swap and backup files (and our own temporary files)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return (not name or name.startswith((".", "#")) or name.endswith(("~", ".swp", ".swx",
            ".swo", ".tmp", ".bak", ".eesite-tmp")) or name == "4913")


def relevant(root: Path, path: str) -> bool:
    """Does a change at `path` (absolute) concern the site's sources?"""
    try:
        rel = Path(path).resolve().relative_to(root.resolve()).parts
    except ValueError:
        return False
    return bool(rel) and rel[0] in WATCHED and not any(is_noise(p) for p in rel)


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Path, poke: Callable[[list[str]], None]):
        self.root, self.poke = root, poke

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "modified":  # a file in it changed:
            return  # that file has its own event
        paths = [str(p) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        touched = [p for p in paths if relevant(self.root, p)]
        if touched:
            self.poke(touched)


class Live:
    """The rebuild loop shared by `eesite watch` and `eesite serve`.

    `building` is true from the first event of a burst until its rebuild is done; `error` is
    the last failure. `generation` counts what was published: each rebuild, and the pages a
    rebuild wrote ahead of the rest (`fresh` while it runs). `versions` holds the generation
    that last changed each output file, and `everything` the last one that changed every page
    (an error shown or gone, a file under static/): a page reloads only when its own file or
    everything changed since it was served (`reload_due`).
    """

    def __init__(self, options: Options, base_url: str | None = None,
                 say: Callable[[str], None] | None = None):
        self.options = replace(options, cache=True, live=True)
        self.base_url = base_url
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.state = threading.Condition()
        self.building = False
        self.generation = 0
        self.run = f"{os.getpid()}-{time.time_ns()}"  # this server's run: a tab from an earlier
        # one (the server restarted) names generations of that run, so it reloads at once
        self.versions: dict[str, int] = {}
        self.everything = 0
        self.fresh: frozenset[str] = frozenset()
        self.error: BuildError | None = None
        self._before: dict | None = None  # the output index as the running rebuild found it
        self._poked = 0.0
        self._first = 0.0
        self._stop = False
        self._cache: Cache | None = None
        self._session = Session()  # the last good build, for prose-only rebuilds (delta.py)
        self._touched: set[str] | None = set()  # files named by events since the last build
        self._said: tuple[Problem, ...] = ()
        self._observer = None
        self._thread: threading.Thread | None = None

    # -- one build -----------------------------------------------------------------------------
    def rebuild(self, touched: set[str] | None = None) -> bool:
        """Build once; True on success. Problems are kept and printed (once) on failure.
        `touched`: the files changed since the last good build, as watchdog named them (None:
        unknown; every source file is then stat'ed)."""
        started = time.perf_counter()
        self._before = dict(self._cache.output) if self._cache is not None else None
        try:
            settings = load_settings(self.options.source, base_url=self.base_url)
            if self._cache is None or self._cache.key != settings_key(settings):
                self._cache = Cache.open(self.options.source, settings)
                self._session = Session()
                self._before = None  # a new cache: which files changed is not known
            made, report = build(self.options, settings, self._cache, persist=False,
                                 session=self._session,
                                 touched=frozenset(touched) if touched is not None else None,
                                 trust_output=touched is not None, first=self._ahead)
        except Exception as err:
            if not isinstance(err, BuildError):  # a bug or the disk (ENOSPC): say it too
                err = BuildError([Problem("eesite", message=f"rebuild failed: "
                                          f"{type(err).__name__}: {err}")])
                self._session = Session()  # it may hold a prose edit that never reached
                # output/: the next rebuild takes the full path, which checks output/
            self._publish(err)  # also takes back pages written ahead (they are put back)
            if err.problems != self._said:
                self._said = err.problems
                count = len(err.problems)
                self.say(f"error: {count} problem{'s' if count != 1 else ''}; still serving the "
                         "last good site")
                for problem in err.problems:
                    self.say(f"  {problem}")
            return False
        self._publish(None)
        if self._said:
            self.say("fixed: the site builds again")
        self._said = ()
        self.say(f"built {made.draws} draws, {made.articles} articles: {report.written} "
                 f"written, {report.removed} removed in {time.perf_counter() - started:.2f} s")
        return True

    def _ahead(self, written: Mapping[str, tuple]) -> None:
        """Pages a rebuild wrote ahead of the rest (build._write_first): final already, so they
        are served, and their open tabs reloaded, while the rest is built."""
        with self.state:
            if self._before is not None:
                self._before.update(written)  # not changed again by the rest of the rebuild
            self.generation += 1
            self.versions.update(dict.fromkeys(written, self.generation))
            self.fresh = self.fresh | written.keys()
            self.state.notify_all()

    def _publish(self, error: BuildError | None) -> None:
        """A rebuild ended, well or not: the files it changed (by digest) get a new version."""
        after = self._cache.output if self._cache is not None else None
        with self.state:
            before, self._before = self._before, None
            self.generation += 1
            if before is None or after is None:
                self.everything = self.generation  # not known what changed: every page
            else:
                changed = [rel for rel, known in after.items()
                           if (before.get(rel) or ("",))[0] != known[0]]
                changed += before.keys() - after.keys()
                self.versions.update(dict.fromkeys(changed, self.generation))
                if any(rel.startswith("static/") for rel in changed):
                    self.everything = self.generation  # a style sheet: every page shows it
            if (error is None) != (self.error is None) or (
                    error is not None and error.problems != self.error.problems):
                self.everything = self.generation  # the overlay comes, goes or changes
            self.error, self.fresh = error, frozenset()
            self.state.notify_all()

    def reload_due(self, since: int, file: str | None) -> bool:
        """Should a page served at generation `since` reload now? `file`: the output file it
        shows (None: it reloads on any rebuild, e.g. a 404 page, which a new post may
        replace). Not while a rebuild runs, except for a page written ahead (it is final).
        Call with `state` held."""
        version = self.versions.get(file, 0) if file is not None else self.generation
        if file in self.fresh and version > since:
            return True
        return not self.building and (self.everything > since or version > since)

    def save_cache(self) -> None:
        if self._cache is not None:
            self._cache.save()

    # -- the loop ------------------------------------------------------------------------------
    def poke(self, paths: Iterable[str] | None = None) -> None:
        """A source changed: hold page requests, rebuild once the burst is over. `paths`: the
        files the event named (None: unknown, every file is checked)."""
        now = time.monotonic()
        with self.state:
            if paths is None or self._touched is None:
                self._touched = None
            else:
                self._touched.update(os.path.abspath(p) for p in paths)
            if not self.building:
                self._first = now
            self.building = True
            self._poked = now
            self.state.notify_all()

    def _loop(self) -> None:
        while True:
            with self.state:
                self.state.wait_for(lambda: self.building or self._stop)
                if self._stop:
                    return
                while not self._stop:  # debounce: wait for quiet, but not forever
                    now = time.monotonic()
                    quiet_at = min(self._poked + QUIET, self._first + LONGEST)
                    if now >= quiet_at:
                        break
                    self.state.wait(quiet_at - now)
                self._poked = 0.0
            with self.state:
                touched, self._touched = self._touched, set()
            done = False
            try:
                done = self.rebuild(touched)
            except Exception as err:  # noqa: BLE001 - the loop must survive anything
                self.say(f"error: rebuild failed: {type(err).__name__}: {err}")
            if not done:  # the next rebuild must look at these files again
                with self.state:
                    self._touched = None if touched is None or self._touched is None \
                        else self._touched | touched
            with self.state:
                if self._poked:  # more events came in while building: go again
                    self._first = time.monotonic()
                    continue
                self.building = False
                self.state.notify_all()
            if done and touched is not None:
                self._check_output()

    def _check_output(self) -> None:
        """After a quick rebuild, which trusted output/ to save time before the page is
        served: if a file in it was deleted or changed by hand, rebuild the full way."""
        cache = self._cache
        if cache is not None and not output_intact(cache.output, self.options.output):
            self.say("output/ was changed outside eesite: rebuilding it")
            self.poke(None)

    def start(self) -> None:
        """Watch the sources and rebuild in a background thread."""
        root = self.options.source
        handler = _Handler(root, self.poke)
        self._observer = Observer()
        self._observer.schedule(handler, str(root), recursive=False)
        for folder in ("content", "templates"):
            if (root / folder).is_dir():
                self._observer.schedule(handler, str(root / folder), recursive=True)
        self._observer.daemon = True
        self._observer.start()
        self._thread = threading.Thread(target=self._loop, name="eesite-rebuild", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self.state:
            self._stop = True
            self.state.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.save_cache()

    def wait_idle(self, timeout: float | None = None, file: str | None = None) -> bool:
        """Block while a rebuild is pending or running (page requests call this), unless it
        has written `file` already (`fresh`). A rebuild that wrote pages ahead had only post
        files changed (build.py), so static/ is final too: the page's style sheet and
        scripts must not wait, or the browser cannot paint the page written ahead."""
        with self.state:
            return self.state.wait_for(
                lambda: not self.building or self._stop or file in self.fresh
                or (self.fresh and file is not None and file.startswith("static/")
                    and not file.endswith(".html")), timeout)  # (a page may be at /static/)
