"""eesite: a static site generator for news about Express Entry rounds of invitations.

The pipeline is load → model → render → write; see README.md ("How it works").
"""

__version__ = "0.1.0"
