"""Stage 4, write: put the rendered files in place so output/ is the old site or the new one.

The new site is assembled in a folder beside output/, then swapped in with one atomic rename
exchange. Unchanged files are hard links to the old ones, so they keep their mtime and cost no
copy. The old site that the exchange leaves behind is kept as the spare, and the next build
brings the spare up to date instead of assembling a new folder: a few changed pages then cost a
few writes, not a folder and a link for every file of the site. A large render may put its
pages in a staging folder itself (`stage`, from the render workers), so no process holds the
whole site's bytes; they arrive here as `Staged`. eesite records what it wrote in a manifest;
anything else found in output/ is not its own and is carried over untouched, and a folder it
did not create is refused.
"""

from __future__ import annotations

import ctypes
import filecmp
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from eesite.cache import digest
from eesite.errors import BuildError, Problem

MANIFEST = ".eesite-manifest"
_HEADER = "# eesite manifest: the files eesite wrote here (others are left alone)\n"


# In live preview (serve/watch) up to this many changed files are replaced one by one, each
# atomically, instead of swapping the whole site; `eesite build` always swaps (limit 0), so a
# deployed output/ is the old site or the new one, never a mix.
IN_PLACE_LIMIT = 100


@dataclass(frozen=True)
class WriteReport:
    written: int
    unchanged: int
    removed: int
    index: Mapping[str, tuple[str, int, int]] = field(default_factory=dict)  # path → digest,
    # size, mtime_ns of every file written: the next build compares digests, not bytes


class Kept(NamedTuple):
    """A file known (by digest) to be unchanged in output/: link it, do not rewrite it."""

    digest: str


class Staged(NamedTuple):
    """A file already written at its path in the staging folder (see `stage`)."""

    digest: str
    size: int
    mtime_ns: int


def _beside(output: Path, kind: str) -> Path:
    """One of eesite's own files or folders beside output/: hidden, named after it (git-ignored
    as `.output.eesite-*`), on its file system."""
    return output.parent / f".{output.name}.eesite-{kind}"


def staging_folder(output: Path) -> Path:
    """Where the next site is assembled: a hidden sibling of output/ (same file system, so the
    swap is one rename)."""
    return _beside(output, "staging")


def spare_folder(output: Path) -> Path:
    """The site before the last swap (hard links to the files the two share, so it costs
    little room), kept beside output/ to become the next site."""
    return _beside(output, "spare")


@contextmanager
def output_lock(output: Path, waiting: Callable[[], object] | None = None) -> Iterator[None]:
    """One eesite process at a time renders into the staging folder of `output`, swaps it and
    updates the spare (a `serve` rebuild and an `eesite build` of the same site, two builds in
    two terminals): an advisory lock (flock) on a file beside `output`, held for the build;
    `waiting` is called once if another process holds it. The lock goes with its process, so
    one that crashed never leaves the site locked. Where there is no flock, nothing locks."""
    try:
        import fcntl
    except ImportError:  # (Windows)
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_beside(output, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # (forked workers that inherited it have ended: the lock is released)


def stage(staging: str, rel: str, data: bytes, key: str) -> Staged:
    """Write `data` (whose digest is `key`) at `rel` in the staging folder; any process may call
    it, for distinct paths. The folder is created on first use, its parent must exist."""
    parts = _checked(rel)
    path = os.path.join(staging, *parts)
    if len(parts) > 1:  # a page's own folder is usually new: make it, not ask first
        folder = os.path.dirname(path)
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except FileNotFoundError:  # the staging folder itself, on first use
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, flags, 0o666)
    try:
        with memoryview(data) as view:  # unbuffered: fstat then sees the final size and mtime
            while view:
                view = view[os.write(fd, view):]
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return Staged(key, st.st_size, st.st_mtime_ns)


def safe_join(base: Path, rel: str) -> Path:
    """`base / rel`, refusing any path that would land outside `base` (like Pelican's
    sanitised_join): absolute paths, `..` parts, backslashes, NUL."""
    return base.joinpath(*_checked(rel))


def _checked(rel: str) -> list[str]:
    """The parts of `rel`, or a BuildError when it would leave the folder it is joined to."""
    parts = rel.split("/")
    if not rel or "\\" in rel or "\0" in rel or any(p in ("..", ".", "") for p in parts):
        raise BuildError([Problem(rel, 0, "", "refusing to write outside the output folder")])
    return parts


def read_manifest(output: Path) -> set[str] | None:
    """The files eesite wrote last time, or None when eesite did not create this folder."""
    try:
        text = (output / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return {line for line in text.splitlines() if line and not line.startswith("#")}


def existing_files(output: Path) -> dict[str, int]:
    """Every file below `output` (links to folders count as files, as they are not followed),
    relative, with forward slashes, and its inode number; the manifest left out. Unreadable
    folders are skipped."""
    files, _ = _walk(str(output), strict=False)
    files.pop(MANIFEST, None)
    return files


def _walk(top: str, strict: bool) -> tuple[dict[str, int], set[str]]:
    """(files with their inode numbers, folders) below `top`, relative; an unreadable folder
    is skipped, or raises OSError when `strict`. scandir, not os.walk: one call per folder, no
    path arithmetic, and the inode numbers come with the listing (no stat per file)."""
    files: dict[str, int] = {}
    folders: list[str] = []
    stack = [("", top)]
    while stack:
        prefix, path = stack.pop()
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(prefix + entry.name)
                        stack.append((f"{prefix}{entry.name}/", entry.path))
                    else:
                        files[prefix + entry.name] = entry.inode()
        except OSError:  # gone, unreadable, or not a folder
            if strict:
                raise
    return files, set(folders)


def check_target(output: Path, source: Path, files: Mapping[str, bytes], force: bool,
                 manifest: set[str] | None = None) -> None:
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
    if manifest is None:
        manifest = read_manifest(output)
    if manifest is None:
        present = existing_files(output)
        if present and not force:
            raise BuildError([Problem(str(output), 0, "", f"the folder is not empty and eesite did "
                                      f"not create it ({len(present)} files); use --force to build "
                                      "into it anyway (its other files are kept)")])
        return
    # Only paths that are new to the manifest can collide with a file eesite did not write.
    foreign = sorted(rel for rel in files if rel not in manifest
                     and os.path.lexists(os.path.join(output, rel)))
    if foreign and not force:
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


def _same(path: Path, data: bytes, known: tuple[str, int, int] | None, key: str) -> bool:
    """Are the bytes at `path` already `data`? By the recorded digest when the file is as eesite
    left it (same size and mtime), else by reading it."""
    try:
        st = path.stat()
    except OSError:
        return False
    if known and (st.st_size, st.st_mtime_ns) == known[1:]:
        return known[0] == key
    return st.st_size == len(data) and path.read_bytes() == data


def _same_staged(path: Path, staged: str, new: Staged, known: tuple[str, int, int] | None
                 ) -> bool:
    """`_same` for a file already written to the staging folder."""
    try:
        st = path.stat()
    except OSError:
        return False
    if known and (st.st_size, st.st_mtime_ns) == known[1:]:
        return known[0] == new.digest
    return st.st_size == new.size and filecmp.cmp(path, staged, shallow=False)


def _stamp(path: Path | str, key: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return key, st.st_size, st.st_mtime_ns


def write_site(files: Mapping[str, bytes | Kept | Staged], output: Path, source: Path,
               force: bool = False, index: Mapping[str, tuple[str, int, int]] | None = None,
               in_place_limit: int = 0, spare: SpareListing | None = None) -> WriteReport:
    """Make `output` hold exactly `files` (plus files eesite does not own).

    Nothing happens when nothing changed; a few changed files are each replaced atomically in
    place; more are assembled in a staging folder swapped in with one atomic rename. `index`
    (from the last WriteReport) lets unchanged files be recognised without reading them.
    `Staged` files are already in `staging_folder(output)`; the caller removes that folder
    whatever happens (build.py does), this function only adopts it. `spare`: the spare's
    listing if the caller made it earlier (`list_spare`, while it waited for the render).
    """
    manifest = read_manifest(output)
    check_target(output, source, files, force, manifest)
    for rel, data in files.items():  # validate every new path first (kept ones were before)
        if not isinstance(data, Kept):
            _checked(rel)
    index = index or {}
    staging = staging_folder(output)
    changed: dict[str, tuple[bytes, str] | Staged] = {}
    stamps: dict[str, tuple[str, int, int]] = {}
    present = output.is_dir()  # (else nothing is there to compare: a first build)
    for rel, data in files.items():
        kind = type(data)
        if kind is Kept:
            stamps[rel] = index[rel]
            continue
        if kind is Staged:
            target = safe_join(output, rel) if present else None
            if target and _same_staged(target, os.path.join(staging, rel), data,
                                       index.get(rel)):
                stamps[rel] = _stamp(target, data.digest)  # the index may be stale
            else:
                changed[rel] = data
            continue
        key = digest(data)
        if present and _same(target := safe_join(output, rel), data, index.get(rel), key):
            stamps[rel] = _stamp(target, key)  # the index may be stale (same bytes, new mtime)
        else:
            changed[rel] = (data, key)
    removed = (manifest or set()) - set(files)
    unchanged = len(files) - len(changed)
    if manifest is not None and output.is_dir() and len(changed) + len(removed) <= in_place_limit:
        _write_in_place(output, changed, removed, stamps, set(files) != manifest, files, staging)
    else:
        _write_swap(output, files, changed, manifest or set(), stamps, staging, spare)
    return WriteReport(len(changed), unchanged, len(removed), stamps)


def rewrite(output: Path, files: Mapping[str, bytes],
            index: Mapping[str, tuple[str, int, int]]) -> dict[str, tuple[str, int, int]]:
    """Replace a few files of the site eesite wrote last time, each atomically in place (live
    preview, delta.py: the set of paths is unchanged); the index entries of those written."""
    for rel in files:
        _checked(rel)
        if rel not in index:
            raise ValueError(f"{rel} is not a file eesite wrote")
    changed = {}
    for rel, data in files.items():
        key = digest(data)
        if not _same(safe_join(output, rel), data, index[rel], key):
            changed[rel] = (data, key)
    stamps: dict[str, tuple[str, int, int]] = {}
    _write_in_place(output, changed, set(), stamps, False, files, staging_folder(output))
    return stamps


def _manifest_text(files: Iterable[str]) -> str:
    return _HEADER + "".join(f"{r}\n" for r in sorted(files))


def _write_in_place(output: Path, changed: Mapping[str, tuple[bytes, str] | Staged],
                    removed: set[str], stamps: dict, listing_changed: bool, files: Mapping,
                    staging: Path) -> None:
    """Replace each changed file with a rename (readers see the old file or the new one)."""
    for rel, item in changed.items():
        target = safe_join(output, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        if type(item) is Staged:
            os.replace(safe_join(staging, rel), target)  # a rename keeps the mtime staged
            stamps[rel] = (item.digest, item.size, item.mtime_ns)
            continue
        data, key = item
        tmp = target.parent / f".{target.name}.eesite-tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target)
        stamps[rel] = _stamp(target, key)
    for rel in removed:
        target = safe_join(output, rel)
        target.unlink(missing_ok=True)
        for parent in target.parents:  # drop folders left empty, never output/ itself
            if parent == output or any(parent.iterdir()):
                break
            parent.rmdir()
    if listing_changed:
        tmp = output / f"{MANIFEST}.eesite-tmp"
        tmp.write_text(_manifest_text(files), encoding="utf-8")
        os.replace(tmp, output / MANIFEST)


def _write_swap(output: Path, files: Mapping, changed: Mapping[str, tuple[bytes, str] | Staged],
                manifest: set[str], stamps: dict, staging: Path, listed: SpareListing | None
                ) -> None:
    """Make a folder beside output/ hold the new site, then swap it in. That folder is the
    spare brought up to date when there is one (and the render did not stage pages), else a
    new one of hard links to the unchanged files and the changed ones."""
    adopt = any(type(item) is Staged for item in files.values())
    spare = spare_folder(output)
    usable = not adopt and output.is_dir() and spare.is_dir() and not spare.is_symlink()
    if listed is not None and not listed.current(output):
        listed = None  # changed since it was listed (another eesite process): list it again
    # the spare, then output/ (never output/ early: a file put there meanwhile would be
    # missed), one after the other: listed at once in two threads, the folders in the kernel's
    # cache (an editor's build), each walk waited for the other's turn with the interpreter
    # (a prose edit's write at 10,000 posts ~0.15 s slower; ~0.3 s faster when the kernel
    # caches neither folder)
    spare_listing = (listed or list_spare(output)) if usable else None
    present = existing_files(output)
    foreign = present.keys() - manifest - files.keys()
    ready = usable and _update_spare(spare, output, files, changed, foreign, stamps,
                                     spare_listing, present)
    if not ready:
        _drop(spare)
    try:
        new = spare if ready else _assemble(output, files, changed, foreign, stamps, staging,
                                            adopt)
        if output.is_dir() and _exchange(new, output):
            pass  # `new` now holds the old site
        elif output.is_dir():
            old = output.parent / f".{output.name}.eesite-old"
            shutil.rmtree(old, ignore_errors=True)
            output.rename(old)
            new.rename(output)
            old.rename(new)
        else:
            new.rename(output)
            return
        _keep_spare(new, spare, keep=len(changed) <= len(files) // 2)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _keep_spare(old_site: Path, spare: Path, keep: bool) -> None:
    """After the swap: keep the old site as the spare when the two share most files (else it
    would be a second copy of the site). The new site is in place by now, so nothing here may
    fail the build: a spare that cannot be kept is dropped."""
    if keep:
        try:
            if old_site != spare:
                _drop(spare)
                old_site.rename(spare)
            return
        except OSError:
            pass
    shutil.rmtree(old_site, ignore_errors=True)


def _drop(spare: Path) -> None:
    if spare.is_symlink():
        spare.unlink()
    else:
        shutil.rmtree(spare, ignore_errors=True)


def _assemble(output: Path, files: Mapping, changed: Mapping, foreign: set[str], stamps: dict,
              staging: Path, adopt: bool) -> Path:
    """The new site in the staging folder: changed files written (or already staged by the
    render), unchanged ones and files not eesite's hard-linked from output/."""
    if staging.exists() and not adopt:
        shutil.rmtree(staging)  # our own leftover from an interrupted build
    staging.mkdir(parents=True, exist_ok=adopt)
    made: set[str] = {str(staging)}
    for rel in files:  # plain strings, not Paths: this loop runs for every file of the site
        new = os.path.join(staging, rel)  # `rel` was checked by write_site
        item = changed.get(rel)
        if type(item) is Staged:  # written there by the render
            stamps[rel] = (item.digest, item.size, item.mtime_ns)
            continue
        parent = os.path.dirname(new)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        if item is not None:
            data, key = item
            with open(new, "wb") as f:
                f.write(data)
            stamps[rel] = _stamp(new, key)
        else:
            if type(files[rel]) is Staged:  # rendered again, the same bytes: keep the old
                os.unlink(new)
            os.link(os.path.join(output, rel), new)  # same inode: mtime kept, nothing copied
    for rel in foreign:  # not ours: carried over as it is
        new = safe_join(staging, rel)
        new.parent.mkdir(parents=True, exist_ok=True)
        os.link(output / rel, new, follow_symlinks=False)
    _put_manifest(staging, output, files)
    return staging


@dataclass(frozen=True)
class SpareListing:
    """The spare's files (with inode numbers) and folders as `list_spare` found them (or why
    it could not), with what the spare was then: the folder and its manifest."""

    identity: tuple | None
    answer: tuple[dict[str, int], set[str]] | OSError

    def __call__(self) -> tuple[dict[str, int], set[str]]:
        if isinstance(self.answer, OSError):
            raise self.answer
        return self.answer

    def current(self, output: Path) -> bool:
        """Is the spare still the folder listed? Another eesite process that swapped or
        brought the spare up to date meanwhile changed its inode or its manifest."""
        return self.identity is not None and self.identity == _spare_identity(output)


def _spare_identity(output: Path) -> tuple | None:
    spare = spare_folder(output)
    try:
        folder, manifest = os.lstat(spare), os.lstat(spare / MANIFEST)
    except OSError:
        return None
    return (folder.st_dev, folder.st_ino, folder.st_mode, manifest.st_ino,
            manifest.st_mtime_ns, manifest.st_size)


def list_spare(output: Path) -> SpareListing:
    """The spare's listing, made now: only eesite writes into the spare, so a build lists it
    while its render runs (0.15 s at 10,000 posts) and `write_site` uses the answer if the
    spare is still the folder listed (else it lists it again)."""
    identity = _spare_identity(output)  # before the walk: a change during it shows too
    spare = spare_folder(output)
    try:
        if identity is None or spare.is_symlink():
            raise NotADirectoryError(f"{spare} is not eesite's spare folder")
        answer: tuple | OSError = _walk(str(spare), strict=True)
    except OSError as err:
        answer = err
    return SpareListing(identity, answer)


def _update_spare(spare: Path, output: Path, files: Mapping, changed: Mapping,
                  foreign: set[str], stamps: dict,
                  listing: SpareListing, in_output: Mapping[str, int]) -> bool:
    """Turn the spare into the new site: what it should not hold is removed, changed files are
    written as new files (never into an inode output/ shares), and every other file is made
    the same inode as in output/. False (the spare is then dropped) when it cannot be brought
    up to date. `listing`: its files (with inode numbers) and folders, as `list_spare` gives
    them; `in_output`: the same of output/ (a file both list with one inode number on one
    device is one file already: no stat, no link)."""
    folders: set[str] = set()  # every folder on the path of a file wanted
    for rel in (*files, *foreign):
        i = rel.rfind("/")
        while i > 0 and rel[:i] not in folders:
            folders.add(rel[:i])
            i = rel.rfind("/", 0, i)
    try:
        present, dirs = listing()
        if folders & foreign:  # a file not eesite's where a page needs a folder: assemble (and
            return False  # fail there)
        for rel in sorted(dirs - folders):  # whole folders nothing is wanted in (outer first)
            if os.path.lexists(path := os.path.join(spare, rel)):
                shutil.rmtree(path)
        for rel in present.keys() - files.keys() - foreign - {MANIFEST}:
            if os.path.lexists(path := os.path.join(spare, rel)):
                os.unlink(path)
        if os.stat(spare).st_dev != os.stat(output).st_dev:
            present = {}  # inode numbers say nothing across devices
        for rel in (*files, *foreign):
            item = changed.get(rel)
            if item is None:
                inode = present.get(rel)
                if inode is None or inode != in_output.get(rel):
                    _link_same(os.path.join(output, rel), os.path.join(spare, rel))
                continue
            new = os.path.join(spare, rel)
            data, key = item
            _unlink(new)
            os.makedirs(os.path.dirname(new), exist_ok=True)
            with open(new, "xb") as f:
                f.write(data)
            stamps[rel] = _stamp(new, key)
        _put_manifest(spare, output, files)
    except OSError:
        return False
    return True


def _link_same(old: str, new: str) -> None:
    """Make `new` a hard link to `old` unless it already is one."""
    try:
        a, b = os.lstat(old), os.lstat(new)
        if (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev):
            return
        _unlink(new)
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(new), exist_ok=True)
    os.link(old, new, follow_symlinks=False)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path)


def _put_manifest(folder: Path, output: Path, files: Iterable[str]) -> None:
    listing = _manifest_text(files).encode("utf-8")
    target = folder / MANIFEST
    if _same(output / MANIFEST, listing, None, ""):
        _link_same(str(output / MANIFEST), str(target))  # unchanged: keeps its mtime
    else:
        _unlink(str(target))
        target.write_bytes(listing)
