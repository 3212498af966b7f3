"""`{{ value }}` escaped without a Markup object for each value written.

With autoescape on, Jinja writes every `{{ value }}` as `escape(value)`: markupsafe's escape,
which wraps its result in a Markup string (made in Python, ~0.3 µs), ~150 times on a round's
page. What a template outputs is only joined: every buffer Jinja joins (a macro's result, a
`{% set %}` block, a `{% filter %}` block, a block called through `self`) is wrapped as Markup
as a whole when autoescape is on, and a page's pieces are joined into the page's text. So the
pieces need not be Markup: `escape_output` gives the same characters as plain text. Values
that are not output (macro arguments, `~`, filters) are escaped by Jinja as before.
"""

from __future__ import annotations

import jinja2
import markupsafe
from jinja2.compiler import CodeGenerator

from eesite.cache import digest, own_code

try:
    from markupsafe import _escape_inner  # markupsafe 3: the characters only, as text
except ImportError:  # pragma: no cover - (an older markupsafe)
    def _escape_inner(text: str) -> str:
        return str(markupsafe.escape(text))


def escape_output(value: object, /) -> str:
    """markupsafe.escape(value), as plain text."""
    if type(value) is str:
        return _escape_inner(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return _escape_inner(str(value))


class OutputEscaping(CodeGenerator):
    """Jinja's code generator, with `escape_output` for the values a template outputs."""

    def visit_Template(self, node, frame=None) -> None:
        self.writeline("from eesite.escaping import escape_output")
        super().visit_Template(node, frame)

    def _output_child_pre(self, node, frame, finalize) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            return super()._output_child_pre(node, frame, finalize)
        self.write("escape_output(")
        if finalize.src is not None:
            self.write(finalize.src)


class CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Jinja's cache of compiled templates, with eesite's own code in each template's checksum:
    a template compiled by another eesite (another code generator) is compiled again, in place."""

    def get_source_checksum(self, source: str) -> str:
        return digest(f"{source}\0{own_code()}")
