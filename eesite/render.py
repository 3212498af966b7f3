"""Stage 3, render: the Site model in, a mapping of output path → bytes out.

Rendering is a pure function of the model and the templates: it writes nothing, so a build
that fails here leaves output/ untouched, and the write stage can compare bytes to keep the
mtime of unchanged files. Every output path has one origin; two items on one path are an
error (Pelican refuses that too).

Here: the Page types, `Renderer`, the core section and `render`. The Jinja environment with
its filters is in templating.py; sitemap.xml, robots.txt, draws.json and the static files
are built in site_files.py.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2
from markupsafe import Markup

from eesite.cache import CACHE_DIR, MADE, Cache, digest
from eesite.errors import BuildError, Problem
from eesite.feeds import feed_pages
from eesite.incremental import Reads, Trace, counts_whole, imports_of, known_imports
from eesite.keys import Keys
from eesite.model import Entry, Group, Site
from eesite.occupation_pages import occupation_pages
from eesite.pool import Claims, can_fork, fork_map
from eesite.prose import Html, new_markdown
from eesite.site_files import draws_json, robots, sitemap, static_files
from eesite.templating import make_environment, template_problem
from eesite.trends import trend_pages
from eesite.write import Staged, stage


@dataclass(frozen=True)
class Page:
    """One file to write: where, what, and which input it came from (for error messages)."""

    path: str  # relative to output/, forward slashes
    data: bytes
    origin: str
    lastmod: datetime | None = None  # for the sitemap; None keeps the page out of it
    in_sitemap: bool = False
    kept: str = ""  # digest of the identical file already in output/ (data is then empty)
    staged: Staged | None = None  # written to the staging folder already (data is then empty)

    def __reduce__(self):  # a worker sends back ~11,000; as tuples, kept ones take 1/7 the bytes
        return type(self), (self.path, self.data, self.origin, self.lastmod, self.in_sitemap,
                            self.kept, self.staged)


class _Html:
    """The HTML of Markdown bodies and of `Renderer.memo` calls: the cache's store (read a
    shard at a time: cache.Shards) with what this run made on top."""

    __slots__ = ("stored", "made")

    def __init__(self, stored: Mapping[str, str]):
        self.stored, self.made = stored, {}

    def get(self, key: str) -> str | None:
        found = self.made.get(key)
        return found if found is not None else self.stored.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.made or key in self.stored

    def __setitem__(self, key: str, html: str) -> None:
        self.made[key] = html

    def update(self, items: Iterable[tuple[str, str]] | Mapping[str, str]) -> None:
        self.made.update(items)


@dataclass(frozen=True)
class Later:
    """A context value worked out only by the process that makes the page (`Renderer.page`):
    every worker walks every page, and one page's table of 10,000 rows (`pool_history`) cost
    each of them 0.1 s; a post page's HTML is looked up the same way. `check`, called with
    the same arguments, gives what the page's check may count instead when the page's last
    trace counts the value whole: one that `Keys` hashes the same (a post's HTML by the
    digest of its Markdown), cheaper to make."""

    make: Callable[..., object]
    args: tuple = ()
    check: Callable[..., object] | None = None

    def __call__(self) -> object:
        return self.make(*self.args)


@dataclass(frozen=True)
class _Made(Page):
    """A page this process rendered (or kept) through Renderer.page."""


def _kept_page(path: str, origin: str, lastmod: datetime | None, in_sitemap: bool,
               output: str) -> _Made:
    """`_Made(path, b"", origin, lastmod, in_sitemap, kept=output)` without the frozen
    dataclass's __init__ (a forked worker's 11,000 kept pages are made again in the parent)."""
    page = object.__new__(_Made)
    page.__dict__.update(path=path, data=b"", origin=origin, lastmod=lastmod,
                         in_sitemap=in_sitemap, kept=output, staged=None)
    return page


@dataclass(frozen=True)
class _Elsewhere(Page):
    """A placeholder for a page another worker renders (data is empty)."""


ELSEWHERE = _Elsewhere("", b"", "")  # what a section yields for a page `claim` found another's


def url_to_path(url: str) -> str:
    """"/draws/254/" → "draws/254/index.html"."""
    return url.strip("/") + "/index.html" if url.strip("/") else "index.html"


class Renderer:
    """Renders the pages of a Site; collects template problems instead of stopping at one.

    With a Cache it reuses the HTML of unchanged Markdown and keeps pages whose recorded reads
    are unchanged (recorded by incremental.py, checked by keys.py). Forked workers split one
    run of the sections between them: each makes the pages whose turn it takes from `claims`
    (first come, first served), and `share` = (k, n) gives the k-th of n every n-th ready-made
    page.
    """

    def __init__(self, site: Site, templates: Path, cache: Cache | None = None,
                 output: Path | None = None, post_digests: Mapping[str, str] | None = None,
                 lazy_html: bool = False, output_checked: bool = False):
        self.site = site
        self.templates = templates
        compiled = cache.root / CACHE_DIR / "jinja" if cache else None
        if compiled:
            compiled.mkdir(parents=True, exist_ok=True)
        self.env = make_environment(templates, site, compiled)
        if cache is not None:
            known_imports(cache.imports)
        self.problems: set[Problem] = set()
        self.cache = cache
        self.output = output
        self.output_checked = output_checked  # every file of cache.output found as recorded
        # body digest -> HTML; `lazy_html` (a few pages to make) does not read the store for it
        keep = cache is not None and (not lazy_html or "html" in cache.loaded)
        self.html = _Html(cache.html if keep else {})
        self.memos: set[str] = set()  # keys of `memo` results used by this run
        self.keys = Keys(site, self.env, post_digests or {}) if cache else None
        self.traces: dict[str, Trace] = {}
        self.rendered = 0  # pages and files made (not kept) by this process
        self.texts_read: set[str] = set()  # sources read (markdown) since the last page was made
        self.only: set[str] | None = None  # delta.py: make only these paths, keep the others
        self.share = (0, 1)
        self.claims: Claims | None = None  # set while forked workers share the pages
        self._turn = 0
        self._held: bool | None = None  # the turn `claim` took for the next page
        self.staging: str | None = None  # write rendered pages there instead of keeping bytes
        self._fragments: dict[tuple, Markup] = {}
        self._body_keys: dict[str, str] = {}  # source -> its Markdown's digest (body_key)
        self._parsed = cache.posts if cache is not None and "posts" in cache.loaded else {}

    @functools.cached_property
    def md(self):
        """The Markdown converter, made on first use: a build that finds every text's HTML in
        the cache (a front-matter edit) never needs it (~0.03 s with its extensions)."""
        return new_markdown()

    def markdown(self, entry: Entry) -> Html:
        """The HTML of an entry's text (recorded as read by the page being made)."""
        source = entry.post.source
        self.texts_read.add(source)
        key = self.body_key(source)
        html = self.html.get(key)
        if html is None:
            self.md.reset()
            html = self.html[key] = self.md.convert(self.site.texts.get(source, ""))
        return Html(html, key)

    def markdown_key(self, entry: Entry) -> Html:
        """`markdown(entry)` as a page's check counts it, by the digest of its Markdown, with
        no HTML: checking 10,000 round pages read the whole HTML store (31 MB) for nothing."""
        source = entry.post.source
        self.texts_read.add(source)
        return Html("", self.body_key(source))

    def body_key(self, source: str) -> str:
        """The digest of a post's Markdown body (its HTML's key): the one the loader took when
        it parsed the post, kept in the posts store (hashing 10,000 bodies again cost every
        full build ~0.05 s), else worked out once a build; forked workers inherit it."""
        key = self._body_keys.get(source)
        if key is None:
            text, hit = self.site.texts.get(source, ""), self._parsed.get(source)
            key = hit[4] if hit and hit[2].body is text else digest(text)  # (that very body)
            self._body_keys[source] = key
        return key

    def memo(self, func: Callable[[str, str], str], text: str, arg: str) -> str:
        """`func(text, arg)` for a pure string function (a feed item's cleaned HTML), kept in
        the cache beside the Markdown HTML: parsing HTML in Python costs ~2 ms a call."""
        key = MADE + digest(f"{func.__module__}.{func.__qualname__}\0{arg}\0{text}")
        self.memos.add(key)
        found = self.html.get(key)
        if found is None:
            found = self.html[key] = func(text, arg)
        return found

    def fragment(self, template: str, macro: str, *args) -> Markup:
        """What `macro(*args)` of `template` outputs, made once per build for equal (hashable)
        arguments: a piece that thousands of pages show alike, such as the trend pages'
        navigation with its link to every year (~0.09 ms a page at 10,000 rounds). Pass it in
        the pages' context, where it counts whole: an edit of the macro reaches every page."""
        key = (template, macro, args)
        found = self._fragments.get(key)
        if found is None:
            found = self._fragments[key] = self._fragment(template, macro, args)
        return found

    def _fragment(self, template: str, macro: str, args: tuple) -> Markup:
        where = f"{self.templates.name}/{template}"
        try:
            try:
                call = getattr(self.env.get_template(template).module, macro, None)
                if call is None:
                    self.problems.add(Problem(where, 1, "", f"template error: expected a macro "
                                              f"{macro!r} (eesite renders it once a build), "
                                              "found none"))
                    return Markup()
                return Markup(call(*args))
            except jinja2.TemplateNotFound:
                raise
            except Exception:  # noqa: BLE001 - outside Template.render: Jinja's own handler
                self.env.handle_exception()  # gives the template's lines back
        except jinja2.TemplateNotFound as err:
            if err.name == template:  # its pages say so too; this says why eesite needs it
                self.problems.add(Problem(where, 1, "", "template error: TemplateNotFound: no "
                                          f"{template!r} in {self.templates.name}/; eesite "
                                          f"renders its macro {macro!r} once a build"))
            else:  # a template it imports: like any page's error
                self.problems.add(template_problem(err, self.templates))
        except Exception as err:  # noqa: BLE001 - a template problem like any other
            self.problems.add(template_problem(err, self.templates))
        return Markup()

    def prepare_markdown(self, entries: Iterable[Entry], jobs: int,
                         meanwhile: Callable[[], object] | None = None) -> None:
        """Convert every body not in the cache up front, over `jobs` processes when many;
        `meanwhile` runs in this process (pool.fork_map)."""
        texts = self.site.texts
        todo = {self.body_key(e.post.source): e.post.source for e in entries}
        todo = [(k, texts.get(source, "")) for k, source in todo.items() if k not in self.html]
        if todo:
            self.md  # noqa: B018 - made before forking, not in each worker

        def convert(item: tuple[str, str]) -> tuple[str, str]:
            self.md.reset()
            return item[0], self.md.convert(item[1])

        self.html.update(fork_map(convert, todo, jobs if len(todo) >= 200 else 1,
                                  meanwhile=meanwhile))

    def page(self, url: str, template: str, origin: str, lastmod: datetime | None = None,
             **context) -> Page | None:
        """The page at `url` from `template` (in the sitemap); None if the template failed."""
        return self._make(url_to_path(url), url, template, origin, lastmod, True, context)

    def page_at(self, path: str, url: str, template: str, origin: str, **context) -> Page | None:
        """A templated file at a path of its own (such as 404.html), left out of the sitemap."""
        return self._make(path, url, template, origin, None, False, context)

    def _make(self, path: str, url: str, template: str, origin: str, lastmod: datetime | None,
              in_sitemap: bool, context: dict) -> Page | None:
        if not self._mine():
            self.texts_read.clear()
            return _Elsewhere(path, b"", origin, lastmod, in_sitemap)
        if self._carried(path):
            self.texts_read.clear()
            return _Made(path, b"", origin, lastmod, in_sitemap, kept=self.traces[path].output)
        keys = self.keys
        old = self.cache.pages.get(path) if keys is not None else None
        later = {name: value for name, value in context.items() if type(value) is Later}
        stand_ins = {name for name, value in later.items() if value.check is not None
                     and old is not None and counts_whole(old, name)}
        context = {"url": url, **context, **{
            name: value.check(*value.args) if name in stand_ins else value()
            for name, value in later.items()}}
        texts = self._texts()
        if old is not None:
            if keys.still_valid(old, template, context) and self._in_output(path, old.output):
                self.traces[path] = old
                return _Made(path, b"", origin, lastmod, in_sitemap, kept=old.output)
            for name in stand_ins:  # made again: the real values (their texts are counted)
                context[name] = later[name]()
            self.texts_read.clear()
        reads = self.env.reads = Reads() if keys is not None else None
        if reads is not None:
            reads.context(context)
        try:
            html = self.env.get_template(template).render(context)
        except Exception as err:  # noqa: BLE001 - any template failure is the editor's to fix
            self.problems.add(template_problem(err, self.templates))
            return None
        finally:
            self.env.reads = None
        data = html.encode("utf-8")
        self.rendered += 1
        key = digest(data) if reads is not None or self.staging else ""
        if reads is not None:
            reads.templates.add(template)
            self.traces[path] = keys.trace(template, context, reads, key, texts)
        if self.staging:
            return _Made(path, b"", origin, lastmod, in_sitemap,
                         staged=stage(self.staging, path, data, key))
        return _Made(path, data, origin, lastmod, in_sitemap)

    def claim(self) -> bool:
        """Take the next page's turn before its context is worked out: False, another worker
        makes it (then return `ELSEWHERE`, not a page). Every worker walks every page, and
        working out the context of each draw and snapshot page only to find it another's cost
        each worker ~0.05 s at 10,000 posts. When True, the next `page` or `file` call uses
        this turn (when False, the section makes no call for that page)."""
        mine = self._mine()
        self._held = True if mine else None
        return mine

    def _mine(self) -> bool:
        """Is the next page this process's to make (see `claims`; without them, every n-th)?"""
        held = self._held
        if held is not None:
            self._held = None
            return held
        turn = self._turn
        self._turn += 1
        if self.claims is not None:
            return self.claims.take(turn)
        mine, count = self.share
        return turn % count == mine

    def _carried(self, path: str) -> bool:
        """In a delta rebuild: is `path` outside `only` and in output/ as its trace made it?"""
        if self.only is None or path in self.only:
            return False
        old = self.cache.pages.get(path)
        if old is None or self.cache.output.get(path, ("",))[0] != old.output:
            return False
        self.traces[path] = old
        return True

    def _texts(self) -> tuple[str, ...]:
        """The texts read for the page about to be made (its context is computed just before)."""
        texts = tuple(sorted(self.texts_read))
        self.texts_read = set()
        return texts

    def file(self, path: str, origin: str, make: Callable[[], bytes], texts: Iterable[str] = (),
             inputs: Callable[[], object] | None = None, here: bool = False) -> Page:
        """A file built in Python (XML, JSON), made only by the worker whose turn it is, so
        forked workers do not all build every feed. `texts`: the sources whose Markdown it
        may show (besides those `make` reads through `markdown`). `inputs`: what its bytes
        depend on, asked only with a cache (None: unknown this time): it is made again only
        when that changed, else kept as it is in output/; without, made every full build.
        `here`: made by the first share, the parent's own (render), taking no turn: a large
        file a forked worker made was pickled back through a pipe (draws.json: 6 MB at 10,000
        posts, remade on every front-matter edit)."""
        self._texts()
        if not (self.share[0] == 0 if here else self._mine()):
            return _Elsewhere(path, b"", origin)
        if self._carried(path):
            return _Made(path, b"", origin, kept=self.traces[path].output)
        key = ""
        if inputs is not None and self.keys is not None and (given := inputs()) is not None:
            key = self.keys.value(given)
            old = self.cache.pages.get(path)
            if old and not old.template and old.fingerprint == key and self._in_output(
                    path, old.output):
                self.traces[path] = old
                return _Made(path, b"", origin, kept=old.output)
        data = make()
        self.rendered += 1  # (its new trace is to be saved, as a page's)
        self.texts_read.update(texts)
        output = digest(data)
        if self.keys is not None:  # (the texts: a prose edit remakes the files that show it)
            self.traces[path] = Trace("", key, (), (), (), output, self._texts())
        return self._made(path, origin, data, output)

    def _made(self, path: str, origin: str, data: bytes, key: str) -> Page:
        """A file made here: written to the staging folder when there is one (no process then
        holds the site's bytes, nor sends them through a pipe: draws.json is 6 MB at 10,000
        posts), else kept in the page."""
        if self.staging:
            return _Made(path, b"", origin, staged=stage(self.staging, path, data, key))
        return _Made(path, data, origin)

    def _in_output(self, path: str, output_digest: str) -> bool:
        """Is the file eesite wrote at `path` last time still there, untouched?"""
        known = self.cache.output.get(path) if self.output else None
        if not known or known[0] != output_digest:
            return False
        if self.output_checked:  # the build stat'ed every file already (state.output_intact)
            return True
        try:
            st = os.stat(os.path.join(self.output, path))  # no Path: called for every page
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns) == known[1:]

    def check_templates(self) -> None:
        """Compile every template so syntax errors in unused ones are found too."""
        names = self.env.list_templates(extensions=["html", "xml", "txt"])
        for name in names:
            try:
                self.env.get_template(name)
            except jinja2.TemplateSyntaxError as err:
                self.problems.add(template_problem(err, self.templates))
        self.env.with_imports(names)  # what each imports, worked out once before any fork

    def run(self, sections: tuple[Section, ...]) -> list[tuple[int, Page]]:
        """(position, page) of this process's share of the pages the sections yield.

        Ready-made pages are shared out by their own count, templated ones by `_make`.
        """
        mine, count = self.share
        out, ready, position = [], 0, 0
        for section in sections:
            for page in section(self):
                if page is None:
                    continue
                position += 1
                if isinstance(page, _Elsewhere):
                    continue
                if not isinstance(page, _Made):
                    ready += 1
                    if (ready - 1) % count != mine:
                        continue
                out.append((position, page))
        return out


def core_pages(r: Renderer) -> Iterator[Page | None]:
    """Posts, home pages, the archive, categories, tags, the 404 page and draws.json."""
    site = r.site
    for entry in site.entries + site.pages:
        yield post_page(r, entry)
    for listing in site.home:
        yield r.page(listing.url, "home.html", "templates/home.html", site.updated, listing=listing)
    for listing in site.archive:
        yield r.page(listing.url, "archive.html", "templates/archive.html", site.updated,
                     listing=listing)
    yield r.page("/categories/", "categories.html", "templates/categories.html", site.updated)
    yield from _group_pages(r, site.categories, "category.html")
    if site.tags:
        yield r.page("/tags/", "tags.html", "templates/tags.html", site.updated)
    yield from _group_pages(r, site.tags, "tag.html")
    yield r.page_at("404.html", "/404/", "404.html", "templates/404.html")
    yield r.file("draws.json", "draws.json", lambda: draws_json(site).data, inputs=lambda: (
        tuple((e.url, r.keys.post(e.post)) for e in site.draws), site.settings, site.updated),
        here=True)


def _group_pages(r: Renderer, groups: tuple[Group, ...], template: str
                 ) -> Iterator[Page | None]:
    """A page for each listing of each group (a category's rounds, a tag's posts)."""
    for group in groups:
        for listing in group.listings:
            yield r.page(listing.url, template, f"templates/{template}",
                         listing.entries[0].post.date, group=group, listing=listing)


def post_page(r: Renderer, entry: Entry) -> Page | None:
    """The page of one post: its facts and its text. A draw page also gets what eesite
    worked out for its round in its context, not from `site`: read from `site` by URL, they
    made every draw page's recorded reads its own, so no part of 10,000 fingerprints was
    shared (0.4 s of a cut-off edit's check)."""
    if not r.claim():
        return ELSEWHERE
    post = entry.post
    content = Later(r.markdown, (entry,), check=r.markdown_key)
    lastmod = post.updated or post.date
    if post.kind != "draw":
        return r.page(entry.url, f"{post.kind}.html", post.source, lastmod, entry=entry,
                      content=content)
    site, url = r.site, entry.url
    return r.page(url, "draw.html", post.source, lastmod, entry=entry, content=content,
                  applied=site.occupations.applied.get(url),
                  ytd=site.analytics.standing(entry), after=site.next_draw(entry))


def _post_pages_for(r: Renderer, sources: frozenset[str]) -> Iterator[Page | None]:
    """Only the pages of posts whose text is in `sources` (delta.py: a prose edit)."""
    for entry in r.site.entries + r.site.pages:
        if entry.post.source in sources:
            yield post_page(r, entry)


core_pages.for_texts = _post_pages_for  # the other core pages show no text


def post_pages_now(site: Site, templates: Path, cache: Cache, sources: frozenset[str]
                   ) -> dict[str, bytes]:
    """The pages of the posts in `sources` alone, as they come out of `site` now: `eesite
    serve` writes them before the rest of a rebuild. Empty when one fails (the rebuild says
    why)."""
    r = Renderer(site, templates, cache, lazy_html=True)
    pages = list(_post_pages_for(r, sources))
    if r.problems or None in pages:
        return {}
    return {page.path: page.data for page in pages}


Section = Callable[[Renderer], Iterable[Page | None]]

# From this many posts, even a build that keeps most pages checks them in forked workers:
# checking a page (hashing its context and the values it read) costs ~0.1-0.2 ms.
CHECK_IN_WORKERS = 2000

# Each part of the site is a section: a function that yields its pages through
# `Renderer.page` (templated HTML) or as ready `Page`s (XML, JSON). Add new parts here.
# Section modules import Page and Renderer from here only inside functions (no import cycle).
SECTIONS: tuple[Section, ...] = (core_pages, occupation_pages, feed_pages, trend_pages)


def render(site: Site, templates: Path, sections: tuple[Section, ...] = SECTIONS, *,
           cache: Cache | None = None, output: Path | None = None,
           post_digests: Mapping[str, str] | None = None, jobs: int = 1,
           staging: Path | None = None, meanwhile: Callable[[], object] | None = None,
           output_checked: bool = False) -> list[Page]:
    """Every output file of the site, or a BuildError listing every problem met.

    With a cache, pages that would come out the same are returned as `kept` (no data) and the
    cache is updated; with jobs > 1 a large site is rendered by forked workers. When most of a
    large site renders, its pages are written to `staging` as they are made and returned as
    `staged` (no data), so that no process holds every page (the caller removes `staging`).
    `meanwhile` is called once while the workers render (pool.fork_map). `output_checked`:
    the caller found every file of the cache's output index in `output` as recorded.
    """
    renderer = Renderer(site, templates, cache, output, post_digests,
                        output_checked=output_checked)
    entries = (*site.entries, *site.pages)
    large = len(entries) >= 300 and _much_to_render(renderer, cache)
    tasks = 1
    if jobs > 1 and (large or len(entries) >= CHECK_IN_WORKERS):
        tasks = jobs  # each task runs every section: more tasks repeat that work
    if large and staging is not None and staging.parent.is_dir():
        renderer.staging = str(staging)
    old = cache.pages if cache is not None else {}
    renderer.claims = Claims() if tasks > 1 and can_fork() else None  # (else one process)

    def ready() -> None:
        """Done in this process while the workers convert Markdown (a cold build: 0.4 s that
        left a core idle), before the render workers are forked: every template compiled,
        and the parts of the model worked out on first use, once rather than per worker."""
        renderer.check_templates()
        if renderer.claims is not None:
            site.complete()

    renderer.prepare_markdown(entries, jobs, meanwhile=ready)

    def share(k: int) -> tuple[list, dict, list, set, int, set, dict]:
        renderer.share, renderer._turn, renderer._held = (k, tasks), 0, None
        if renderer.claims is not None:
            renderer.claims.restart()
        renderer.traces, renderer.problems, renderer.rendered = {}, set(renderer.problems), 0
        renderer.memos = set()
        inherited = set(renderer.html.made) if k else set()
        pages = renderer.run(sections)
        if k == 0:  # this process's own (fork_map `here`): nothing to send
            return pages, renderer.traces, [], renderer.problems, renderer.rendered, \
                renderer.memos, {}
        # a kept page as plain fields: its trace is the cache's own, its digest the trace's
        # (11,000 pages pickled through Page.__reduce__ cost the worker ~0.07 s, as tuples
        # 0.01 s, and the parent 0.02 s to unpickle, now 0.004 s)
        kept = [(position, p.path, p.origin, p.lastmod, p.in_sitemap)
                for position, p in pages if p.kept]
        pages = [(position, p) for position, p in pages if not p.kept]
        fresh = {path: trace for path, trace in renderer.traces.items()
                 if old.get(path) is not trace}
        # for the cache: the memo keys used, and the HTML this worker made (not what it found
        # in the store: a feed's items mostly are, ~0.8 MB a worker at 10,000 posts)
        html = {key: value for key, value in renderer.html.made.items() if key not in inherited}
        return pages, fresh, kept, renderer.problems, renderer.rendered, renderer.memos, html

    found, traces, problems, rendered = [], {}, set(), 0
    for pages, more, kept, trouble, count, memos, html in fork_map(
            share, range(tasks), jobs, batches=1, meanwhile=meanwhile, here=True):
        found += pages
        traces.update(more)
        for position, path, origin, lastmod, in_sitemap in kept:
            trace = traces[path] = old[path]
            found.append((position, _kept_page(path, origin, lastmod, in_sitemap, trace.output)))
        problems |= trouble
        rendered += count
        renderer.html.update(html)
        renderer.memos |= memos
    pages = [page for _, page in sorted(found, key=lambda item: item[0])]
    renderer.share, renderer.traces, renderer.staging = (0, 1), traces, None
    renderer.claims, renderer.rendered = None, 0
    listed = tuple((p.path, p.lastmod) for p in pages if p.in_sitemap)  # (a tuple of plain
    # rows is hashed by one repr: 22,000 rows item by item cost ~0.07 s of every full build)
    pages += [*static_files(templates),
              renderer.file("sitemap.xml", "sitemap.xml", lambda: sitemap(site, pages).data,
                            inputs=lambda: (listed, site.settings)),
              robots(site)]
    files: dict[str, str] = {}
    for page in pages:
        if page.path in files:
            problems.add(Problem(page.origin, 0, "", f"{page.path} is also produced by "
                                 f"{files[page.path]}: two items cannot share one URL; "
                                 "change a slug"))
            continue
        files[page.path] = page.origin
    if problems:
        raise BuildError(problems)
    if cache is not None:
        _update_cache(cache, renderer, entries, traces, rendered + renderer.rendered)
    return pages


def _much_to_render(renderer: Renderer, cache: Cache | None) -> bool:
    """Worth forking: no traces yet, or a template changed (most pages will render again)."""
    if cache is None or not cache.pages:
        return True
    names = renderer.env.list_templates()
    now = {name: renderer.keys.template(name) for name in names}
    return now != cache.templates


def _update_cache(cache: Cache, renderer: Renderer, entries, traces: dict, rendered: int) -> None:
    used = {renderer.body_key(e.post.source) for e in entries} | renderer.memos
    cache.keep_html(used, renderer.html.made)
    if rendered or traces.keys() != cache.pages.keys():
        cache.pages = traces
        cache.changed.add("pages")
    names = {n: renderer.keys.template(n) for n in renderer.env.list_templates()}
    if names != cache.templates:
        cache.templates = names
        cache.changed.add("templates")
    imports = imports_of(names)
    if imports != cache.imports:
        cache.imports = imports
        cache.changed.add("imports")


def render_site(site: Site, templates: Path, sections: tuple[Section, ...] = SECTIONS
                ) -> dict[str, bytes]:
    """Every output file of the site as bytes (no cache), or a BuildError."""
    return {page.path: page.data for page in render(site, templates, sections)}
