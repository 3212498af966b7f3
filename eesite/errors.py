"""Problems found in the input, reported all at once.

A build collects every problem it finds (bad front matter, bad data rows, template errors)
and stops only at the end, so an editor fixes a whole batch per run instead of one error a
run. Each problem names the file, the line, the field, what was expected and what was found.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one input file, printed as `path:line: field: message`."""

    path: str
    line: int = 0
    field: str = ""
    message: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class BuildError(Exception):
    """Raised with every problem of a run; the CLI prints them and exits 1."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(sorted(set(problems)))
        super().__init__("\n".join(str(p) for p in self.problems))


def nearest(word: str, choices: Iterable[str]) -> str:
    """A ` (did you mean "x"?)` hint for a misspelt key, or "" when nothing is close."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""
