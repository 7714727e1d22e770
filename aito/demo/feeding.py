"""The demo's news: a feed the CMO follows, served on 127.0.0.1 for the simulated day.

The CMO's MCP server `news` (AITO's rss connector, `aito mcp serve rss --feed URL`) reads
it; the offline CMO turns its newest item into an initiative (with the item's link as
the signal), so the day shows the organization answering the outside world. The feed is
fixed, so a demo with the same seed is the same demo.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Crypto Community Wire</title><link>https://wire.example/</link>
<item>
  <title>Shiba Classic to be listed on a second exchange next month</title>
  <link>https://wire.example/shiba-classic-second-listing</link>
  <guid>wire-2026-03-02-shiba-listing</guid>
  <pubDate>Mon, 02 Mar 2026 06:10:00 GMT</pubDate>
  <description>Community members ask how the project will announce it.</description>
</item>
<item>
  <title>Meme coins see a quiet weekend</title>
  <link>https://wire.example/quiet-weekend</link>
  <guid>wire-2026-03-01-quiet</guid>
  <pubDate>Sun, 01 Mar 2026 18:00:00 GMT</pubDate>
  <description>Volumes were low across the board.</description>
</item>
</channel></rss>
"""
PATH = "/wire.xml"


@contextmanager
def serving() -> Iterator[str]:
    """Serve the feed; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == PATH
            body = FEED if found else b"not found"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/rss+xml" if found else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
