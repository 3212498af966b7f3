"""`python -m eesite` runs the command line."""

from eesite.cli import run

raise SystemExit(run())
