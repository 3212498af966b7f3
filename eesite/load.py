"""Stage 1, load: read every content file and validate it into Posts, collecting all problems.

Files are decoded as UTF-8 (a BOM is fine) with CRLF folded to LF, so a file saved on Windows
builds exactly like its plain twin. python-frontmatter splits the `---` block; the YAML is
composed node by node so each problem can name the line of its key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

import yaml
from frontmatter.default_handlers import YAMLHandler

from eesite.content import Post
from eesite.errors import BuildError, Problem
from eesite.schema import SLUG, validate
from eesite.settings import Settings

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C loader is ~6x faster
SECTIONS = {"draws": "draw", "posts": "post", "pages": "page"}  # content/<folder> -> kind
_HANDLER = YAMLHandler()
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}-")


@dataclass(frozen=True)
class Source:
    """A content file found on disk, before it is read."""

    path: Path
    rel: str  # relative to the site root, with forward slashes
    kind: str


def find_sources(root: Path) -> Iterator[Source]:
    """Content files in content/draws, content/posts and content/pages, in a stable order.

    Editor droppings (.swp, ~, .#x, 4913) are skipped: only visible `*.md` files count.
    """
    for folder, kind in SECTIONS.items():
        base = root / "content" / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.md")):
            if path.is_file() and not any(p.startswith(".") for p in path.relative_to(base).parts):
                yield Source(path, path.relative_to(root).as_posix(), kind)


def decode(data: bytes, rel: str) -> str:
    """The text of a file: UTF-8 with or without BOM, newlines normalised to LF."""
    if b"\0" in data:
        raise BuildError([Problem(rel, 0, "", "expected a UTF-8 text file, got binary data")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise BuildError([Problem(rel, line, "", f"expected UTF-8 text, got byte "
                                                 f"0x{data[err.start]:02x}")]) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


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
    try:
        loader = Loader(fm)
        try:
            node = loader.get_single_node()
            meta = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(err, "problem", None) or str(err)
        raise BuildError([Problem(rel, line, "", f"front matter is not valid YAML: {reason}")]
                         ) from None
    if not isinstance(meta, dict):
        raise BuildError([Problem(rel, 2, "", "expected front matter of `key: value` lines, "
                                              f"got {type(meta).__name__}")])
    lines: dict[str, int] = {}
    problems = []
    for key_node, _ in node.value:
        key, line = key_node.value, key_node.start_mark.line + 1
        if key in lines:
            problems.append(Problem(rel, line, str(key), f"given twice (first on line {lines[key]})"))
        lines.setdefault(key, line)
    if problems:
        raise BuildError(problems)
    return meta, lines, body.lstrip("\n")


def default_slug(source: Source, meta: dict) -> str:
    """Draws default to their round ("254"); other files to their name less a date prefix."""
    if source.kind == "draw" and isinstance(meta.get("round"), str | int):
        return str(meta["round"])
    return _DATE_PREFIX.sub("", source.path.stem).lower()


def load_file(source: Source, settings: Settings, tz: tzinfo) -> Post:
    """One content file as a Post; raises BuildError with all of its problems."""
    data = source.path.read_bytes()
    if len(data) > settings.max_post_bytes:
        raise BuildError([Problem(source.rel, 0, "", f"expected at most {settings.max_post_bytes:,}"
                                                     f" bytes (max_post_bytes), got {len(data):,}")])
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


def load_content(root: Path, settings: Settings) -> tuple[Post, ...]:
    """Every content file under `root`/content as Posts, or a BuildError listing every problem."""
    posts, problems = [], []
    tz = settings.tz
    for source in find_sources(root):
        try:
            posts.append(load_file(source, settings, tz))
        except BuildError as err:
            problems.extend(err.problems)
        except OSError as err:
            problems.append(Problem(source.rel, 0, "", f"cannot read the file: {err.strerror}"))
    if problems:
        raise BuildError(problems)
    return tuple(posts)
