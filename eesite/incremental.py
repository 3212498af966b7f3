"""Incremental rendering: re-render a page only when something it showed has changed.

The rule is a verifying trace (as in build systems such as Shake): while a page renders, the
template environment records what it reads — the templates it loads (with everything they
import, to any depth), every `Entry` whose attributes it touches, every attribute of the
`site` global and every call of a `site` method with its arguments. This module records those
reads (`Reads`, kept in the cache as a `Trace`); keys.py hashes their current values into the
page's fingerprint. Next build, the fingerprint is recomputed from the new model using the
recorded reads; if it is equal, the page's bytes are the same as last time and the file
already in output/ is kept. A read that changed (or a template that changed) renders the page
again and records a fresh trace. Because every input a template can reach is either recorded
or part of a recorded value, the result equals a clean build — tests check that.

Python code called from a template (filters, globals) counts its arguments as read whole (an
`Entry` by its URL: how an entry is hashed, keys.py says).
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.runtime import Context
from markupsafe import Markup

from eesite.cache import digest
from eesite.model import Entry, Site

_PLAIN = (str, int, float, bool, type(None), date, datetime, Markup)
_PLAIN_TYPES = frozenset(_PLAIN)  # exact types, for the hot paths (isinstance for subclasses)
_MISSING = object()
_EMPTY = ()  # the one empty tuple


@dataclass
class Reads:
    """What one page's templates read while it rendered.

    A read reached from the `site` global is kept as a path of steps — (".", name),
    ("[]", key), ("()", arguments) — with the value it gave, so that next time the same path
    can be followed in the new model.
    """

    templates: set[str] = dataclasses.field(default_factory=set)
    entries: set[str] = dataclasses.field(default_factory=set)  # URLs of entries read from
    values: dict[tuple, Any] = dataclasses.field(default_factory=dict)  # path -> value read
    paths_of: dict[int, tuple] = dataclasses.field(default_factory=dict)  # id(value) -> path
    bases: set[tuple] = dataclasses.field(default_factory=set)  # paths read further into
    whole: set[tuple] = dataclasses.field(default_factory=set)  # paths handed to Python code
    same: set[tuple] = dataclasses.field(default_factory=set)  # (path, first path): one object
    alive: list = dataclasses.field(default_factory=list)  # every value in paths_of, so that no
    # id in it is reused while the page renders (a property gives a fresh value each read)
    unknown: bool = False  # a method got an argument that cannot be found again: never kept

    def whole_values(self, values) -> None:
        """Values handed to Python code (a filter, a macro, a global) count whole, and so does
        what a list, tuple or mapping made in the template holds (`[d] | join`)."""
        for value in values:
            kind = type(value)
            if kind in _PLAIN_TYPES:  # never recorded in paths_of: nothing to count
                continue
            if kind is Entry:
                self.entries.add(value.url)
            path = self.paths_of.get(id(value))
            if path is not None:
                self.whole.add(path)
            elif kind is list or kind is tuple:
                self.whole_values(value)
            elif kind is dict:
                self.whole_values(value.keys())
                self.whole_values(value.values())

    def context(self, context: dict) -> None:
        """Record a page's context values: each counts whole (hashed once a build however
        many pages share it), but a record whose class sets `read_in_part` (the Analytics of
        every round, a Year and its chain of years before) becomes a root of recorded reads
        like the `site` global, so that the page counts only what it read of it."""
        for name, value in context.items():
            path = ((_CTX, name),)
            path = _INTERN.setdefault(path, path)
            self.values[path] = value
            if getattr(type(value), "read_in_part", False):
                self.register(value, path)
            else:
                self.whole.add(path)

    def register(self, value: object, path: tuple) -> None:
        """`value` was read at `path`: reads from it are recorded under that path. A value met
        again by another path (`older` is also `y.previous`) keeps its first path, and the
        check that both paths still lead to one object is recorded ("i" leaf): reads through
        either are then reads through the first. (An entry counts by its URL, whatever the
        path.)"""
        known = self.paths_of.get(id(value))
        if known is None:
            self.paths_of[id(value)] = path
            self.alive.append(value)
        elif known != path and type(value) is not Entry and value is not _EMPTY:
            # (nothing can be read through the one empty tuple: `site.pages` of a site with
            # no pages and its empty occupation lists put a check on every page)
            self.same.add((path, known))
            self.bases.add(path)

    def merge(self, other: Reads) -> None:
        """Take `other`'s reads as this page's own, in the order they were made: what an
        imported template's top-level code read when Jinja built its module (`_Template`)."""
        self.templates |= other.templates
        self.entries |= other.entries
        for path, value in other.values.items():
            self.values.setdefault(path, value)
        for value in other.alive:
            self.register(value, other.paths_of[id(value)])
        self.bases |= other.bases
        self.whole |= other.whole
        self.same |= other.same
        self.unknown |= other.unknown

    def leaves(self) -> tuple[tuple[str, tuple], ...]:
        """("v", path): the value counts; ("s", path): only its shape (a record or mapping the
        template only read further into); method objects that were called do not count."""
        values = self.values
        flat = {path for path in self.bases if path not in self.whole
                and _flat(values.get(path, _MISSING))}
        out = []
        bases, whole = self.bases, self.whole
        for path, value in values.items():
            if flat:
                if path in flat:  # a small record of plain fields: one leaf for all it read
                    out.append(("v", path))
                    continue
                if len(path) > 1 and path[:-1] in flat and path[-1][0] == "." and \
                        path[-1][1] in _field_names(type(values[path[:-1]])):
                    continue  # a field of such a record: counted with it
            how = _read_into(type(value)) if path in bases and path not in whole else "v"
            if how:
                out.append((how, path))
        out += [("i", pair) for pair in self.same]
        return tuple(leaf for _, leaf in sorted(map(_sortable, out), key=_first))


@dataclass(frozen=True)
class Trace:
    """How a page was made: enough to tell next time whether it would come out the same."""

    template: str
    fingerprint: str
    templates: tuple[str, ...]
    entries: tuple[str, ...]
    paths: tuple[tuple[str, tuple], ...]
    output: str  # digest of the bytes produced
    texts: tuple[str, ...] = ()  # sources whose Markdown the page shows (site.texts)
    context: tuple[tuple[str, tuple], ...] = ()  # its reads of the page's context, as `paths`


def counts_whole(trace: Trace, name: str) -> bool:
    """Did the page read its context value `name` only whole (so its check hashes the value,
    as `keys.Keys._feed` does, and no part of it)?"""
    for kind, path in trace.context:
        if path[0] == (_CTX, name) and (kind != "v" or len(path) > 1):
            return False
    return True


@dataclass(frozen=True)
class _Ref:
    """A method argument as something that outlives this build: an entry by its URL ("entry"),
    a value by the recorded path it was read at ("at"); "unknown": anything else, and the
    page that made such a call is never kept (Reads.unknown)."""

    kind: str
    key: object = None


_UNKNOWN = _Ref("unknown")
_CTX = "ctx"  # the first step of a read from the page's context: (_CTX, name)
_GLOBAL = "g"  # the first step of a call of a recorded global (`recorded`): (_GLOBAL, name)


def _ref(value: object, reads: Reads) -> object:
    kind = type(value)
    if kind is Entry:
        return _Ref("entry", value.url)
    if kind in _PLAIN_TYPES or isinstance(value, _PLAIN):
        return value
    path = reads.paths_of.get(id(value))
    if path is not None:
        return _Ref("at", path)
    if isinstance(value, tuple):  # a literal such as `()` or `(a, b)`
        refs = tuple(_ref(item, reads) for item in value)
        return _UNKNOWN if any(r == _UNKNOWN for r in refs) else refs
    reads.unknown = True
    return _UNKNOWN


@functools.cache
def _read_into(kind: type) -> str:
    """The leaf of a value of this type that a page only read into: "" (a method it called:
    what the call gave is recorded), "s" (a mapping, a tuple from the model or a record: its
    shape), "v" (anything else: its value). By type, once: the checks cost a fifth of a
    page's trace."""
    if kind is Entry:
        return "v"
    mapping = issubclass(kind, Mapping)
    if not mapping and any("__call__" in vars(k) for k in kind.__mro__):  # callable(value)
        return ""
    return "s" if mapping or kind is _Seq or dataclasses.is_dataclass(kind) else "v"


def _first(pair: tuple) -> object:
    return pair[0]


def _own(leaf: tuple[str, tuple]) -> bool:
    """Is a recorded read the page's own (see _on_page)? "i" leaves always are."""
    return leaf[0] == "i" or _on_page(leaf[1])


@functools.lru_cache(maxsize=1 << 16)  # bounded: `serve` runs for hours
def _on_page(path: tuple) -> bool:
    """Does a recorded path start at the page's context, or hand a value read from it to a
    method? What it gives is then the page's own, never shared through the memos of `keys.Keys`."""
    if path[0][0] == _CTX:
        return True
    return any(kind == "()" and _refers_to_page((*arg[0], *(v for _, v in arg[1])))
               for kind, arg in path)


def _refers_to_page(ref: object) -> bool:
    if type(ref) is _Ref:
        return ref.kind == "at" and _on_page(ref.key)
    return type(ref) is tuple and any(_refers_to_page(r) for r in ref)


def _counted_whole(method: Callable) -> Callable:
    """`method` of tuple, for a `_Seq`: the tuple used whole counts whole (`_Seq._whole`)."""
    def use(self, *args):
        self._whole()
        return method(self, *args)
    return functools.wraps(method)(use)


class _Seq(tuple):
    """A tuple read from the model: iterating it records a path for each item. Used whole —
    searched (`in`), compared, joined to another, repeated, sliced or written out as text —
    it counts whole: a page that also took its length counted it by that alone, and one that
    showed `'x' in tags` was kept when a tag changed. (Not seen: `"%s–%s" % cutoffs`, whose
    items str's `%` takes directly.)"""

    __slots__ = ()

    def _whole(self) -> None:
        reads = _ITERATING.reads
        if reads is not None and (path := reads.paths_of.get(id(self))) is not None:
            reads.whole.add(path)

    (__contains__, __eq__, __ne__, __lt__, __le__, __gt__, __ge__, __hash__, __add__, __mul__,
     __rmul__) = (_counted_whole(getattr(tuple, name)) for name in (
        "__contains__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__",
        "__add__", "__mul__", "__rmul__"))

    def __radd__(self, other):
        self._whole()
        return tuple.__add__(other, self) if isinstance(other, tuple) else NotImplemented

    def __repr__(self) -> str:  # (str() too) `{{ tags }}`, `tags ~ ""`, `{{ [tags] }}`
        self._whole()
        return tuple.__repr__(self)

    def __getitem__(self, key):  # a slice, `tags[1:]`: Jinja takes it without `getitem`
        if type(key) is slice:
            self._whole()
        return tuple.__getitem__(self, key)

    def __iter__(self):
        return self._read(range(len(self)))

    def __reversed__(self):  # `| reverse` in a template: the same reads, last item first
        return self._read(range(len(self) - 1, -1, -1))

    def _read(self, order: range):
        reads = _ITERATING.reads
        path = reads.paths_of.get(id(self)) if reads is not None else None
        if path is None:
            yield from (tuple.__getitem__(self, i) for i in order)
            return
        reads.bases.add(path)
        for i in order:
            item = tuple.__getitem__(self, i)
            step = (*path, ("[]", i))
            reads.values[step] = item
            if not isinstance(item, _PLAIN):
                reads.register(item, step)
            yield item


class _Iterating:
    reads: Reads | None = None


_ITERATING = _Iterating()  # the Reads of the page being rendered (one at a time)
_IMPORTS: dict[tuple[str, str], tuple[str, ...]] = {}  # (template, digest) -> what it loads
_INTERN: dict[tuple, tuple] = {}  # equal paths of many pages share one tuple (smaller cache)
_LEAVES: dict[tuple, tuple[str, tuple]] = {}  # leaf -> (its repr, its one interned copy)


def _sortable(leaf: tuple) -> tuple[str, tuple]:
    """A recorded read with the repr a trace's leaves are sorted by, both made once (many
    pages read the same: the repr of each cost a third of making a page's trace)."""
    known = _LEAVES.get(leaf)
    if known is None:
        if len(_LEAVES) >= 1 << 18:  # bounded: `serve` runs for hours
            _LEAVES.clear()
        leaf = _INTERN.setdefault(leaf, leaf)
        known = _LEAVES[leaf] = (repr(leaf), leaf)
    return known


class _Method:
    """A method read from the model and handed to a template: its calls are recorded."""

    def __init__(self, reads: Reads, path: tuple, method):
        self.reads, self.path, self.method = reads, path, method

    def __call__(self, *args, **kwargs):
        result = self.method(*args, **kwargs)
        reads = _ITERATING.reads  # the page calling it: one read at the top of an imported
        if reads is None:  # template may be called by every page that imports it
            return result
        refs = (tuple(_ref(a, reads) for a in args),
                tuple((k, _ref(v, reads)) for k, v in sorted(kwargs.items())))
        path = (*self.path, ("()", refs))
        reads.values[path] = result
        if not isinstance(result, _PLAIN):
            reads.register(result, path)
        return result


class TracingContext(Context):
    """Python code a template calls (macros, globals) counts its arguments as read whole."""

    def call(__self, __obj, *args, **kwargs):  # noqa: N805 - Jinja's own signature
        reads = _ITERATING.reads
        if reads is not None:
            reads.whole_values(args)
            if kwargs:  # (not Jinja's own `_block_vars` and `_loop_vars`: every variable set
                # in the block or loop, which is not handed to the callee)
                reads.whole_values(v for k, v in kwargs.items() if k not in _JINJA_VARS)
        if type(__obj) in _PLAIN_CALLABLES and not hasattr(__obj, "jinja_pass_arg"):
            # (a function or method Jinja passes nothing to: `change(...)`, `url.startswith`,
            # ~20 a page; Context.call asks what to pass first, ~1 µs each)
            if kwargs:
                kwargs.pop("_block_vars", None)
                kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:  # as Context.call
                return __self.environment.undefined("value was undefined because a callable "
                                                    "raised a StopIteration exception")
        return super().call(__obj, *args, **kwargs)


_JINJA_VARS = frozenset({"_block_vars", "_loop_vars"})
_PLAIN_CALLABLES = frozenset({types.FunctionType, types.BuiltinFunctionType, types.MethodType})


class _Template(jinja2.Template):
    """Jinja runs an imported template's top-level code once a build and keeps the module
    (`_get_default_module`): what that code reads (`{% set x = site.draws %}` at the head of
    macros.html) was recorded only for the first page that imported it. Its reads are kept
    apart here and count for every page that imports the template."""

    _top_reads: Reads | None = None

    def _get_default_module(self, ctx=None):
        if ctx is not None and ctx.globals_keys - self.globals.keys():
            return super()._get_default_module(ctx)  # made anew for this page, as it reads
        env = self.environment
        if self._module is None:
            outer, env.reads = env.reads, Reads()
            try:
                super()._get_default_module(ctx)
            finally:
                top, env.reads = env.reads, outer
            # (most read nothing; a template it loads by a name worked out as it runs is
            # one that `with_imports` cannot see in its source)
            self._top_reads = top if top.values or top.entries or top.whole or \
                top.templates else None
        reads = env.reads
        if reads is not None and self._top_reads is not None:
            reads.merge(self._top_reads)
        return self._module


class TracingEnvironment(jinja2.Environment):
    """A Jinja environment that records reads while `reads` is set (one page at a time)."""

    template_class = _Template

    context_class = TracingContext

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._imported: dict[str, tuple[str, ...]] = {}  # template -> the names it loads

    def recorded(self, name: str, func: Callable) -> Callable:
        """`func` as the global `name`, for Python code that reads the model where no trace
        sees it (`feed_links` looks through `site.categories`): each call a page makes is
        recorded like a method call on `site`, with its arguments and what it gave, and the
        check calls the global again in the new model (`keys.Keys._walk`), so a page that asks
        for the feeds of a category is made again when that category's feeds change."""
        path = ((_GLOBAL, name),)

        @functools.wraps(func)
        def call(*args, **kwargs):
            reads = _ITERATING.reads
            if reads is None:
                return func(*args, **kwargs)
            reads.bases.add(path)  # (the global itself is not a value: as a method read)
            return _Method(reads, path, func)(*args, **kwargs)
        return call

    def trace_filters(self) -> None:
        """Filters see their arguments whole (call after every filter is registered), except
        `length` (and its alias `count`), which sees only the length of a tuple or mapping
        read from the model: "All 435 rounds" on every archive page is not every round."""
        for name, func in list(self.filters.items()):
            self.filters[name] = (self._traced_length(func) if name in ("length", "count")
                                  else self._traced(func))

    @staticmethod
    def _traced_length(func):
        @functools.wraps(func)
        def traced(value):
            reads = _ITERATING.reads
            if reads is not None and type(value) not in _PLAIN_TYPES:
                path = reads.paths_of.get(id(value)) if isinstance(value, tuple | Mapping) \
                    else None
                if path is not None:
                    reads.bases.add(path)  # only read into: its length (or keys) counts
                else:
                    reads.whole_values((value,))
            return func(value)
        return traced

    def _traced(self, func):
        @functools.wraps(func)
        def traced(*args, **kwargs):
            reads = _ITERATING.reads
            if reads is not None and (kwargs or len(args) != 1
                                      or type(args[0]) not in _PLAIN_TYPES):  # `x | num`: nothing
                reads.whole_values(args)
                if kwargs:
                    reads.whole_values(kwargs.values())
            return func(*args, **kwargs)
        return traced

    def _note(self, obj: Any, kind: str, key: Any, value: Any) -> Any:
        """Record that `value` was read from `obj` by step (kind, key) — cheap when `obj` is
        not from the model (most reads: posts, draws, loop variables)."""
        reads = _ITERATING.reads
        if reads is None:
            return value
        cls = type(obj)
        if cls is Entry:
            reads.entries.add(obj.url)
            return value
        if cls is Site:
            base = ()
        else:
            base = reads.paths_of.get(id(obj))
            if base is None:
                return value
            reads.bases.add(base)
        step = (kind, key)
        if kind == "[]" and not isinstance(key, _PLAIN):
            reads.whole.add(base)  # a key we cannot look up again: count the whole object
            return value
        path = (*base, step)
        reads.values[path] = value
        if callable(value) and getattr(value, "__self__", None) is obj:
            reads.bases.add(path)
            return _Method(reads, path, value)
        if type(value) is tuple and value:
            value = _Seq(value)
            reads.values[path] = value
        if not isinstance(value, _PLAIN):
            reads.register(value, path)
        return value

    @property
    def reads(self) -> Reads | None:
        return _ITERATING.reads

    @reads.setter
    def reads(self, value: Reads | None) -> None:
        _ITERATING.reads = value

    def getattr(self, obj: Any, attribute: str) -> Any:
        try:  # jinja2.Environment.getattr, inlined: the hottest call of every page
            value = getattr(obj, attribute)
        except AttributeError:
            value = super().getattr(obj, attribute)
        return self._note(obj, ".", attribute, value)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self._note(obj, "[]", argument, super().getitem(obj, argument))

    def get_template(self, name, parent=None, globals=None):  # noqa: A002 - Jinja's signature
        if self.reads is not None and isinstance(name, str):
            self.reads.templates.add(self.join_path(name, parent) if parent else name)
        return super().get_template(name, parent, globals)

    def with_imports(self, names) -> tuple[str, ...]:
        """`names` and every template they extend, include or import, to any depth, by name.
        A page sees only its own loads: the imports of an imported template run once, when
        Jinja first builds (and caches) its module, so the charts page would not know that it
        shows `draw_table` of macros.html through trends_macros.html."""
        out: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name not in out:
                out.add(name)
                todo.extend(self._imports(name))
        return tuple(sorted(out))

    def _imports(self, name: str) -> tuple[str, ...]:
        """The names `name` loads: read once per build, parsed (by Jinja's own parser, ~2 ms)
        once per version of its source, so that `serve` does not parse on every rebuild."""
        known = self._imported.get(name)
        if known is None:
            try:
                source = self.loader.get_source(self, name)[0]
            except jinja2.TemplateNotFound:  # a missing template is the page's error
                source = ""
            key = (name, digest(source))
            known = _IMPORTS.get(key)
            if known is None:
                try:
                    tree = self.parse(source, name)
                    known = tuple(n for n in meta.find_referenced_templates(tree)
                                  if isinstance(n, str))  # one computed at run time is None:
                except jinja2.TemplateError:  # that load is recorded by the page that makes it
                    known = ()  # (a broken template is the page's error)
                _IMPORTS[key] = known
            self._imported[name] = known
        return known


def known_imports(found: Mapping[tuple[str, str], tuple[str, ...]]) -> None:
    """What earlier builds found each version of a template loads (the cache's `imports`)."""
    _IMPORTS.update(found)


def imports_of(digests: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, ...]]:
    """What the templates (name → source digest) load, as far as worked out: for the cache."""
    return {key: _IMPORTS[key] for key in digests.items() if key in _IMPORTS}


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


def _flat(value: object) -> bool:
    """A record of a few plain fields (a draw's year-to-date counts): hashing it whole is
    cheaper than checking each field a page read, and as exact for what fields hold."""
    names = _small_record(type(value))
    return names is not None and all(type(getattr(value, n)) in _PLAIN_TYPES for n in names)


@functools.cache
def _small_record(kind: type) -> tuple[str, ...] | None:
    """The field names of a dataclass of at most 12 fields (not Entry); else None."""
    if kind in _PLAIN_TYPES or kind is Entry or issubclass(kind, type) \
            or not dataclasses.is_dataclass(kind):
        return None
    names = _field_names(kind)
    return names if len(names) <= 12 else None
