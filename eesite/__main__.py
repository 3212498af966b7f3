"""`python -m eesite` runs the command line."""

from eesite.cli import main

raise SystemExit(main())
