"""Incremental rendering: re-render a page only when something it showed has changed.

The rule is a verifying trace (as in build systems such as Shake): while a page renders, the
template environment records what it reads — the templates it loads, every `Entry` whose
attributes it touches, every attribute of the `site` global and every call of a `site` method
with its arguments. The page's fingerprint is a hash of the current value of each of those,
plus its template name and its context. Next build, the fingerprint is recomputed from the new
model using the recorded reads; if it is equal, the page's bytes are the same as last time and
the file already in output/ is kept. A read that changed (or a template that changed) renders
the page again and records a fresh trace. Because every input a template can reach is either
recorded or part of a recorded value, the result equals a clean build — tests check that.

What an `Entry` stands for in a hash: its URL, its post (file digest) and the URLs of the entries
it links to; the linked entries count when a template reads them (they are recorded then).
Python code called from a template (filters, globals) counts its Entry arguments the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import jinja2
from jinja2.runtime import Context
from markupsafe import Markup

from eesite.cache import digest
from eesite.content import Post
from eesite.model import Entry, Site

_PLAIN = (str, int, float, bool, type(None), date, datetime, Markup)


@dataclass
class Reads:
    """What one page's templates read while it rendered."""

    templates: set[str] = dataclasses.field(default_factory=set)
    entries: set[str] = dataclasses.field(default_factory=set)  # entry URLs
    attrs: set[str] = dataclasses.field(default_factory=set)  # site attributes
    calls: set[tuple] = dataclasses.field(default_factory=set)  # (site method, argument refs)


@dataclass(frozen=True)
class Trace:
    """How a page was made: enough to tell next time whether it would come out the same."""

    template: str
    fingerprint: str
    templates: tuple[str, ...]
    entries: tuple[str, ...]
    attrs: tuple[str, ...]
    calls: tuple[tuple, ...]
    output: str  # digest of the bytes produced


def _ref(value: object) -> object:
    """A method argument as something that outlives this build: entries by URL."""
    return ("entry", value.url) if type(value) is Entry else value


class _SiteMethod:
    """A `site` method handed to a template: calls are recorded with their arguments."""

    def __init__(self, reads: Reads, name: str, method):
        self.reads, self.name, self.method = reads, name, method

    def __call__(self, *args):
        self.reads.calls.add((self.name, tuple(_ref(a) for a in args)))
        return self.method(*args)


class TracingContext(Context):
    """Counts Entry arguments of any Python callable a template calls (filters, globals)."""

    def call(__self, __obj, *args, **kwargs):  # noqa: N805 - Jinja's own signature
        reads = __self.environment.reads
        if reads is not None:
            for value in (*args, *kwargs.values()):
                if type(value) is Entry:
                    reads.entries.add(value.url)
        return super().call(__obj, *args, **kwargs)


class TracingEnvironment(jinja2.Environment):
    """A Jinja environment that records reads while `reads` is set (one page at a time)."""

    context_class = TracingContext
    reads: Reads | None = None

    def _note(self, obj: Any, name: Any, value: Any) -> Any:
        reads = self.reads
        if reads is not None:
            kind = type(obj)
            if kind is Entry:
                reads.entries.add(obj.url)
            elif kind is Site and isinstance(name, str):
                if inspect.ismethod(value):
                    return _SiteMethod(reads, name, value)
                reads.attrs.add(name)
        return value

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self._note(obj, attribute, super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self._note(obj, argument, super().getitem(obj, argument))

    def get_template(self, name, parent=None, globals=None):  # noqa: A002 - Jinja's signature
        if self.reads is not None and isinstance(name, str):
            self.reads.templates.add(self.join_path(name, parent) if parent else name)
        return super().get_template(name, parent, globals)


class Keys:
    """Hashes of the current model's values, each computed once per build."""

    def __init__(self, site: Site, env: jinja2.Environment, post_digests: Mapping[str, str]):
        self.site = site
        self.env = env
        self.post_digests = post_digests
        self.by_url = {e.url: e for e in (*site.entries, *site.pages, *site.draws)}
        self._entries: dict[int, str] = {}
        self._templates: dict[str, str] = {}
        self._attrs: dict[str, str] = {}

    # -- values ------------------------------------------------------------------------------
    def value(self, value: object) -> str:
        h = hashlib.blake2b(digest_size=16)
        self._feed(h, value)
        return h.hexdigest()

    def _feed(self, h, value: object) -> None:
        kind = type(value)
        if kind is str or kind is Markup:
            h.update(b"s%d:" % len(value))
            h.update(value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, _PLAIN):
            h.update(f"{kind.__name__}:{value!r};".encode())
        elif kind is Entry:
            h.update(self.entry(value).encode())
        elif kind is Site:
            h.update(b"site;")  # what a template reads from it is recorded separately
        elif kind is Post:
            h.update(self.post(value).encode())
        elif isinstance(value, tuple | list):
            h.update(b"(")
            for item in value:
                self._feed(h, item)
            h.update(b")")
        elif isinstance(value, Mapping):
            h.update(b"{")
            for key in sorted(value, key=repr):
                self._feed(h, key)
                self._feed(h, value[key])
            h.update(b"}")
        elif isinstance(value, set | frozenset):
            self._feed(h, sorted(value, key=repr))
        elif dataclasses.is_dataclass(value):
            h.update(f"{kind.__module__}.{kind.__qualname__}(".encode())
            for f in dataclasses.fields(value):
                self._feed(h, getattr(value, f.name))
            h.update(b")")
        else:  # anything else by repr; one with an address in it simply never matches
            h.update(f"{kind.__qualname__}:{value!r};".encode())

    def post(self, post: Post) -> str:
        known = self.post_digests.get(post.source)
        return known or digest(repr(post))

    def entry(self, entry: Entry) -> str:
        """An entry's own content and the URLs of the entries it links to."""
        key = self._entries.get(id(entry))
        if key is None:
            parts = []
            for f in dataclasses.fields(entry):
                value = getattr(entry, f.name)
                parts.append(value.url if type(value) is Entry else
                             self.post(value) if type(value) is Post else self.value(value))
            key = self._entries[id(entry)] = digest("\0".join(parts))
        return key

    # -- recorded reads ----------------------------------------------------------------------
    def template(self, name: str) -> str:
        key = self._templates.get(name)
        if key is None:
            try:
                source = self.env.loader.get_source(self.env, name)[0]
            except jinja2.TemplateNotFound:
                source = "\0missing"
            key = self._templates[name] = digest(source)
        return key

    def attr(self, name: str) -> str:
        key = self._attrs.get(name)
        if key is None:
            key = self._attrs[name] = self.value(getattr(self.site, name, "\0missing"))
        return key

    def call(self, name: str, refs: tuple) -> str:
        args = []
        for ref in refs:
            if isinstance(ref, tuple) and len(ref) == 2 and ref[0] == "entry":
                if ref[1] not in self.by_url:
                    return "\0missing"
                args.append(self.by_url[ref[1]])
            else:
                args.append(ref)
        method = getattr(self.site, name, None)
        return self.value(method(*args)) if callable(method) else "\0missing"

    def fingerprint(self, template: str, context: str, templates, entries, attrs, calls) -> str:
        parts = [template, context]
        parts += [f"t:{t}:{self.template(t)}" for t in templates]
        parts += [f"e:{u}:{self.entry(self.by_url[u]) if u in self.by_url else 'missing'}"
                  for u in entries]
        parts += [f"a:{a}:{self.attr(a)}" for a in attrs]
        parts += [f"c:{c!r}:{self.call(*c)}" for c in calls]
        return digest("\n".join(parts))

    def trace(self, template: str, context: str, reads: Reads, output: str) -> Trace:
        templates, entries = tuple(sorted(reads.templates)), tuple(sorted(reads.entries))
        attrs, calls = tuple(sorted(reads.attrs)), tuple(sorted(reads.calls, key=repr))
        return Trace(template, self.fingerprint(template, context, templates, entries, attrs, calls),
                     templates, entries, attrs, calls, output)

    def still_valid(self, trace: Trace, template: str, context: str) -> bool:
        return trace.template == template and trace.fingerprint == self.fingerprint(
            template, context, trace.templates, trace.entries, trace.attrs, trace.calls)
