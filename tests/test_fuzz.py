"""Property tests: arbitrary text and bytes give a model or a clear BuildError, never a crash.

The front-matter loader and IRCC's feed importer read files people (and attackers) write.
Hypothesis feeds them raw bytes, arbitrary text, and YAML/JSON that is well-formed but holds
anything; each must return a validated model or raise BuildError naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import hypothesis
import yaml
from hypothesis import strategies as st

from eesite.errors import BuildError
from eesite.ircc import parse_feed
from eesite.load import Source, load_file, split
from eesite.settings import Settings

SETTINGS = Settings()
FUZZ = hypothesis.settings(max_examples=200, deadline=None,
                           suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])

# YAML-ish values: what an editor could type after `key:` (and nested lists and mappings).
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
                    st.dates().map(str), st.datetimes().map(str), st.sampled_from(
                        ["stem", "254", "2023-02-29", "9999-12-31T23:00:00-05:00", "~", "[x",
                         "0x1F", "1e400", "!!binary aGk=", "*alias", "&anchor x", "<script>"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
FIELDS = ["title", "date", "summary", "tags", "draft", "updated", "slug", "round", "draw_date",
          "draw_name", "category", "list_version", "programs", "invitations", "crs_cutoff",
          "round_time", "tie_break", "distribution", "ircc_url", "data_notes", "corrections"]
front_matter = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), values,
                               max_size=10)


def must_load_or_explain(path: Path, kind: str) -> None:
    source = Source(path, f"content/{kind}s/{path.name}", kind)
    try:
        post = load_file(source, SETTINGS, SETTINGS.tz)
    except BuildError as err:
        assert err.problems
        assert all(p.path == source.rel and p.message for p in err.problems)
    else:
        assert post.kind == kind and post.title and post.date.tzinfo is not None


@FUZZ
@hypothesis.given(st.binary(max_size=2000))
def test_any_bytes_load_or_explain(tmp_path_factory, data: bytes):
    path = tmp_path_factory.mktemp("fuzz") / "post.md"
    path.write_bytes(data)
    must_load_or_explain(path, "post")


@FUZZ
@hypothesis.given(st.text(max_size=2000))
def test_any_text_splits_or_explains(text: str):
    try:
        meta, lines, body = split(text, "content/posts/p.md")
    except BuildError as err:
        assert err.problems and all(p.path == "content/posts/p.md" for p in err.problems)
    else:
        assert isinstance(meta, dict) and isinstance(body, str)
        assert set(lines) == set(meta)  # every field can be located for error messages


@FUZZ
@hypothesis.given(front_matter, st.sampled_from(["post", "draw"]), st.text(max_size=200))
def test_any_front_matter_loads_or_explains(tmp_path_factory, meta: dict, kind: str, body: str):
    text = "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n" + body
    path = tmp_path_factory.mktemp("fuzz") / "post.md"
    path.write_text(text, encoding="utf-8")
    must_load_or_explain(path, kind)


# Raw `key: value` lines, not dumped by PyYAML (which would quote the tricky ones): keys that
# are numbers, null or merges; impossible dates; huge numbers; aliases; flow collections.
raw_keys = st.one_of(st.sampled_from([*FIELDS, "1", "~", "<<", "2026-01-01", "? [a]", "- x"]),
                     st.from_regex(r"[A-Za-z_]{1,8}", fullmatch=True))
raw_values = st.one_of(st.sampled_from([
    "2023-02-29", "2023-13-01", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-12:00",
    "1" * 5000, "-1", "1e400", ".nan", "&a [1, 2]", "*a", "[*a, *a]", "{a: 1}", "!!binary aGk=",
    "!!set {a, b}", "!!omap [a: 1]", "!!python/object:os.system x", "[" * 50, '"\\x00"', "|",
    "null", "yes", "0o17", "2023-07-05 14:00", "<script>alert(1)</script>"]),
    # any text a file can hold (lone surrogates cannot be written as UTF-8)
    st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)),
            max_size=20))


@FUZZ
@hypothesis.given(st.lists(st.tuples(raw_keys, raw_values), max_size=8),
                  st.sampled_from(["post", "draw"]))
def test_any_raw_front_matter_lines_load_or_explain(tmp_path_factory, pairs, kind: str):
    text = "---\ntitle: x\ndate: 2026-01-02\n" + "".join(f"{k}: {v}\n" for k, v in pairs)
    path = tmp_path_factory.mktemp("fuzz") / "post.md"
    path.write_text(text + "---\nBody.\n", encoding="utf-8")
    must_load_or_explain(path, kind)


def must_parse_or_explain(data: str | bytes) -> None:
    try:
        rounds = parse_feed(data, "feed.json")
    except BuildError as err:
        assert err.problems and all(p.path == "feed.json" for p in err.problems)
    else:
        assert all(r.round and r.invitations >= 0 for r in rounds)


@FUZZ
@hypothesis.given(st.one_of(st.text(max_size=2000), st.binary(max_size=2000)))
def test_any_feed_text_or_bytes_parses_or_explains(data: str | bytes):
    must_parse_or_explain(data)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
FEED_KEYS = ["drawNumber", "drawNumberURL", "drawDate", "drawName", "drawSize", "drawCRS",
             "drawText2", "drawDateTime", "drawCutOff", "drawDistributionAsOn",
             *[f"dd{i}" for i in range(1, 19)]]


@FUZZ
@hypothesis.given(st.lists(st.dictionaries(st.sampled_from(FEED_KEYS), json_values), max_size=4))
def test_any_feed_records_parse_or_explain(records: list[dict]):
    must_parse_or_explain(json.dumps({"rounds": records}))
