"""Stage 4, write: put the rendered files in place so output/ is the old site or the new one.

The new site is assembled in a staging folder beside output/ (unchanged files are hard links
to the old ones, so they keep their mtime and cost no copy), then swapped in with one atomic
rename exchange. eesite records what it wrote in a manifest; anything else found in output/
is not its own and is carried over untouched, and a folder it did not create is refused.
"""

from __future__ import annotations

import ctypes
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eesite.errors import BuildError, Problem

MANIFEST = ".eesite-manifest"
_HEADER = "# eesite manifest: the files eesite wrote here (others are left alone)\n"


@dataclass(frozen=True)
class WriteReport:
    written: int
    unchanged: int
    removed: int


def safe_join(base: Path, rel: str) -> Path:
    """`base / rel`, refusing any path that would land outside `base` (like Pelican's
    sanitised_join): absolute paths, `..` parts, backslashes, NUL."""
    parts = rel.split("/")
    if not rel or "\\" in rel or "\0" in rel or any(p in ("..", ".", "") for p in parts):
        raise BuildError([Problem(rel, 0, "", "refusing to write outside the output folder")])
    return base.joinpath(*parts)


def read_manifest(output: Path) -> set[str] | None:
    """The files eesite wrote last time, or None when eesite did not create this folder."""
    try:
        text = (output / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return {line for line in text.splitlines() if line and not line.startswith("#")}


def existing_files(output: Path) -> set[str]:
    if not output.is_dir():
        return set()
    return {p.relative_to(output).as_posix() for p in output.rglob("*")
            if (p.is_file() or p.is_symlink()) and p.name != MANIFEST}


def check_target(output: Path, source: Path, files: Mapping[str, bytes], force: bool) -> None:
    """Refuse an output folder that would lose something that is not eesite's."""
    out, src = output.resolve(), source.resolve()
    if out == src or src.is_relative_to(out):
        raise BuildError([Problem(str(output), 0, "", "the output folder is or contains the "
                                  "source folder; choose another --output")])
    for folder in ("content", "templates"):
        if out.is_relative_to(src / folder):
            raise BuildError([Problem(str(output), 0, "", f"the output folder is inside {folder}/"
                                      "; choose another --output")])
    if output.exists() and not output.is_dir():
        raise BuildError([Problem(str(output), 0, "", "the output path is a file, not a folder")])
    manifest = read_manifest(output)
    present = existing_files(output)
    if manifest is None and present and not force:
        raise BuildError([Problem(str(output), 0, "", f"the folder is not empty and eesite did not"
                                  f" create it ({len(present)} files); use --force to build "
                                  "into it anyway (its other files are kept)")])
    foreign = sorted((present - (manifest or set())) & set(files))
    if foreign and manifest is not None and not force:
        raise BuildError([Problem(f"{output}/{p}", 0, "", "a file eesite did not write is in the "
                                  "way; move it, or use --force to overwrite it")
                          for p in foreign[:20]])


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def write_site(files: Mapping[str, bytes], output: Path, source: Path,
               force: bool = False) -> WriteReport:
    """Replace `output` with exactly `files` (plus files eesite does not own), atomically."""
    check_target(output, source, files, force)
    targets = {rel: safe_join(output, rel) for rel in files}  # validate every path first
    manifest = read_manifest(output) or set()
    foreign = existing_files(output) - manifest - set(files)

    staging = output.parent / f".{output.name}.eesite-staging"
    if staging.exists():
        shutil.rmtree(staging)  # our own leftover from an interrupted build
    staging.mkdir(parents=True)
    written = unchanged = 0
    try:
        for rel, data in files.items():
            new = safe_join(staging, rel)
            new.parent.mkdir(parents=True, exist_ok=True)
            old = targets[rel]
            if _same(old, data):
                os.link(old, new)  # same inode: mtime kept, nothing copied
                unchanged += 1
            else:
                new.write_bytes(data)
                written += 1
        for rel in foreign:  # not ours: carried over as it is
            new = safe_join(staging, rel)
            new.parent.mkdir(parents=True, exist_ok=True)
            os.link(output / rel, new, follow_symlinks=False)
        listing = (_HEADER + "".join(f"{r}\n" for r in sorted(files))).encode("utf-8")
        if _same(output / MANIFEST, listing):
            os.link(output / MANIFEST, staging / MANIFEST)
        else:
            (staging / MANIFEST).write_bytes(listing)
        if output.is_dir() and _exchange(staging, output):
            pass  # staging now holds the old site
        elif output.is_dir():
            old = output.parent / f".{output.name}.eesite-old"
            shutil.rmtree(old, ignore_errors=True)
            output.rename(old)
            staging.rename(output)
            old.rename(staging)
        else:
            staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    removed = len(manifest - set(files))
    return WriteReport(written, unchanged, removed)
