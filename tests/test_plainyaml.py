"""The quick front-matter reader (eesite/plainyaml.py) gives what PyYAML gives, or declines.

It may decline (None: load.split then asks PyYAML) but never give other values, other types,
another key order or other key lines than PyYAML does, and never succeed where PyYAML (or
load.split's own key checks) would report a problem.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import hypothesis
import pytest
from hypothesis import strategies as st

from benchmarks.generate import draw_post
from eesite import plainyaml
from eesite.errors import BuildError
from eesite.load import _HANDLER, decode, read_yaml, split

ROOT = Path(__file__).resolve().parent.parent


def by_pyyaml(fm: str) -> tuple:
    try:
        meta, lines = read_yaml(fm, "x.md")
    except BuildError as err:
        return ("problems", [str(p) for p in err.problems])
    return ("ok", repr(meta), lines)  # repr tells 1, 1.0 and True, a date and a datetime apart


def quick(fm: str) -> tuple[dict, dict] | None:
    """plainyaml's answer, checked against PyYAML's whenever it gives one."""
    got = plainyaml.read(fm)
    if got is not None:
        assert by_pyyaml(fm) == ("ok", repr(got[0]), got[1]), fm
    return got


def front_matter(text: str) -> str:
    return _HANDLER.split(text)[0]


@pytest.mark.parametrize("path", sorted((ROOT / "content").glob("*/*.md")),
                         ids=lambda p: p.name)
def test_every_bundled_file_takes_the_quick_path_with_pyyamls_values(path: Path):
    assert quick(front_matter(decode(path.read_bytes(), path.name))) is not None


def test_benchmark_posts_take_the_quick_path_with_pyyamls_values():
    rng = random.Random(3)
    for n in range(1, 301):
        _, text = draw_post(n, rng, date(2015, 1, 31))
        assert quick(front_matter(text)) is not None


PLAIN_SHAPES = [
    'a: 1\nb: "x: y # z"\nc: \'it\'\'s\'\nd:\ne: [1, two, 3.5, yes, ~]\nf: ["x", \'y\'\'s\']\n',
    'notes:\n  - "say \\"hi\\" \\\\ there\\n"\n  - plain, with a comma\nafter: 2024-02-29\n',
    'outer:\n  "601-1200": 5\n  inner:\n    deep: -7\n  back: 0o17\nlast: 1_000\n',
    "when: 2024-01-01T10:00:00+05:00\nat: 12:30\nurl: https://example.org/?q=1&r=2\n",
    "big: 99999999999999999999999\nnan: .NaN\noct: 012\nhex: 0x1F\nnil: null\nx: No\n",
]


@pytest.mark.parametrize("fm", PLAIN_SHAPES)
def test_nested_quoted_and_typed_values_take_the_quick_path(fm: str):
    assert quick("\n" + fm) is not None


DECLINED = [
    "a: 1 # a comment\n", "# a comment\na: 1\n", "a: &x 1\nb: *x\n", "a:\tb\n", "a: |\n  x\n",
    "a: 1\na: 2\n", "1: one\n", "yes: no\n", "a: b\n  c\n", 'a: "\\u00e9"\n', "a: {b: 1}\n",
    "a:\n- x\n", "<<: {a: 1}\n", "a: 2024-02-30\n", "a: !!str 1\n", "- x\n", "a: b: c\n",
    "  a: 1\nb: 2\n", "a: 1\n  b: 2\n", "a: [x, [y]]\n", "a: x\u2028y\n", "a: \x85\n",
]


@pytest.mark.parametrize("fm", DECLINED)
def test_other_shapes_are_left_to_pyyaml(fm: str):
    assert plainyaml.read("\n" + fm) is None


def test_a_declined_file_still_gets_pyyamls_problem_at_its_line():
    with pytest.raises(BuildError) as err:
        split("---\ntitle: x\ndate: 2024-01-01\ntitle: y\n---\nbody\n", "p.md")
    assert [str(p) for p in err.value.problems] == [
        "p.md:4: title: given twice (first on line 2)"]


# ---- fuzz: lines from tricky pieces, in and out of the plain shape ------------------------------

KEYS = ["title", "a", "b_c", "x-y", "a.b", "_", "A1", "1", "0x1F", "1.5", "yes", "No", "null",
        "~", "<<", "=", "2024-01-01", '"q"', '"601-1200"', '"yes"', '""', "'s'", "'it''s'",
        '"a\\"b"', "-a", "?a", "a b", "a#b", '"a', "é"]
SEPS = [": ", ":", ":  ", " : ", ":\t", ": \t", "::"]
VALUES = [
    "", " ", "plain", "two words", "x  y", "x ", "a: b", "a:b", "a :b", "a #c", "a#b", "#c",
    "yes", "No", "on", "OFF", "y", "n", "~", "null", "NULL", "Null", "1", "-1", "+1", "0", "00",
    "012", "0o12", "0x1F", "0b101", "1_000", "1:30", "190:20:30", "1.5", "1e3", "1.0e+3", "1.",
    ".5", ".inf", "-.Inf", ".nan", "2024-02-29", "2024-02-30", "2024-1-1", "2024-01-01T10:00:00Z",
    "2024-01-01 10:00:00", "2024-01-01t10:00:00.5-05:00", "2024-01-01T10:00:00+05", '"q"',
    '""', '"a\\"b"', '"a\\\\b"', '"a\\nb"', '"a\\tb"', '"a\\x41"', '"a\\u00e9"', '"a\\/b"',
    '"a\\ b"', '"unterminated', '"a"b"', '"a" x', "'s'", "''", "'it''s'", "'a\"b'", "'a'b'",
    "[]", "[ ]", "[a, b]", "[a,b]", "[ a , b ]", "[1, 2.5, yes, ~, 2024-01-01]", "[a, ]",
    "[, a]", "[[a]]", '["x", "y"]', '["x, y"]', "['x', 'y''z']", "[a: b]", "[a #b]", "[-1]",
    "[- a]", "[a:b]", "[12:30]", "[x#y]", "[a b]", "[a", "a]", "{a: 1}", "{}", "&x 1", "*x",
    "!!str 1", "!x 1", "|", ">",
    "|-", "- a", "-a", "-1.5", "--", "---", "...", "a,b", "?", "?x", "? x", ":x", "%x", "@x",
    "`x`", "a 'b' c", 'a "b" c', "é ü", "·", "\u00a0x", "a\tb", "https://x.y/?q=1#f",
    "12:30:00", "-", "a:", "a::", "[a:]", "a}", "a[b]", "a, b", ",a", "a\\b", "0.1.2", "1_0.5", "+.5", "0xg",
    "9" * 18, "9" * 19, "9" * 5000, "1" + "0" * 5000 + ".5",
]
INDENTS = ["", "  ", "    ", " "]
ODD = ["", "---", "...", "# note", "  # note", "\ufeffa: 1", "a: \x85", "a: x\u2029", "\t",
       "%YAML 1.1", "a: \x07", "   "]
line = st.one_of(
    st.builds(lambda i, k, s, v: f"{i}{k}{s}{v}", st.sampled_from(INDENTS), st.sampled_from(KEYS),
              st.sampled_from(SEPS), st.sampled_from(VALUES)),
    st.builds(lambda i, v: f"{i}- {v}", st.sampled_from(INDENTS), st.sampled_from(VALUES)),
    st.sampled_from(ODD))


PLACES = ["k: {}", "k:\n  - {}", "k: [{}]", "k: [x, {}]", "k:\n  n: {}", "{}: 1", "k:\n  {}: 1",
          "k: {}\nz: 1", "k:\n  - {}\n  - x"]


@pytest.mark.parametrize("place", PLACES)
def test_each_value_in_each_place_gives_pyyamls_value_or_none(place: str):
    for value in VALUES + KEYS:
        quick("\n" + place.format(value) + "\n")


@hypothesis.settings(max_examples=1500, deadline=None)
@hypothesis.given(st.lists(line, min_size=1, max_size=7))
def test_quick_values_are_pyyamls_values(lines: list[str]):
    quick("\n" + "\n".join(lines) + "\n")


NAMES = ["title", "a", "b_c", "x-y", "a.b", "_", "A1", '"q"', '"601-1200"', '"yes"', "'s'",
         "'it''s'", "é", "1", "yes"]
COMMON = VALUES[:60] + ['"x: y # z"', "[a, b]", "[]", "'s'", "2024-01-01"]


def block(indent: int) -> st.SearchStrategy[str]:
    """A mapping of unique names at `indent`: scalars, nested mappings, lists of scalars."""
    pad = " " * indent
    value = st.one_of(
        st.sampled_from(COMMON).map(lambda v: f" {v}" if v else ""),
        st.lists(st.sampled_from(COMMON[1:]), min_size=1, max_size=3).map(
            lambda items: "".join(f"\n{pad}  - {v}" for v in items)),
        *([st.deferred(lambda: block(indent + 2)).map(lambda text: "\n" + text)]
          if indent < 6 else []))
    return st.lists(st.tuples(st.sampled_from(NAMES), value), min_size=1, max_size=4,
                    unique_by=lambda pair: pair[0]).map(
        lambda pairs: "\n".join(f"{pad}{k}:{v}" for k, v in pairs))


@hypothesis.settings(max_examples=1500, deadline=None)
@hypothesis.given(block(0))
def test_quick_values_are_pyyamls_values_in_nested_files(text: str):
    """Whole files of nested mappings and lists, most of them plain: the quick path is taken
    on about a fifth of them."""
    quick("\n" + text + "\n")
