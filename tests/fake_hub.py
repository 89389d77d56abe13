"""A loopback HTTP server that serves a folder the way the Hub serves `resolve/<revision>/<file>`.

HEAD answers with `X-Repo-Commit`, `ETag` and `Content-Length`; GET with the
bytes. `mode` makes it misbehave: "corrupt" flips a byte of every file it
sends, "hang" never answers.
"""

import hashlib
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FakeHub:
    def __init__(self, root, revision, mode="ok"):
        self.root, self.revision, self.mode = Path(root), revision, mode
        self.requests = []
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self):
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def stop(self):
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def _lookup(self, path):
        """(status, body) for a URL path `/<org>/<name>/resolve/<revision>/<file>`."""
        parts = urllib.parse.unquote(urllib.parse.urlparse(path).path).strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return 404, None
        repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        if revision != self.revision:
            return 404, "revision"
        file = self.root / repo_id / filename
        if not file.is_file():
            return 404, "entry"
        body = file.read_bytes()
        if self.mode == "corrupt":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        return 200, body

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, with_body):
                hub.requests.append((self.command, self.path))
                if hub.mode == "hang":
                    hub._release.wait(30)
                    return
                status, body = hub._lookup(self.path)
                self.send_response(status)
                if status != 200:
                    error_code = "RevisionNotFound" if body == "revision" else "EntryNotFound"
                    self.send_header("X-Error-Code", error_code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_header("X-Repo-Commit", hub.revision)
                self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_HEAD(self):
                self._answer(with_body=False)

            def do_GET(self):
                self._answer(with_body=True)

        return Handler
