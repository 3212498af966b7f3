"""Loading and validating content files: every problem, with file, line and field."""

from __future__ import annotations

import os
import threading

import hypothesis
import pytest
import yaml
from hypothesis import strategies as st

from eesite.errors import BuildError
from eesite.load import Loader, load_content
from eesite.settings import Settings
from tests.conftest import draw_text, post_text

S = Settings()


def problems(site) -> list[str]:
    with pytest.raises(BuildError) as err:
        load_content(site.root, S)
    return [str(p) for p in err.value.problems]


def test_valid_draw_loads_with_types(site):
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text())
    (post,) = load_content(site.root, S)
    assert post.kind == "draw" and post.slug == "254"
    assert post.draw.round == "254" and post.draw.crs_cutoff == 486
    assert post.draw.draw_date.isoformat() == "2023-07-05"
    assert post.date.utcoffset().total_seconds() == 0
    assert post.body == "Editor's prose.\n"


def test_bad_integer_names_file_line_field_expected_and_found(site):
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text(crs='"48six"'))
    assert problems(site) == [
        'content/draws/0254-2023-07-05-stem.md:7: crs_cutoff: expected an integer from 0 to 1200,'
        ' got "48six"'
    ]


def test_every_problem_of_every_file_in_one_run(site):
    site.write("content/draws/a.md", draw_text("1", crs="abc", invitations=-5))
    site.write("content/draws/b.md", draw_text("2", category="stemm"))
    site.write("content/posts/c.md", post_text(extra="crs_cutof: 3\ntitel: x\n"))
    found = problems(site)
    assert len(found) == 5
    assert any("a.md:7: crs_cutoff" in p for p in found)
    assert any("a.md:10: invitations: expected an integer" in p for p in found)
    assert any('b.md:8: category: expected a category slug, got "stemm" (did you mean "stem"?)'
               in p for p in found)
    assert any("c.md:4: crs_cutof: only draw posts" in p or "c.md:4: crs_cutof: unknown field" in p
               for p in found)
    assert any('c.md:5: titel: unknown field (did you mean "title"?)' in p for p in found)


def test_missing_required_fields(site):
    site.write("content/posts/p.md", "---\ntitle: x\n---\nbody\n")
    assert problems(site) == ["content/posts/p.md:1: date: required field is missing"]


def test_draw_field_in_an_article_is_refused(site):
    site.write("content/posts/p.md", post_text(extra="invitations: 4\n"))
    assert problems(site) == [
        "content/posts/p.md:4: invitations: only draw posts (in content/draws/) take this field"]


def test_editor_temp_files_are_ignored(site):
    site.write("content/posts/p.md", post_text())
    for name in (".p.md.swp", "p.md~", ".#p.md", "4913", ".hidden.md"):
        site.write(f"content/posts/{name}", b"\x00garbage")
    assert [p.source for p in load_content(site.root, S)] == ["content/posts/p.md"]


def test_naive_dates_take_the_site_time_zone(site):
    site.write("content/posts/p.md", post_text(date="2026-03-01 09:30:00"))
    (post,) = load_content(site.root, S)
    assert post.date.isoformat() == "2026-03-01T09:30:00-05:00"


def test_round_given_as_number_is_read_as_string(site):
    site.write("content/draws/x.md", draw_text().replace('round: "254"', "round: 254"))
    (post,) = load_content(site.root, S)
    assert post.draw.round == "254"


# ---- the quick YAML construction gives what PyYAML's own gives -------------------------------

YAML_LINES = st.sampled_from([
    "a: 1", "b: 0x1F", "c: 1_000", "d: 1:30", "e: yes", "f: ~", "g: 1.5", "h: .inf", "i: -.nan",
    "j: 2024-02-29", "k: 2024-02-30", "l: 2024-01-01T10:00:00+05:00", "m: 'quoted'", 'n: "x\\ty"',
    "o: [1, two, 3.0]", "p: {x: 1, y: [a, b]}", "q: &A {z: 1}", "r: *A", "s: &B [1, 2]",
    "t: *B", "u:\n  <<: *A\n  w: 2", "v: !!str 12", "w: !!binary aGVsbG8=", "x: !!set {a, b}",
    "y:\n  - 1\n  - - 2\n    - 3", "1: int key", "~: null key", "2024-01-01: date key",
    "z: 99999999999999999999999999", "aa: !!python/name:os.system", "bb: !!float 1",
    "cc: &C [*C]", "vv:\n  <<: {m1: 1, m2: 0}\n  m2: 2", "dd: |\n  block\n  text", "ee: 1e3",
    "ff: 0o17", "gg: +12", "hh: -0", "=: value key", "ii: {jj: 2024-02-30}", "kk: [!!binary x]",
    "ll: {mm: !!python/name:os.system}",
])


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.lists(YAML_LINES, min_size=1, max_size=8))
def test_front_matter_values_are_what_pyyaml_makes_of_them(lines):
    text = "\n".join(lines) + "\n"

    def build(construct):
        loader = Loader(text)
        try:
            node = loader.get_single_node()
            return ("ok", repr(construct(loader, node)))
        except (yaml.YAMLError, RecursionError) as err:
            return ("error", type(err).__name__, str(err))
        finally:
            loader.dispose()

    assert build(Loader.construct_tree) == build(Loader.construct_document)


def test_a_file_is_read_up_to_one_byte_past_the_limit_and_no_further(tmp_path):
    from eesite.load import read_limited

    for size in (0, 1, 99, 100, 101, 5_000):
        (tmp_path / "f").write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        data = read_limited(tmp_path / "f", 100)
        assert data == (tmp_path / "f").read_bytes()[:101]
    fifo = tmp_path / "pipe"  # not a regular file: read until it ends, however short each read
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(b"a" * 40 + b"b" * 40,))
    writer.start()
    assert read_limited(fifo, 60) == b"a" * 40 + b"b" * 21
    writer.join()


def test_many_files_are_parsed_by_workers_and_every_problem_is_reported_in_order(site):
    """From 200 files to read, forked workers parse them (pool.fork_map): posts come back in
    the walk's order, every problem of every worker's share is reported, and a folder or a
    FIFO named like a post is no post (never opened: a FIFO would block the build)."""
    for n in range(1, 301):
        site.write(f"content/draws/{n:04d}.md", draw_text(str(n), crs=400 + n % 100))
    (site.root / "content/draws/0150-a-folder.md").mkdir()
    os.mkfifo(site.root / "content/draws/0151-a-fifo.md")
    posts = load_content(site.root, S, jobs=2)
    assert [p.source for p in posts] == [f"content/draws/{n:04d}.md" for n in range(1, 301)]
    assert [p.draw.crs_cutoff for p in posts[:3]] == [401, 402, 403]
    for n in (2, 299):  # one in each worker's share
        site.write(f"content/draws/{n:04d}.md", draw_text(str(n), crs='"bad"'))
    with pytest.raises(BuildError) as err:
        load_content(site.root, S, jobs=2)
    assert [str(p).split(":")[0] for p in err.value.problems] == [
        "content/draws/0002.md", "content/draws/0299.md"]
