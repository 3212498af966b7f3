"""Front matter of the usual shape, read without PyYAML's composer.

libyaml composes a node with two position marks for every scalar and PyYAML resolves each in
Python: ~100 µs of the ~190 µs a draw's front matter took. Almost every file is plain `key: value`
lines, nested mappings, lists of one-line scalars: this reads that shape line by line with the
same scalar rules (PyYAML's own resolver and constructors) and declines (None) anything else —
a comment, a tab, an anchor, a block or multi-line scalar, an escape other than \\ \" \n \t,
a repeated key, a key that is not a string — which load.split then reads with PyYAML as
before, so its errors and their lines are PyYAML's. Tested against PyYAML on every bundled
file, generated front matter and thousands of fuzzed lines: the same values or None.
"""

from __future__ import annotations

import functools
import re

import yaml

# A line: its indent, its key if it is a `key:` line, the rest (a value, or `- item`).
_LINE = re.compile(r"""( *)(?:([A-Za-z0-9_][A-Za-z0-9_.-]*|"[^"\\]*"|'[^']*'):(?: +|$))?(.*)""")
_KEYS: dict[str, object] = {}  # a key as written -> the string it is
_DOUBLE = re.compile(r'"((?:[^"\\]|\\["\\nt])*)"')
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}
_SINGLE = re.compile(r"'((?:[^']|'')*)'")
_ODD_ASCII = re.compile("[^\n\x20-\x7e]")  # (no tab, CR or control character)
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_STR = "tag:yaml.org,2002:str"
_SCALARS = ("null", "bool", "int", "float", "timestamp")


class _Decline(Exception):
    """Not the plain shape: PyYAML reads this text."""


def read(text: str) -> tuple[dict, dict[str, int]] | None:
    """(values, line of each top-level key) of front matter `text` (as python-frontmatter
    splits it), exactly as PyYAML would give them, or None when it is not of the plain shape."""
    if (_ODD_ASCII if text.isascii() else _odd()).search(text):
        return None
    rows = [(n, len(m[1]), m[2], m[3].rstrip(" ")) for n, m in
            enumerate(map(_LINE.match, text.split("\n"))) if m[2] is not None or m[3].strip(" ")]
    try:
        meta, lines, end = _mapping(rows, 0, 0)
    except _Decline:
        return None
    if end != len(rows) or not meta or any(type(key) is not str for key in meta):
        return None
    return meta, lines


def _mapping(rows: list, i: int, indent: int) -> tuple[dict, dict, int]:
    out: dict = {}
    lines: dict = {}
    while i < len(rows):
        n, here, key, value = rows[i]
        if here < indent:
            break
        if here > indent or key is None:
            raise _Decline
        key = _KEYS.get(key) or _key(key)
        if key in out:  # (PyYAML keeps the last; load.split reports both)
            raise _Decline
        lines[key] = n + 1
        i += 1
        if value:
            out[key] = _scalar(value)
        elif i < len(rows) and rows[i][1] > indent:
            if rows[i][2] is None:
                out[key], i = _sequence(rows, i, rows[i][1])
            else:
                out[key], _, i = _mapping(rows, i, rows[i][1])
        else:
            out[key] = None
    return out, lines, i


def _sequence(rows: list, i: int, indent: int) -> tuple[list, int]:
    out = []
    while i < len(rows) and rows[i][1] >= indent:
        _, here, key, value = rows[i]
        if here > indent or key is not None or value[:2] != "- " or \
                not (item := value[2:].strip(" ")):
            raise _Decline
        out.append(_scalar(item))
        i += 1
    return out, i


def _key(text: str) -> object:
    if len(text) > 1000:  # YAML's limit for a key without `?` is 1024 characters
        raise _Decline
    key = _scalar(text)
    if type(key) is str and len(_KEYS) < 1 << 12:  # the same few names in every file
        _KEYS[text] = key
    return key


def _scalar(text: str) -> object:
    """One scalar (or a flow list of them) on one line, stripped."""
    first = text[0]
    if first == '"':
        if "\\" not in text and text.find('"', 1) == len(text) - 1:
            return text[1:-1]
        match = _DOUBLE.fullmatch(text)
        if match is None:
            raise _Decline
        return _ESCAPE.sub(lambda m: _UNESCAPED[m[1]], match[1])
    if first == "'":
        match = _SINGLE.fullmatch(text)
        if match is None:
            raise _Decline
        return match[1].replace("''", "'")
    if first == "[" and text[-1] == "]":
        inner = text[1:-1].strip(" ")
        return [_flow_item(item.strip(" ")) for item in inner.split(",")] if inner else []
    if (first in _INDICATORS and (first != "-" or len(text) < 2 or text[1] == " ")) \
            or "#" in text or ": " in text or text[-1] == ":":
        raise _Decline
    return _plain(text)


def _flow_item(text: str) -> object:
    if not text or (text[0] not in "\"'" and (
            text[0] in _INDICATORS or any(c in text for c in "[]{}"))):
        raise _Decline
    return _scalar(text)


def _plain(text: str) -> object:
    """A plain scalar: its type by PyYAML's resolver, its value by PyYAML's constructor."""
    if len(text) < 19 and text.isdigit() and text.isascii() and text[0] != "0":
        return int(text)  # (what PyYAML's constructor does with it; a leading 0 is octal)
    tag = _tag(text)
    if tag == _STR:
        return text
    make = _CONSTRUCTORS.get(tag)
    if make is None:  # `<<`, `=`: PyYAML's own way
        raise _Decline
    try:
        return make(_loader(), yaml.ScalarNode(tag, text))
    except (ValueError, OverflowError):  # 2023-02-30: PyYAML reports it at its line
        raise _Decline from None


@functools.lru_cache(maxsize=1 << 14)  # the same keys and values in every file
def _tag(text: str) -> str:
    return _loader().resolve(yaml.ScalarNode, text, (True, False))


@functools.cache
def _odd() -> re.Pattern:
    """Characters libyaml does not read as themselves (a tab, CR, NEL, a line or paragraph
    separator, a byte-order mark, a control character): compiled on first use (5 ms)."""
    return re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                      "\U00010000-\U0010ffff]")


@functools.cache
def _loader() -> yaml.SafeLoader:
    from eesite.load import Loader
    return Loader("")


_CONSTRUCTORS = {f"tag:yaml.org,2002:{name}":
                 yaml.SafeLoader.yaml_constructors[f"tag:yaml.org,2002:{name}"]
                 for name in _SCALARS}
