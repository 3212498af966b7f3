"""Stage 1, load: read every content file and validate it into Posts, collecting all problems.

Files are decoded as UTF-8 (a BOM is fine) with CRLF folded to LF, so a file saved on Windows
builds exactly like its plain twin. python-frontmatter splits the `---` block; front matter of
the usual shape is read by plainyaml, any other by PyYAML, composed node by node so that each
problem can name the line of its key.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import tzinfo
from pathlib import Path

import yaml
from frontmatter.default_handlers import YAMLHandler

from eesite import plainyaml
from eesite.cache import Cache, digest
from eesite.content import Post
from eesite.errors import BuildError, Problem
from eesite.pool import fork_map
from eesite.schema import SLUG, validate
from eesite.settings import Settings


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's C loader is ~6x faster
    """The safe loader, with values YAML can spell but Python cannot hold (2023-02-30, an
    integer of 5,000 digits) reported as YAML errors at their line instead of crashing."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as err:
            raise _unreadable(node, err) from None

    def construct_tree(self, node: yaml.Node) -> object:
        """`construct_document(node)`, in a third of the time for front matter: a tree of plain
        mappings, lists and scalars is built directly (non-string scalars still by PyYAML's
        own constructors); anything else (an alias, a merge key, a tag, deep nesting, an
        error) by PyYAML, which builds nested values without recursion and reports the first
        error in its own order."""
        try:
            return self._tree(node, set())
        except (_NotPlain, RecursionError, yaml.YAMLError):  # PyYAML's own way, from scratch:
            self.constructed_objects, self.recursive_objects = {}, {}  # its value or its error
            self.state_generators, self.deep_construct = [], False
            return self.construct_document(node)

    def _tree(self, node: yaml.Node, seen: set[int]) -> object:
        kind = type(node)
        if kind is yaml.ScalarNode:
            if node.tag == _STR:
                return node.value
            make = _SCALARS.get(node.tag)  # int, bool, null, float, timestamp: plain functions
            if make is None:
                return self.construct_object(node)
            try:
                return make(self, node)
            except (ValueError, OverflowError) as err:
                raise _unreadable(node, err) from None
        if id(node) in seen:  # an alias: PyYAML shares (or nests) the value
            raise _NotPlain
        seen.add(id(node))
        if kind is yaml.MappingNode and node.tag == _MAP:
            out = {}
            for key, value in node.value:
                if type(key) is not yaml.ScalarNode or key.tag == _MERGE:
                    raise _NotPlain
                out[self._tree(key, seen)] = self._tree(value, seen)
            return out
        if kind is yaml.SequenceNode and node.tag == _SEQ:
            return [self._tree(item, seen) for item in node.value]
        raise _NotPlain


class _NotPlain(Exception):
    """A YAML node Loader.construct_tree leaves to PyYAML."""


_SCALARS = {f"tag:yaml.org,2002:{name}": Loader.yaml_constructors[f"tag:yaml.org,2002:{name}"]
            for name in ("null", "bool", "int", "float", "timestamp")}


class Unreadable(yaml.constructor.ConstructorError):
    """Well-formed YAML whose value is impossible (not a syntax error)."""


def _unreadable(node: yaml.Node, err: Exception) -> Unreadable:
    return Unreadable(None, None, f"cannot read {node.value!r:.40}: {err}", node.start_mark)


SECTIONS = {"draws": "draw", "posts": "post", "pages": "page"}  # content/<folder> -> kind
_HANDLER = YAMLHandler()
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}-")
_STR = "tag:yaml.org,2002:str"
_MAP, _SEQ, _MERGE = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Source:
    """A content file found on disk, before it is read."""

    path: str | Path  # a plain string from find_sources: there are thousands
    rel: str  # relative to the site root, with forward slashes
    kind: str


def find_sources(root: Path) -> Iterator[Source]:
    """Content files in content/draws, content/posts and content/pages, in a stable order.

    Editor droppings (.swp, ~, .#x, #x, 4913) are skipped: only visible `*.md` files count
    (the watcher ignores the same names). (Which
    of them are regular files is found when they are read: a stat per file is not repeated.)
    """
    base = str(root)
    for folder, kind in SECTIONS.items():
        top = os.path.join(base, "content", folder)
        found = []
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            here = os.path.relpath(dirpath, base).replace(os.sep, "/")
            found += [f"{here}/{name}" for name in filenames
                      if name.endswith(".md") and not name.startswith((".", "#"))]
        for rel in sorted(found, key=lambda r: r.split("/")):
            yield Source(os.path.join(base, rel), rel, kind)


def is_post_file(root: Path, path: str) -> bool:
    """Is `path` (absolute, from os.walk under `root`) a file find_sources would offer?"""
    name = path[path.rfind(os.sep) + 1:]
    return (path.startswith(_post_folders(str(root))) and name.endswith(".md")
            and not name.startswith((".", "#")) and f"{os.sep}." not in path[len(str(root)):])


@functools.cache
def _post_folders(root: str) -> tuple[str, ...]:
    return tuple(os.path.join(root, "content", folder) + os.sep for folder in SECTIONS)


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes, rel: str) -> str:
    """The text of a file: UTF-8 with or without BOM, newlines normalised to LF."""
    if (nul := data.find(b"\0")) >= 0:
        raise BuildError([Problem(rel, _line_at(data, nul), "", "expected a UTF-8 text file, "
                                  "got binary data (a zero byte)")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = _line_at(data, err.start)
        raise BuildError([Problem(rel, line, "", f"expected UTF-8 text, got byte "
                                                 f"0x{data[err.start]:02x}")]) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


TOO_DEEP = "front matter is nested too deeply to read"


def yaml_reason(err: yaml.YAMLError) -> str:
    """What is wrong, in the editor's words. libyaml ≥ 0.2.6 (PyYAML ≥ 6.0.4) stops at 1,000
    nested [ or { itself; older ones parse on and PyYAML runs out of stack: one message."""
    reason = getattr(err, "problem", None) or str(err)
    if isinstance(err, Unreadable):
        return reason
    if "maximum nesting depth" in reason:
        return TOO_DEEP
    return f"front matter is not valid YAML: {reason}"


def split(text: str, rel: str) -> tuple[dict, dict[str, int], str]:
    """(front matter, line of each key, Markdown body) of one file's text."""
    if not text.strip():
        raise BuildError([Problem(rel, 1, "", "empty file: expected front matter between "
                                              "--- lines, then the text")])
    if not re.match(r"-{3,}[ \t]*\n", text):
        raise BuildError([Problem(rel, 1, "", "expected the file to start with a --- line "
                                              f"opening the front matter, got {text[:20]!r}")])
    try:
        fm, body = _HANDLER.split(text)
    except ValueError:
        raise BuildError([Problem(rel, 1, "", "the front matter is not closed: expected a "
                                              "second --- line")]) from None
    # the usual shape, without PyYAML's composer; anything else as PyYAML reads it
    meta, lines = plainyaml.read(fm) or read_yaml(fm, rel)
    return meta, lines, body.lstrip("\n")


def read_yaml(fm: str, rel: str) -> tuple[dict, dict[str, int]]:
    """(values, line of each key) of front matter by PyYAML, or all its problems."""
    try:
        loader = Loader(fm)
        try:
            node = loader.get_single_node()
            meta = loader.construct_tree(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = mark.line + 1 if mark else 1
        reason = yaml_reason(err)
        raise BuildError([Problem(rel, line, "", reason)]) from None
    except RecursionError:  # thousands of nested [ or {
        raise BuildError([Problem(rel, 2, "", TOO_DEEP)]) from None
    if not isinstance(meta, dict):
        raise BuildError([Problem(rel, 2, "", "expected front matter of `key: value` lines, "
                                              f"got {type(meta).__name__}")])
    lines: dict[str, int] = {}
    problems = []
    for key_node, _ in node.value:
        key, line = key_node.value, key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:  # 1:, ~:, <<:
            problems.append(Problem(rel, line, "", "expected a field name such as title, got "
                                    f"{str(key)[:40]!r}"))
        elif key in lines:
            problems.append(Problem(rel, line, str(key), f"given twice (first on line {lines[key]})"))
        else:
            lines[key] = line
    if problems:
        raise BuildError(problems)
    return meta, lines


def default_slug(source: Source, meta: dict) -> str:
    """Draws default to their round ("254"); other files to their name less a date prefix."""
    if source.kind == "draw" and isinstance(meta.get("round"), str | int):
        return str(meta["round"])
    stem = os.path.splitext(os.path.basename(source.path))[0]
    return _DATE_PREFIX.sub("", stem).lower()


def read_limited(path: Path | str, limit: int) -> bytes:
    """At most `limit` + 1 bytes of a file: a runaway file is refused, never read whole.

    Read by size, unbuffered: `open(path, "rb").read(limit + 1)` sets aside `limit` bytes
    (5 MB) for every file, 25 µs a post (0.25 s of a cold build at 10,000 posts, against 0.06).
    A short read is not taken for the end: it reads on until the file ends or passes `limit`."""
    fd = os.open(path, os.O_RDONLY)
    try:
        want = min(os.fstat(fd).st_size, limit) + 1  # one more: a file that grew is seen
        data = os.read(fd, want)
        parts = [data]
        got = len(data)
        while got <= limit and (more := os.read(fd, min(limit + 1 - got, 1 << 16))):
            parts.append(more)
            got += len(more)
        return data if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)


def load_file(source: Source, settings: Settings, tz: tzinfo, data: bytes | None = None) -> Post:
    """One content file as a Post; raises BuildError with all of its problems."""
    limit = settings.max_post_bytes
    data = read_limited(source.path, limit) if data is None else data
    if len(data) > limit:
        size = max(os.stat(source.path).st_size, len(data))
        raise BuildError([Problem(source.rel, _line_at(data, limit), "",
                                  f"expected at most {limit:,} bytes (max_post_bytes), got "
                                  f"{size:,}; the limit is reached on this line")])
    meta, lines, body = split(decode(data, source.rel), source.rel)
    fallback = default_slug(source, meta)
    problems = []
    if "slug" not in meta and not SLUG.match(fallback):
        problems.append(Problem(source.rel, 1, "slug", f'the file name gives the slug "{fallback}": '
                                "expected lowercase letters, digits and hyphens; rename the "
                                "file or set slug"))
    post, more = validate(meta, lines, body, source.rel, source.kind, fallback, tz)
    if problems or more:
        raise BuildError(problems + more)
    return post


# A file whose mtime is this close to the moment it was read may be written again within the
# file system's clock tick without its stamp changing (git's "racily clean" case): such a stamp
# is not trusted, the file is read and hashed next time.
RACY_NS = 2_000_000_000


def stamp_of(st: os.stat_result, seen_ns: int) -> tuple[int, int, int, int] | None:
    """(size, mtime_ns, ctime_ns, inode) of a file, or None when it is too fresh to trust.
    The ctime catches a rewrite that put the old mtime back (`cp -p`, `touch -r`, rsync -t)."""
    if st.st_mtime_ns >= seen_ns - RACY_NS:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def meta_digest(post: Post) -> str:
    """A digest of a post's front matter alone: what pages other than its own may show."""
    return digest(repr(replace(post, body="")))


def load_content(root: Path, settings: Settings, cache: Cache | None = None,
                 jobs: int = 1, stamps: Mapping[str, tuple | None] | None = None,
                 sources: list[Source] | None = None) -> tuple[Post, ...]:
    """Every content file under `root`/content as Posts, or a BuildError listing every problem.

    With a cache, a file whose stamp (size, mtime, ctime, inode) is as recorded is not read at all, and
    one whose bytes are unchanged is not parsed again (`stamps`: taken just before by
    state.source_stamps, trusted as they are; `sources`: find_sources' answer when the caller
    knows it has not changed); the others are parsed over `jobs`
    processes when there are many (YAML is ~0.5 ms a file).
    """
    known = cache.posts if cache else {}
    found: dict[str, tuple | None] = {}
    todo: list[tuple[Source, bytes, str, tuple | None]] = []
    problems: list[Problem] = []
    seen = time.time_ns()
    changed = False
    for source in sources if sources is not None else find_sources(root):
        hit = known.get(source.rel)
        if hit and hit[0] and stamps and stamps.get(source.path) == hit[0]:
            found[source.rel] = hit
            continue
        try:
            st = os.stat(source.path)  # before reading: a later write changes the stamp
            if not stat.S_ISREG(st.st_mode):
                continue
            data = read_limited(source.path, settings.max_post_bytes)
        except FileNotFoundError:  # gone since the walk, or a dangling link: not a post
            continue
        except OSError as err:
            problems.append(Problem(source.rel, 0, "", f"cannot read the file: {err.strerror}"))
            continue
        key, stamp = digest(data), stamp_of(st, seen)
        changed = True
        if hit and hit[1] == key:
            found[source.rel] = (stamp, key, *hit[2:])
        else:
            found[source.rel] = None
            todo.append((source, data, key, stamp))
    tz = settings.tz

    def parse(item: tuple[Source, bytes, str, tuple | None]) -> tuple:
        source, data, key, stamp = item
        try:
            post = load_file(source, settings, tz, data)
            return source.rel, (stamp, key, post, meta_digest(post), digest(post.body)), ()
        except BuildError as err:
            return source.rel, None, err.problems

    for rel, hit, errors in fork_map(parse, todo, jobs if len(todo) >= 200 else 1):
        problems.extend(errors)
        found[rel] = hit
    problems.extend(_shared_slugs(root, [hit[2] for hit in found.values() if hit]))
    if problems:
        raise BuildError(problems)
    if cache and (changed or len(found) != len(known)):
        cache.posts = dict(found)
        cache.changed.add("posts")
    return tuple(hit[2] for hit in found.values())


def _shared_slugs(root: Path, posts: list[Post]) -> Iterator[Problem]:
    """Two files of one kind with one slug would be one URL: name both, at their slug line.

    (The render stage refuses any two outputs on one path too; this check can name lines.)
    """
    first: dict[tuple[str, str], Post] = {}
    for post in posts:
        other = first.setdefault((post.kind, post.slug), post)
        if other is not post:
            yield Problem(post.source, _slug_line(root, post), "slug", f'"{post.slug}" is also '
                          f"the slug of {other.source} (line {_slug_line(root, other)}): two "
                          "items cannot share one URL; change one slug")


def _slug_line(root: Path, post: Post) -> int:
    """The line that gives a post its slug: `slug:`, else a draw's `round:`, else line 1."""
    _, lines, _ = split(decode((root / post.source).read_bytes(), post.source), post.source)
    return lines.get("slug") or (lines.get("round") if post.kind == "draw" else None) or 1
