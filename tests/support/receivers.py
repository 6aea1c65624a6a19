"""Fixtures of the gateway tests: a ministry's webhook endpoint on loopback."""

from __future__ import annotations

import http.server
import threading
from typing import Any

from tests.support.events import check_delivery


class Receiver:
    """A ministry's endpoint on loopback: answers with a scripted list of statuses."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                check_delivery(body)  # against the event type's published schema
                with outer.lock:
                    outer.received.append({"headers": dict(self.headers.items()),
                                           "body": body})
                    status, headers = outer.script.pop(0) if outer.script else (200, {})
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

