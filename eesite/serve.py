"""`eesite serve`: the site on 127.0.0.1 with live reload and an error overlay.

The server only ever serves files under output/: a request path is percent-decoded once, and
one with `..`, a backslash, NUL or a symlink that resolves outside output/ is refused. Each HTML
page gets a small script (added as it is sent, never written into output/) that listens on
/__eesite/events (server-sent events, standard library only) and reloads when a rebuild changed
its file (or every page: a style sheet, an error shown or gone); other tabs stay as they are.
While a rebuild runs, requests wait for it, except for the pages it wrote ahead of the rest
(the edited post's own page: see build._write_first). While the last build failed, every page
still comes from the last good site and shows an overlay naming file, line and message.
"""

from __future__ import annotations

import errno
import html
import mimetypes
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote

from eesite.watch import Live

EVENTS = "/__eesite/events"
PORT_TRIES = 20
_SCRIPT = """<script>/* eesite serve: live reload (not in output/) */
(function(){var s=new EventSource("%s?run=%s&since=%d%s");
s.addEventListener("reload",function(){s.close();location.reload();});})();
</script>"""
_OVERLAY = """<div id="eesite-error" role="alert" style="position:fixed;inset:0;z-index:2147483647;
overflow:auto;background:rgba(20,0,0,.97);color:#fff;font:16px/1.5 system-ui,sans-serif;padding:2rem">
<h2 style="margin-top:0;color:#ffb4b4">The site did not build: %d problem%s</h2>
<p>Showing the last good version. Fix the file and save: this page reloads by itself.</p>
<ul style="font-family:ui-monospace,monospace">%s</ul></div>"""


class Refused(Exception):
    """A request for something outside output/."""


def resolve(output: Path, target: str) -> Path | None:
    """The file under `output` a request target names; None if there is none; Refused if the
    target tries to leave output/. Only origin-form targets ("/a/b") are accepted."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/") or path.startswith("//"):
        raise Refused(target)
    try:
        path = unquote(path, errors="strict") if "%" in path else path
    except UnicodeDecodeError:
        raise Refused(target) from None
    parts = [p for p in path.split("/") if p]
    if "\0" in path or "\\" in path or any(p in ("..", ".") for p in parts):
        raise Refused(target)
    candidate = output.joinpath(*parts)
    if candidate.is_dir():
        candidate = candidate / "index.html"
    try:
        real, base = candidate.resolve(strict=True), output.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(base):
        raise Refused(target)  # a symlink pointing out of output/
    return real if real.is_file() and real.name != ".eesite-manifest" else None


def wanted(target: str) -> str | None:
    """The output file a request target would name if it is a page, without touching the
    disk (a request may go ahead of a rebuild only for a file the rebuild wrote already)."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    try:
        path = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    path = path.strip("/")
    return f"{path}/index.html" if path and "." not in path.rsplit("/", 1)[-1] else path or \
        "index.html"


def inject(page: bytes, live: Live, generation: int, file: str | None = None) -> bytes:
    """The page with the reload script and, after a failed build, the error overlay. `file`:
    the output file it shows, which it reloads for (None: any rebuild)."""
    extra = _SCRIPT % (EVENTS, live.run, generation, f"&file={quote(file)}" if file else "")
    error = live.error
    if error is not None:
        items = "".join(f"<li>{html.escape(str(p))}</li>" for p in error.problems)
        count = len(error.problems)
        extra += _OVERLAY % (count, "" if count == 1 else "s", items)
    tail = page.rfind(b"</body>")
    data = extra.encode("utf-8")
    return page[:tail] + data + page[tail:] if tail >= 0 else page + data


class Handler(BaseHTTPRequestHandler):
    server: DevServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet: errors only
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(body=False)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] == EVENTS:
            self._events()
        else:
            self._serve(body=True)

    def _serve(self, body: bool) -> None:
        live, output = self.server.live, self.server.output
        live.wait_idle(timeout=120, file=wanted(self.path))
        with live.state:
            generation = live.generation
        try:
            path = resolve(output, self.path)
        except Refused:
            self.send_error(HTTPStatus.FORBIDDEN, "outside the site")
            return
        status = HTTPStatus.OK
        if path is None:
            status = HTTPStatus.NOT_FOUND
            path = resolve(output, "/404.html")
        if path is None:  # not even a 404 page yet (the first build failed)
            data = inject(b"<!DOCTYPE html><title>eesite</title><body></body>", live, generation)
            kind = "text/html; charset=utf-8"
        else:
            try:
                data = path.read_bytes()
            except OSError:
                data, status = b"not found\n", HTTPStatus.NOT_FOUND
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if kind == "text/html":
                shown = path.relative_to(output.resolve()).as_posix() \
                    if status == HTTPStatus.OK else None
                data, kind = inject(data, live, generation, shown), "text/html; charset=utf-8"
            elif kind.startswith("text/") or kind in ("application/json", "application/xml"):
                kind += "; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _events(self) -> None:
        """Server-sent events: `reload` once the page's file (`file`, else any) changed after
        the generation it was served at (`since`), or at once if it was served by an earlier
        run of the server (`run`: its generations count from zero again)."""
        live = self.server.live
        query = parse_qs(self.path.partition("?")[2])
        since = next((int(v) for v in query.get("since", ()) if v.isdigit()), None)
        file = query.get("file", [None])[0]
        if query.get("run", [live.run])[0] != live.run:
            since, file = -1, None  # any generation is news to it
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with live.state:
            seen = live.generation if since is None else since
        try:
            self.wfile.write(b"retry: 500\n\n")
            self.wfile.flush()
            while not self.server.stopping:
                with live.state:
                    live.state.wait_for(lambda: live.reload_due(seen, file)
                                        or self.server.stopping, timeout=10)
                    generation, changed = live.generation, live.reload_due(seen, file)
                if self.server.stopping:
                    return
                if changed:
                    self.wfile.write(f"event: reload\ndata: {generation}\n\n".encode())
                    self.wfile.flush()
                    return
                self.wfile.write(b": ping\n\n")  # finds closed connections
                self.wfile.flush()
        except OSError:
            return


class DevServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], live: Live, output: Path):
        self.live, self.output, self.stopping = live, output, False
        super().__init__(address, Handler)

    def handle_error(self, request, client_address) -> None:
        """A browser that went away is normal; anything else is one line, not a traceback."""
        err = sys.exc_info()[1]
        if not isinstance(err, ConnectionError | TimeoutError):
            self.live.say(f"error: serving a request failed: {type(err).__name__}: {err}")

    def shutdown(self) -> None:
        self.stopping = True
        with self.live.state:
            self.live.state.notify_all()
        super().shutdown()


def bind(host: str, port: int, live: Live, output: Path, say) -> DevServer:
    """A server on `port`, or on the next free port (said on screen) when it is busy."""
    for candidate in range(port, port + PORT_TRIES):
        try:
            server = DevServer((host, candidate), live, output)
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise SystemExit(f"eesite serve: cannot listen on {host}:{candidate}: "
                                 f"{err.strerror}") from None
            continue
        if candidate != port:
            say(f"port {port} is busy; using port {candidate} instead")
        return server
    raise SystemExit(f"eesite serve: ports {port}-{port + PORT_TRIES - 1} on {host} are all "
                     "busy; choose one with --port")


def serve(live: Live, host: str, port: int, serve_http: bool = True) -> int:
    """Build, watch and (with serve_http) serve until Ctrl-C or SIGTERM; then stop cleanly."""
    say = live.say
    server = None
    if serve_http:
        server = bind(host, port, live, live.options.output, say)  # fail fast on a busy port
    live.rebuild()
    live.save_cache()
    live.start()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = None
    try:  # (before "serving" is said: a Ctrl-C right after it must stop cleanly too)
        if server is not None:
            started = threading.Thread(target=server.serve_forever, name="eesite-http",
                                       kwargs={"poll_interval": 0.2}, daemon=True)
            started.start()
            thread = started  # (only a started loop can be shut down: shutdown waits for it)
            say(f"serving {live.options.output} at http://{host}:{server.server_address[1]}/ "
                "(Ctrl-C to stop)")
        else:
            say(f"watching {live.options.source} (Ctrl-C to stop)")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        say("stopping")
        if server is not None:
            if thread is not None:
                server.shutdown()
            server.server_close()
        live.stop()
    return 0
