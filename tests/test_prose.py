"""eesite.prose: its quicker inline step gives exactly Python-Markdown's HTML."""

from pathlib import Path

import frontmatter
import hypothesis
import markdown
import pytest
from hypothesis import strategies as st

from eesite.prose import EXTENSIONS, QuickInline, QuickToc, _needs, _pass_unless, new_markdown

ROOT = Path(__file__).resolve().parent.parent


def plain(text: str) -> str:
    return markdown.Markdown(extensions=list(EXTENSIONS), output_format="html").convert(text)


def quick(text: str) -> str:
    md = new_markdown()
    assert isinstance(md.treeprocessors["inline"], QuickInline)
    assert isinstance(md.treeprocessors["toc"], QuickToc)
    return md.convert(text)


def test_every_bundled_text_converts_as_python_markdown_does():
    md = new_markdown()
    bodies = [frontmatter.load(p).content for p in sorted((ROOT / "content").rglob("*.md"))]
    assert len(bodies) > 400
    for body in bodies:
        md.reset()
        assert md.convert(body) == plain(body)


TRICKY = [
    "a *b* _c_ **d** __e__ ***f*** `g` ``h ` i`` \\*j\\* [k](/l) ![m](/n.png) [o][p]\n\n[p]: /q",
    "<https://example.com/a?b=c&d> <me@example.com> <span>x</span> &amp; &#169; &copy; a & b",
    "line one  \nline two\\\nthree",
    "| a *b* | `c` |\n|---|---|\n| [d](/e) | f_g_h |\n",
    "- item with **bold** and a [link](/x)\n- plain item\n\n1. one\n2. `two`",
    "*[IRCC]: Immigration, Refugees and Citizenship Canada\n\nIRCC said *so* (IRCC).",
    "# Heading with `code` {#custom .cls}\n\nText {: .x }",
    "```\n*not emphasis* [not a link]\n```\n\n    indented *code*",
    "snake_case_word and 2*3*4 and <notatag and a<b>c and [unclosed",
    "[TOC]\n\n# One\n\n## Two *b*\n\n# One",  # the marker becomes the table of contents
    "Intro\n\n   [TOC]  \n\n## A\n\n> [TOC]\n\n- [TOC]\n\n### B",
    "not alone: [TOC] here\n\n# H\n\n`[TOC]`\n\n    [TOC]",  # left as text
    "> quote\n> more\n\nText\n\n---\n\n***\n\n_ _ _\n\n# H #\n\nSetext\n======\n\nx\n---",
    "| one |\n|---|\n| cell |\n\na | b\n--|--\nc | d\n\nno | table\nhere",
    "para\n{: .x #y }\n\n- item\n{: .li }\n\n*e*{: .em } and \\{ \\# \\` \\_ kept\n\n"
    "| a {: .c } |\n|---|\n| b |",
    "[ref]: https://x.org \"T\"\n\nSee [ref] and [x][ref].\nText\n[b]: /b\n\n*[HTML]: Hyper Text\n\nHTML.",
    # the preprocessors' characters: CR, tab, a line of spaces, STX/ETX, raw HTML, entities,
    # fences (each step runs only on a text holding one)
    "a\r\nb\rc\n\n\tcode\n\n- x\n\n\t- y\n   \n  \nend  ",
    "<div markdown=\"1\">\n*x*\n</div>\n\n<!-- note -->\n\n<p>raw &amp; kept</p>\n\nR&D &copy;",
    "~~~ python\nx = 1\n~~~\n\n~~ not\n``",
    "```{.js #id}\nlet a\n```\n\n````\n```\n````",
    "a character reference without its semicolon: &#9 and &#x41 (no tag here)",
    "    code\n   ",  # a last line of spaces (and nothing else to normalise)
    "a \x02 b \x03 c\n\n\x0242\x03",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts_convert_as_python_markdown_does(text):
    assert quick(text) == plain(text)


MARKUP = st.sampled_from(list("*_`\\[]()!<>&#:|-.{}\n \t\r~") + [
    "  \n", "http://", "@", "a", "b", "[TOC]", "\n# ", "\n\n", "```", "~~~", "\n   \n", "\r\n",
    "<div>", "&amp;", "\x02", "\x03", "=", "\n===", "\n---", "*[", "]:"])


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(st.lists(st.one_of(MARKUP, st.text(max_size=5)), max_size=80).map("".join))
def test_any_text_converts_as_python_markdown_does(text):
    assert quick(text) == plain(text)


def test_an_unknown_or_changed_pattern_is_always_tried():
    md = markdown.Markdown()
    assert _needs("link", md.inlinePatterns["link"]) == ("[",)
    assert _needs("html", md.inlinePatterns["html"]) == ("<",)
    assert _needs("wikilink", md.inlinePatterns["link"]) is None  # a name it does not know
    changed = type("P", (), {"pattern": r"\[\["})()
    assert _needs("link", changed) is None  # a known name whose expression is not the known one


def test_a_pattern_registered_after_a_conversion_is_tried_too():
    from markdown.inlinepatterns import SimpleTagInlineProcessor
    md = new_markdown()
    assert md.convert("a ++b++ c") == "<p>a ++b++ c</p>"
    md.inlinePatterns.register(SimpleTagInlineProcessor(r"()\+\+(.+?)\+\+", "ins"), "ins", 5)
    md.reset()
    assert md.convert("a ++b++ *c*") == "<p>a <ins>b</ins> <em>c</em></p>"


def test_a_block_step_whose_expression_changed_is_always_tried():
    import re

    from eesite.prose import _quick_steps
    md = markdown.Markdown(extensions=list(EXTENSIONS))
    quote, header = md.parser.blockprocessors["quote"], md.parser.blockprocessors["hashheader"]
    quote.RE = re.compile(r"(^|\n)[ ]{0,3}%[ ]?(.*)")  # as if a new release changed it
    _quick_steps(md)
    assert "test" not in vars(quote)  # left as it is: its characters are not known
    assert "test" in vars(header)  # the known expression: skipped without a "#"
    assert not header.test(None, "no header here") and header.test(None, "# a header")


def test_a_preprocessor_that_changes_plain_text_is_always_run():
    """A preprocessor is skipped on a text without its characters only when it gives a probe
    text back as it is (Python-Markdown's own today); one that does more (as after a new
    release) runs on every text."""
    md = markdown.Markdown(extensions=list(EXTENSIONS))
    step = md.preprocessors["html_block"]
    step.run = lambda lines: [line.upper() for line in lines]  # changes any text
    _pass_unless(step, ("<",), ())
    assert step.run(["no tag here"]) == ["NO TAG HERE"]
    quiet = md.preprocessors["fenced_code_block"]
    _pass_unless(quiet, ("```",), ())
    assert quiet.run.__name__ == "run" and quiet.run(["plain"]) == ["plain"]


@pytest.mark.parametrize("text", [*TRICKY, "    code\n   ", "a\n  \t\nb", "x\n \n", "&", "<"])
def test_each_skipped_preprocessor_gives_its_own_lines(text):
    """The preprocessors a text is passed by give the lines Python-Markdown's own give."""
    ours, theirs = new_markdown(), markdown.Markdown(extensions=list(EXTENSIONS))
    lines = text.split("\n")
    for name in ("normalize_whitespace", "html_block", "fenced_code_block"):
        assert ours.preprocessors[name].run(list(lines)) == \
            theirs.preprocessors[name].run(list(lines)), name


BLOCKS = ["Title\n=====", "Title\n---", "Title\n- item", "a - b\nc = d", "a\n - b", "a\n\n=",
          "# h", "a # b", "---", "- - -", "a-b-c", "> q", "a > b", "x\n===\ny", "*a*\n-\n"]


@pytest.mark.parametrize("block", BLOCKS)
def test_each_skipped_block_step_answers_as_python_markdowns_own(block):
    """A block step tried only on blocks holding its strings says yes to the same blocks."""
    ours, theirs = new_markdown(), markdown.Markdown(extensions=list(EXTENSIONS))
    for name in ("setextheader", "hashheader", "hr", "quote", "table"):
        mine, plain_step = ours.parser.blockprocessors[name], theirs.parser.blockprocessors[name]
        assert "test" in vars(mine), name  # skipped when its strings are absent
        assert bool(mine.test(ours.parser.parseDocument([]).getroot(), block)) == \
            bool(plain_step.test(theirs.parser.parseDocument([]).getroot(), block)), name
    for name in ("abbr", "reference"):  # (these search in `run`: the conversions compare them)
        assert "run" in vars(ours.parser.blockprocessors[name]), name


def test_a_block_step_registered_or_removed_after_a_conversion_counts():
    """The block steps are listed once, not for every block; registering or removing one
    after a conversion still changes the next."""
    from xml.etree.ElementTree import SubElement

    from markdown.blockprocessors import BlockProcessor

    class Shout(BlockProcessor):
        def test(self, parent, block):
            return block.startswith("!")

        def run(self, parent, blocks):
            SubElement(parent, "h2").text = blocks.pop(0)[1:]

    md = new_markdown()
    assert type(md.parser.blockprocessors).__name__ == "_Listed"  # listed once, not per block
    assert md.convert("!loud") == "<p>!loud</p>"
    md.parser.blockprocessors.register(Shout(md.parser), "shout", 95)
    md.reset()
    assert md.convert("!loud\n\nquiet") == "<h2 id=\"loud\">loud</h2>\n<p>quiet</p>"
    md.parser.blockprocessors.deregister("shout")
    md.reset()
    assert md.convert("!loud") == "<p>!loud</p>"


@pytest.mark.parametrize("tag", ["div", "DIV", "p/", "span", "P", "hr/", "custom", "", 7, None])
def test_block_level_tags_are_those_python_markdown_names(tag):
    ours, theirs = new_markdown(), markdown.Markdown(extensions=list(EXTENSIONS))
    for _ in range(2):  # the second answer is the one kept
        assert ours.is_block_level(tag) == theirs.is_block_level(tag)
