"""Keys: a page's fingerprint, hashed from the current model along the reads its trace recorded.

A page's trace (incremental.py) names what it read: its templates, the entries it touched,
the paths it followed from the `site` global or its context. Its fingerprint hashes its
template name, each template's source, each entry's content and what each recorded path leads
to in the current model (or the page's context); `Keys.trace` makes it after a render and
`Keys.still_valid` makes it again next build, from the new model: equal, the page is kept as
it is. One `Keys` serves one build (a live rebuild: while the model is the same), and every
value is hashed once however many pages read it — pages share their menus, years and rounds.

How a value is hashed: an `Entry` by its own fields (its post by the file's digest) and the
URLs of the entries it links to (a linked entry counts only when a template reads it, and is
recorded then); an `Html` (a post's HTML) by the digest of its Markdown; a tuple of plain
values, or of rows of them, by one `repr`; a record by its fields, or by those its class names
in `made_of` when the others are worked out from them alone (analytics.Snapshot); a container
or record met again by its id, hashed once; anything else by `repr` (one with an address in it
never matches).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import ItemsView, KeysView, Mapping, ValuesView
from typing import Any

import jinja2
from markupsafe import Markup

from eesite.cache import digest
from eesite.content import Post
from eesite.incremental import (
    _CTX,
    _GLOBAL,
    _MISSING,
    _PLAIN,
    _PLAIN_TYPES,
    Reads,
    Trace,
    TracingEnvironment,
    _field_names,
    _own,
    _Ref,
    _Seq,
)
from eesite.model import Entry, Site
from eesite.prose import Html

_NEVER = "\0never"  # the fingerprint of a page that is always made again (never a digest)
_NONE: Mapping = {}


def _all_plain(values: tuple) -> bool:
    """Plain values, or tuples of them to any depth (a table's rows and their links)."""
    for item in values:
        kind = type(item)
        if kind in _PLAIN_TYPES:
            continue
        if kind is tuple:  # rows are common: their cells are looked at here, deeper by a call
            for cell in item:
                inner = type(cell)
                if inner in _PLAIN_TYPES:
                    continue
                if inner is tuple:
                    if not _all_plain(cell):
                        return False
                elif not isinstance(cell, _PLAIN):
                    return False
        elif not isinstance(item, _PLAIN):
            return False
    return True


def _feed_repr(h, text: str) -> None:
    h.update(b"r%d:" % len(text))
    h.update(text.encode("utf-8", "surrogatepass"))


def _plain_repr(values: tuple) -> str | None:
    """The repr of a tuple of plain values or of tuples of them to any depth (exact and
    deterministic for these types), or None when it holds anything else."""
    return tuple.__repr__(values) if _all_plain(values) else None


@functools.cache
def _made_of(kind: type) -> tuple[str, ...]:
    """The fields `Keys` hashes a record by: all of them, or those its class names in
    `made_of` when the others are worked out from those alone (analytics.Snapshot)."""
    return getattr(kind, "made_of", None) or _field_names(kind)


@functools.cache
def _shape(kind: type) -> str:
    """How `Keys` hashes a value of this type, worked out once per type (an isinstance check
    against Mapping and the other ABCs cost more than hashing a small record's fields)."""
    if issubclass(kind, _PLAIN):
        return "plain"
    if issubclass(kind, tuple | list):
        return "seq"
    if issubclass(kind, Mapping):
        return "map"
    if issubclass(kind, set | frozenset):
        return "set"
    if issubclass(kind, KeysView | ValuesView | ItemsView):
        return "view"
    return "record" if dataclasses.is_dataclass(kind) else "repr"


@functools.cache
def _record_head(kind: type) -> bytes:
    return f"{kind.__module__}.{kind.__qualname__}(".encode()


class Keys:
    """Hashes of the current model's values, each computed once per build."""

    def __init__(self, site: Site, env: TracingEnvironment, post_digests: Mapping[str, str]):
        self.site = site
        self.env = env
        self.post_digests = post_digests
        self.by_url = {e.url: e for e in (*site.entries, *site.pages, *site.draws)}
        self._entries: dict[int, str] = {}
        self._templates: dict[str, str] = {}
        self._attrs: dict[str, str] = {}
        self._shared: dict[int, tuple[bytes, object]] = {}
        self._objects: dict[tuple, Any] = {}
        self._groups: dict[tuple, str] = {}
        self._entry_lines: dict[str, str] = {}  # entry URL -> its line in fingerprints
        self._path_lines: dict[tuple, str] = {}  # (kind, path) -> its line in fingerprints
        self._template_lines: dict[tuple, list[str]] = {}  # templates -> their lines
        self._shared_parts: dict[tuple, tuple] = {}  # traces' equal tuples as one object

    # -- values ------------------------------------------------------------------------------
    def value(self, value: object) -> str:
        h = hashlib.blake2b(digest_size=16)
        self._feed(h, value)
        return h.hexdigest()

    def _feed(self, h, value: object) -> None:
        kind = type(value)
        if kind is str or kind is Markup:  # (told apart: a template escapes one, not the other)
            h.update((b"s%d:" if kind is str else b"m%d:") % len(value))
            h.update(value.encode("utf-8", "surrogatepass"))
        elif kind in _PLAIN_TYPES:
            h.update(f"{kind.__name__}:{value!r};".encode())
        elif kind is Html:  # a post's HTML: by the digest of its Markdown (prose.Html)
            h.update(b"h%s;" % value.key.encode())
        elif kind is Entry:
            h.update(self.entry(value).encode())
        elif kind is Site:
            h.update(b"site;")  # what a template reads from it is recorded separately
        elif kind is Post:
            h.update(self.post(value).encode())
        elif (kind is tuple or kind is _Seq) and len(value) <= 16 and (
                text := _plain_repr(value)) is not None:
            _feed_repr(h, text)  # a small row of plain values: not worth a memo
        elif _shape(kind) == "plain":  # a subclass of a plain type
            h.update(f"{kind.__name__}:{value!r};".encode())
        else:  # containers and records: hashed once per build however often they are shared
            known = self._shared.get(id(value))
            if known is None:
                inner = hashlib.blake2b(digest_size=16)
                self._feed_structure(inner, value)
                known = (inner.digest(), value)  # holding `value` keeps its id unique
                self._shared[id(value)] = known
            h.update(known[0])

    def _feed_structure(self, h, value: object) -> None:
        kind = type(value)
        shape = _shape(kind)
        if shape == "record":
            h.update(_record_head(kind))
            feed = self._feed
            for name in _made_of(kind):
                feed(h, getattr(value, name))
            h.update(b")")
        elif shape == "seq":
            if isinstance(value, tuple) and len(value) > 16 and (  # (_feed tried short ones)
                    text := _plain_repr(value)) is not None:
                _feed_repr(h, text)  # plain values or rows of them (bands, year links)
                return
            h.update(b"(")
            for item in value:
                self._feed(h, item)
            h.update(b")")
        elif shape == "map":
            h.update(b"{")
            for key in sorted(value, key=repr):
                self._feed(h, key)
                self._feed(h, value[key])
            h.update(b"}")
        elif shape == "set":
            self._feed(h, sorted(value, key=repr))
        elif shape == "view":
            self._feed(h, list(value))
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
            for name in _field_names(Entry):
                value = getattr(entry, name)
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

    def _walk(self, path: tuple, objects: dict | None = None, context: Mapping = _NONE) -> Any:
        """Follow a recorded path in the current model, or from a page's `context` (with its
        own `objects` memo); raises when it leads nowhere."""
        if objects is None:
            objects = self._objects
        obj = objects.get(path, _MISSING)
        if obj is not _MISSING:
            return obj
        if len(path) > 1:
            obj = self._walk(path[:-1], objects, context)
        elif path[0][0] == _CTX:
            objects[path] = obj = context[path[0][1]]
            return obj
        elif path[0][0] == _GLOBAL:  # its function, not the wrapper that records its calls
            objects[path] = obj = self.env.globals[path[0][1]].__wrapped__
            return obj
        else:
            obj = self.site
        kind, arg = path[-1]
        if kind == ".":
            obj = jinja2.Environment.getattr(self.env, obj, arg)
        elif kind == "[]":
            obj = jinja2.Environment.getitem(self.env, obj, arg)
        else:
            positional, named = arg
            obj = obj(*[self._resolve(r, objects, context) for r in positional],
                      **{k: self._resolve(v, objects, context) for k, v in named})
        objects[path] = obj
        return obj

    def _resolve(self, ref: object, objects: dict, context: Mapping) -> object:
        if type(ref) is _Ref:
            if ref.kind == "entry":
                return self.by_url[ref.key]
            if ref.kind == "at":
                return self._walk(ref.key, objects, context)
            raise LookupError("an argument that cannot be found again")
        if type(ref) is tuple:
            return tuple(self._resolve(r, objects, context) for r in ref)
        return ref

    def _value_at(self, kind: str, path: tuple, objects: dict | None = None,
                  context: Mapping = _NONE) -> str:
        """The hash of what a recorded read gives in the current model (or context)."""
        try:
            if kind == "i":  # two paths to one object: still one?
                one, other = path
                return "same" if self._walk(one, objects, context) is self._walk(
                    other, objects, context) else "other"
            value = self._walk(path, objects, context)
        except Exception:  # noqa: BLE001 - a path that leads nowhere now: not the same page
            return "\0missing"
        if kind == "s":  # only read into: its type, and its keys or length
            value = (type(value).__qualname__, tuple(value) if isinstance(value, Mapping)
                     else len(value) if isinstance(value, tuple) else ())
        return self.value(value)

    def context(self, leaves: tuple, context: Mapping) -> str:
        """The hash of what a page read of its context, as it is now (one page's values:
        no memo across pages). A value counted whole goes into the one hash directly."""
        h = hashlib.blake2b(digest_size=16)
        h.update("\0".join(context).encode("utf-8", "surrogatepass"))
        objects: dict = {}
        for kind, path in leaves:
            if kind == "v" and len(path) == 1 and path[0][0] == _CTX:
                value = context.get(path[0][1], _MISSING)
                h.update(b"\nw")
                if value is _MISSING:
                    h.update(b"\0missing")
                else:
                    self._feed(h, value)
            else:
                h.update(b"\nl" + self._value_at(kind, path, objects, context).encode())
        return h.hexdigest()

    def fingerprint(self, template: str, context: str, templates, entries, paths) -> str:
        parts = [template, context]
        lines = self._template_lines.get(templates)
        if lines is None:  # most pages share their templates: their lines made once a build
            lines = self._template_lines[templates] = [f"t:{t}:{self.template(t)}"
                                                       for t in templates]
        parts += lines
        known = self._entry_lines
        parts += [known[u] if u in known else self._entry_line(u) for u in entries]
        group = self._groups.get(paths)
        if group is None:  # pages of one kind share their reads of the site (menus, years)
            known = self._path_lines
            group = self._groups[paths] = digest("\n".join(
                [known[leaf] if leaf in known else self._path_line(leaf) for leaf in paths]))
        parts.append(group)
        return digest("\n".join(parts))

    def _path_line(self, leaf: tuple[str, tuple]) -> str:
        """A recorded read's part of a fingerprint, made once (the same read is on many pages)."""
        # (the trace's own `paths` say which read each line is: they are not repeated here)
        line = self._path_lines[leaf] = self._value_at(*leaf)
        return line

    def _entry_line(self, url: str) -> str:
        """An entry's part of a fingerprint (a page may read thousands: each made once)."""
        entry = self.by_url.get(url)
        line = self._entry_lines[url] = f"e:{url}:{self.entry(entry) if entry else 'missing'}"
        return line

    def trace(self, template: str, context: Mapping, reads: Reads, output: str,
              texts: tuple[str, ...] = ()) -> Trace:
        templates, entries = self.env.with_imports(reads.templates), tuple(sorted(reads.entries))
        paths, mine = [], []
        for leaf in reads.leaves():
            (mine if _own(leaf) else paths).append(leaf)
        # pages of one kind load the same templates and read the same: one tuple object for
        # all of them, which the cache's pickles then hold once, not once a page (the traces
        # of 22,000 pages unpickle in half the time)
        one = self._shared_parts.setdefault
        templates, paths, mine = (one(parts, parts) for parts in (
            templates, tuple(paths), tuple(mine)))
        fingerprint = _NEVER if reads.unknown else self.fingerprint(
            template, self.context(mine, context), templates, entries, paths)
        return Trace(template, fingerprint, templates, entries, paths, output, texts, mine)

    def still_valid(self, trace: Trace, template: str, context: Mapping) -> bool:
        return trace.template == template and trace.fingerprint == self.fingerprint(
            template, self.context(trace.context, context), trace.templates, trace.entries,
            trace.paths)
