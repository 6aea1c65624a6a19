"""Issue 18, item 2, distributed: a referral's creation is one trace across the gateway, the
referrals and registry processes and their databases, each process exporting by OTLP/HTTP
(configured only by ``OTEL_*`` variables) to a collector this test runs on loopback."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ruta.distributed import DistributedSystem, free_port
from shared.tracing import CLIENT_SCOPE
from tests.support.contract import contract_client
from tests.support.referrals import Route
from tests.support.tokens import TokenFactory
from tests.support.tracing import CALLER_TRACE, TRACEPARENT
from tests.test_distributed import auth, dist_keys, distributed_urls

__all__ = ["auth", "dist_keys", "distributed_urls"]  # the fixtures

pytestmark = pytest.mark.slow
FORWARDS = {("ruta-gateway", CLIENT_SCOPE), ("ruta-referrals", CLIENT_SCOPE)}


class Collector:
    """An OTLP/HTTP (protobuf) trace receiver: (service, trace id, span name, kind) rows."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest.FromString(body)
                rows = []
                for rs in request.resource_spans:
                    attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        rows += [{"service": attrs.get("service.name"),
                                  "trace": s.trace_id.hex(), "name": s.name,
                                  "scope": ss.scope.name} for s in ss.spans]
                with outer.lock:
                    outer.spans += rows
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture(scope="module")
def collector() -> Iterator[tuple[Collector, int]]:
    c = Collector()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), c.handler())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield c, server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def traced_system(distributed_urls: dict[str, str], dist_keys: Any,
                  collector: tuple[Collector, int],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributedSystem]:
    env = {"RUTA_UPSTREAM_TIMEOUT_SECONDS": "5",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector[1]}",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}
    s = DistributedSystem(distributed_urls, env=env,
                          log_dir=Path(tmp_path_factory.mktemp("traced-logs")))
    with s.running():
        yield s


async def test_a_referral_is_one_trace_across_processes(
    traced_system: DistributedSystem, collector: tuple[Collector, int], auth: TokenFactory
) -> None:
    received, _ = collector
    async with contract_client(base_url=traced_system.url("gateway"), timeout=10) as c:
        route = Route(c, auth)
        pid = await route.person(consents_for=("mtpe-empleo",))
        made = await route.refer(pid, headers=route.h(traceparent=TRACEPARENT))
        assert made.status_code == 201, made.text

    wanted = {"ruta-gateway", "ruta-referrals", "ruta-registry"}
    # each process exports its spans in batches, in its own time: wait for everything the
    # assertions below need (the referrals' client span of its call to the registry can
    # arrive after both services' SQL spans)
    deadline = time.monotonic() + 15
    while True:
        with received.lock:
            ours = [s for s in received.spans if s["trace"] == CALLER_TRACE]
        services = {s["service"] for s in ours}
        sql = {s["service"] for s in ours if s["scope"].endswith("sqlalchemy")}
        # our own client (shared.http1): the gateway forwards the request with it, the
        # referrals service calls the registry with it
        clients = {(s["service"], s["scope"]) for s in ours if s["scope"] == CLIENT_SCOPE}
        if (services >= wanted and sql >= {"ruta-referrals", "ruta-registry"}
                and clients >= FORWARDS) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert services >= wanted, ours
    assert sql >= {"ruta-referrals", "ruta-registry"}, ours
    assert clients >= FORWARDS, ours  # gateway → referrals → registry
