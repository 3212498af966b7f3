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

import contextlib
import hashlib
import hmac
import io
import os

import jinja2
import jinja2.bccache
import markupsafe
from jinja2.compiler import CodeGenerator

from eesite.cache import digest, own_code, signing_key

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
    a template compiled by another eesite (another code generator) is compiled again, in place.

    Jinja runs what it loads from here (marshalled code, after reading its checksum with plain
    pickle), so each file is signed (HMAC-SHA256) with this user's `signing_key`, kept outside
    the site: a file planted in `.eesite-cache/jinja` is compiled over, never loaded. Without
    a key, nothing is kept (every build compiles its templates)."""

    def __init__(self, directory: str, key: bytes | None = None):
        super().__init__(directory)
        self.key = key or signing_key()

    def get_source_checksum(self, source: str) -> str:
        return digest(f"{source}\0{own_code()}")

    def _signature(self, body: bytes) -> bytes:
        return hmac.new(self.key, body, hashlib.sha256).digest()

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if not self.key:
            return
        try:
            with open(self._get_cache_filename(bucket), "rb") as f:
                data = f.read()
        except OSError:
            return
        body = data[_SIGNATURE:]
        if hmac.compare_digest(data[:_SIGNATURE], self._signature(body)):
            bucket.load_bytecode(io.BytesIO(body))

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if not self.key:
            return
        body = bucket.bytecode_to_string()
        name = self._get_cache_filename(bucket)
        temporary = f"{name}.{os.getpid()}.tmp"  # then renamed: never read half-written
        try:
            with open(temporary, "wb") as f:
                f.write(self._signature(body) + body)
            os.replace(temporary, name)
        except OSError:  # a cache not written is compiled again next time
            with contextlib.suppress(OSError):
                os.remove(temporary)


_SIGNATURE = 32  # bytes of HMAC-SHA256 before each compiled template
