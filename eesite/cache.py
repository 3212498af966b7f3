"""The persistent build cache in `.eesite-cache/` at the site root (git-ignored).

It remembers what is expensive and pure: the Post parsed from each file's bytes, the HTML of
each Markdown body, how each page was rendered last time (see incremental.py) and the digest of
every file written to output/. Each store is one pickle with a key naming everything that
affects the output (eesite, Markdown and Jinja versions, the settings), signed with a key of
the user's kept outside every site; a store whose signature or key differs or that does not
unpickle is discarded, never trusted. A planted store is never unpickled (a 12-byte pickle can
make the unpickler allocate gigabytes), and the unpickler, a second guard, admits only
eesite's own types and a few standard ones, so such a store could not run code either.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import io
import os
import pickle
import sys
import zlib
import zoneinfo
from collections.abc import Iterator, Mapping
from pathlib import Path

import jinja2
import markdown

from eesite import __version__
from eesite.pool import collector_paused

CACHE_DIR = ".eesite-cache"
_MAGIC = b"eesite-cache 3\n"  # then the rest's HMAC-SHA256 in 64 hex digits and a newline
_HEAD = len(_MAGIC) + 65
FORMAT = 7  # bump when a cached type changes shape: older stores are then discarded
_SAFE = {
    "builtins": {"set", "frozenset", "tuple", "dict", "list", "object"},
    "datetime": {"date", "datetime", "timedelta", "timezone", "time"},
    "zoneinfo._zoneinfo": {"ZoneInfo", "ZoneInfo._unpickle"},
    "zoneinfo": {"ZoneInfo", "ZoneInfo._unpickle"},
    "copyreg": {"_reconstructor"},
    "markupsafe": {"Markup"},  # a str: a template's `{% set %}` block passed to a global
}


def digest(data: bytes | str) -> str:
    """A short content hash: SHA-256 cut to 128 bits. It hashes every page written and every
    source read, and runs in the CPU's SHA instructions where there are some (x86 SHA-NI,
    ARMv8): here 1.7–2.8× as fast as BLAKE2b on a 20 KB page, ~0.4 s of CPU of a cold build
    at 10,000 posts."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


_RECORDS = {  # eesite's records that stores hold (a test loads every store a build saves)
    "eesite.content": {"Post", "Draw", "Distribution"},
    "eesite.incremental": {"Trace", "_Ref"},
    "eesite.state": {"Summary"},
}


def _zone_method(obj: object, name: str) -> object:
    """The one `getattr` a store needs: pickle writes a ZoneInfo (a front-matter time in the
    site's zone) as getattr(ZoneInfo, "_unpickle") called with its key."""
    if obj is zoneinfo.ZoneInfo and name == "_unpickle":
        return zoneinfo.ZoneInfo._unpickle
    raise pickle.UnpicklingError(f"getattr of {name!r} is not allowed in the cache")


class _Unpickler(pickle.Unpickler):
    """Admits the few standard types above and eesite's own records, each by name: not any
    name an eesite module can reach (pickle resolves a dotted name, "os.system" in
    eesite.render, attribute by attribute) nor any module to import (importing
    eesite.__main__ runs the command line)."""

    def find_class(self, module: str, name: str):
        if name in _SAFE.get(module, ()) or name in _RECORDS.get(module, ()):
            return super().find_class(module, name)
        if (module, name) == ("builtins", "getattr"):
            return _zone_method
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")


_KEY: list[bytes] = []  # this process's signing key, once found (a missing one is sought again)


def signing_key() -> bytes | None:
    """This user's key for what eesite keeps in a site's cache and later trusts (its stores,
    the compiled templates): 32 random bytes in $XDG_CACHE_HOME/eesite (~/.cache/eesite),
    outside every site, so a file planted in a site's cache cannot be signed; made on first
    use. None when there is no such place, or the file there is not this user's alone (a
    shared HOME: a key another user wrote or can read signs nothing); nothing is then kept."""
    if not _KEY:
        key, why = _user_key()
        if key is None:
            _say_unsigned(why)
            return None
        _KEY.append(key)
    return _KEY[0]


def _user_key() -> tuple[bytes | None, str]:
    """(the key, "") or (None, why not)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # (unset, or relative: the XDG spec says to ignore it)
        base = os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):  # (no HOME and no home in the user database, or a relative one)
        return None, "no home folder to keep it in"
    folder = os.path.join(base, "eesite")
    path = os.path.join(folder, "signing.key")
    try:
        # what is made here belongs to whoever runs eesite: nothing in a folder of another
        # user's (a `sudo` keeping HOME would leave that user a key or folder of root's that
        # they cannot read); folders of root's (/tmp, a home's symlink) are the system's
        nearest = folder
        while not os.path.exists(nearest):
            nearest = os.path.dirname(nearest)
        if os.stat(nearest).st_uid not in (os.getuid(), 0):
            return None, f"{nearest} belongs to another user"
        os.makedirs(folder, mode=0o700, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except FileNotFoundError:
                _make_key(folder, path)
                continue
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_uid != os.getuid() or st.st_mode & 0o077:
                    return None, (f"{path} is not this user's alone (owner {st.st_uid}, "
                                  f"mode {st.st_mode & 0o777:o})")
                key = f.read(33)
            if len(key) == 32:
                return key, ""
            with contextlib.suppress(FileNotFoundError):  # damaged (a key file only ever
                os.remove(path)  # appears whole, see _make_key): made again
        return None, f"{path} could not be made"
    except OSError as err:
        return None, f"{err.filename or folder}: {err.strerror}"


def _make_key(folder: str, path: str) -> None:
    """Write a new key beside `path` and link it into place: another process never reads a
    key half-written (and then signs with a wrong key, or gives up), and of two processes
    making one at once, the second finds the first's."""
    temporary = os.path.join(folder, f".signing.key.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.remove(temporary)  # (a leftover of a process with this number)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.remove(temporary)


@functools.cache
def _say_unsigned(why: str) -> None:
    print(f"eesite: no signing key ({why}): the cache is not kept between runs",
          file=sys.stderr, flush=True)


def _signer() -> hmac.HMAC | None:
    key = signing_key()
    return hmac.new(key, digestmod=hashlib.sha256) if key else None


def _path(root: Path, name: str) -> Path:
    return root / CACHE_DIR / f"{name}.pickle"


def load(root: Path, name: str, key: str) -> object | None:
    """The stored value, or None when it is missing, stale (another key), corrupt or not
    signed with this user's key (planted)."""
    signer = _signer()
    if signer is None:
        return None
    try:
        raw = _path(root, name).read_bytes()
    except OSError:
        return None
    signer.update(memoryview(raw)[_HEAD:])
    if not raw.startswith(_MAGIC) or not hmac.compare_digest(
            raw[len(_MAGIC):_HEAD], signer.hexdigest().encode() + b"\n"):
        return None
    stream = io.BytesIO(raw)  # (shares the bytes; a slice or a memoryview would be copied)
    stream.seek(_HEAD)
    try:
        with collector_paused(keep=True):  # a large unpickle otherwise spends half its
            # time in the collector; what it made is all kept (see collector_paused)
            stored_key, value = _Unpickler(stream).load()
    except Exception:  # noqa: BLE001 - any damage means: rebuild, do not trust
        return None
    return value if stored_key == key else None


def save(root: Path, name: str, key: str, value: object) -> None:
    """Store atomically (temporary file + rename), signed; a cache that cannot be written (or
    signed: no user key) is skipped."""
    signer = _signer()
    if signer is None:
        return
    path = _path(root, name)
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:  # pickled straight to the file: a store is never held twice
            f.write(_MAGIC + b"0" * 64 + b"\n")
            pickle.dump((key, value), _Signing(f, signer), protocol=pickle.HIGHEST_PROTOCOL)
            f.seek(len(_MAGIC))
            f.write(signer.hexdigest().encode())
        os.replace(tmp, path)
    except OSError:
        pass


class _Signing:
    """A file to pickle into that also signs what passes through."""

    def __init__(self, f, signer: hmac.HMAC):
        self.f, self.signer = f, signer

    def write(self, data) -> int:
        self.signer.update(data)
        return self.f.write(data)


def settings_key(settings: object) -> str:
    """Everything besides the input files that changes what a build produces."""
    from eesite.prose import EXTENSIONS

    return digest(repr((FORMAT, __version__, own_code(), markdown.__version__,
                        jinja2.__version__, EXTENSIONS, settings)))


@functools.cache
def own_code() -> tuple:
    """eesite's own modules by name, size and mtime: an edited eesite (while developing it)
    makes other output even when its version number stays the same."""
    files = sorted(Path(__file__).parent.glob("*.py"))
    return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)


class Cache:
    """The stores of one site, each read from disk when first used and saved at the end.

    `posts`: file path → (stamp, bytes digest, Post, front matter digest); `html`: body digest → HTML (and
    Renderer.memo's results, by a digest of function and arguments); `pages`: output path →
    incremental.Trace; `output`: output path → (digest, size, mtime_ns) of the file written
    there; `templates`: template name → digest; `imports`: (template, digest) → the names it
    loads (Jinja's parse of every template, 0.16 s a build, kept); `state`: what the last build read and wrote
    (state.py: the no-change shortcut); `session`: what delta.py needs to recognise a prose
    edit. Stores load lazily, so a build that finds nothing
    changed reads only the small ones.
    """

    STORES = ("posts", "html", "pages", "output", "templates", "imports", "state", "session")

    SHARDED = ("posts", "pages")  # large stores of many small entries (and html: Shards)
    SHARDS = 16  # each kept in as many files; a build rewrites only those that changed

    def __init__(self, root: Path, key: str):
        self.root = root
        self.key = key
        self.changed: set[str] = set()  # names of the stores to write back
        self._stores: dict[str, dict] = {}
        self._on_disk: dict[str, list[dict]] = {}  # sharded store → its shards as read

    @classmethod
    def open(cls, root: Path, settings: object) -> Cache:
        signing_key()  # (without one, says so: once a process)
        return cls(root, settings_key(settings))

    def _get(self, name: str) -> dict:
        value = self._stores.get(name)
        if value is None:
            if name == "html":
                value = self._stores[name] = Shards(self, name)
                return value
            if name in self.SHARDED:
                shards = []
                for i in range(self.SHARDS):
                    found = load(self.root, f"{name}.{i:02x}", self.key)
                    shards.append(found if isinstance(found, dict) else {})
                self._on_disk[name] = shards
                value = {k: v for shard in shards for k, v in shard.items()}
            else:
                found = load(self.root, name, self.key)
                value = found if isinstance(found, dict) else {}
            self._stores[name] = value
        return value

    def _set(self, name: str, value: dict) -> None:
        self._stores[name] = value

    posts = property(lambda self: self._get("posts"), lambda self, v: self._set("posts", v))
    html = property(lambda self: self._get("html"))  # a Shards: see keep_html
    pages = property(lambda self: self._get("pages"), lambda self, v: self._set("pages", v))
    output = property(lambda self: self._get("output"), lambda self, v: self._set("output", v))
    templates = property(lambda self: self._get("templates"),
                         lambda self, v: self._set("templates", v))
    imports = property(lambda self: self._get("imports"), lambda self, v: self._set("imports", v))
    state = property(lambda self: self._get("state"), lambda self, v: self._set("state", v))
    session = property(lambda self: self._get("session"), lambda self, v: self._set("session", v))

    def keep_html(self, wanted: set[str] | frozenset[str], made: Mapping[str, str]) -> None:
        """The HTML store now holds the keys of `wanted` that it holds or `made` gives."""
        if self.html.update_to(wanted, made):
            self.changed.add("html")

    @property
    def loaded(self) -> set[str]:
        """The stores read (or set) so far."""
        return set(self._stores)

    def save(self) -> None:
        """Write back only the stores (and shards) that changed: a no-change build writes
        nothing, a one-post edit one shard of each of the large stores."""
        for name in sorted(self.changed):
            value = self._get(name)
            if isinstance(value, Shards):
                value.save()
                continue
            if name not in self.SHARDED:
                save(self.root, name, self.key, value)
                continue
            shards: list[dict] = [{} for _ in range(self.SHARDS)]
            for k, v in value.items():
                shards[shard_of(k)][k] = v
            before = self._on_disk.get(name) or [None] * self.SHARDS
            for i, shard in enumerate(shards):
                if shard != before[i]:  # same objects compare by identity: cheap
                    save(self.root, f"{name}.{i:02x}", self.key, shard)
            self._on_disk[name] = shards
        self.changed.clear()


def shard_of(key: str) -> int:
    """Which of a sharded store's files holds `key`."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % Cache.SHARDS


# The first character of an HTML store key whose value is made from other HTML (a feed item's,
# `Renderer.memo`'s), never a digest's: these are kept in a shard of their own. A feed needs
# the items of its 50 newest posts, which by their digests lay in 12 of the 16 shards (all read
# and verified, 0.05 s, in every build that remade a feed); they are read together now.
MADE = "~"


def html_shard_of(key: str) -> int:
    """Which of the HTML store's files holds `key`: the last one for made HTML."""
    return Cache.SHARDS if key.startswith(MADE) else shard_of(key)


class Shards(Mapping):
    """A sharded store read one shard at a time, when a key in it is first looked up; its keys
    come from an index saved beside it (`<name>.keys`). The HTML store is 31 MB at 10,000
    posts, and a front-matter edit needs the HTML of the few pages it makes again only:
    reading and verifying all of it before forking cost 0.06 s of every such build. Values
    are content-addressed, so a key the index lists that its shard lacks (a shard not
    written: no space, killed; another process's save) is simply not found, made again and
    stored again (`update_to`); never a wrong value."""

    def __init__(self, cache: Cache, name: str):
        self._cache, self._name = cache, name
        self._shards: list[dict | None] = [None] * (Cache.SHARDS + 1)  # (see html_shard_of)
        self._dirty: set[int] = set()
        keys = load(cache.root, f"{name}.keys", cache.key)
        if not isinstance(keys, frozenset):  # no index (yet): read every shard, save one
            keys = frozenset(k for i in range(len(self._shards)) for k in self._shard(i))
            self._index_stale = True
        else:
            self._index_stale = False
        self._keys = keys

    def _shard(self, i: int) -> dict:
        shard = self._shards[i]
        if shard is None:
            found = load(self._cache.root, f"{self._name}.{i:02x}", self._cache.key)
            shard = self._shards[i] = found if isinstance(found, dict) else {}
        return shard

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def get(self, key: str, default: str | None = None) -> str | None:
        if key not in self._keys:
            return default
        return self._shard(html_shard_of(key)).get(key, default)

    def __getitem__(self, key: str) -> str:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def keys(self) -> frozenset[str]:  # type: ignore[override] - a set, as dict keys are
        return self._keys

    def update_to(self, wanted: set[str] | frozenset[str], made: Mapping[str, str]) -> bool:
        """Hold the keys of `wanted` that it holds or `made` gives (only the shards whose keys
        change are read and written again); False when it holds them already. A value made
        although the index lists its key (its shard lacked it: lost, or written by another
        process since) is stored again, so a lost shard costs its HTML once."""
        keep = self._keys & wanted
        added = {k: v for k, v in made.items() if k in wanted and (
            k not in self._keys or k not in self._shard(html_shard_of(k)))}
        if len(keep) == len(self._keys) and not added:
            return self._index_stale
        dirty = {html_shard_of(k) for k in self._keys - keep} | {html_shard_of(k) for k in added}
        for i in dirty:
            shard = {k: v for k, v in self._shard(i).items() if k in keep}
            shard.update((k, v) for k, v in added.items() if html_shard_of(k) == i)
            self._shards[i] = shard
        self._dirty |= dirty
        self._keys = frozenset(keep | added.keys())
        return True

    def save(self) -> None:
        """The changed shards, then the index (a shard that fails to be written only costs
        the HTML it held, made and stored again when next needed)."""
        for i in sorted(self._dirty):
            save(self._cache.root, f"{self._name}.{i:02x}", self._cache.key, self._shards[i])
        save(self._cache.root, f"{self._name}.keys", self._cache.key, self._keys)
        self._dirty.clear()
        self._index_stale = False
