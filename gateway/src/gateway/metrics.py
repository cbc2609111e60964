"""The gateway's Prometheus metrics, on an internal listener of their own.

The gateway is the platform's only public door, so its public port serves no /metrics (request counts per
route and latencies tell an outsider what the platform is doing). `gateway serve --metrics-port P` serves
them on port P instead, which deployments never publish: the pod's annotations point Prometheus at it, the
Service and the Ingress expose only the API port (docs/operations.md#metrics).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server


@dataclass
class MetricsListener:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_listener(host: str, port: int) -> MetricsListener:
    """Serve the process's metrics (Prometheus text, any path) on host:port from a thread of its own."""
    server, thread = start_http_server(port, addr=host)
    return MetricsListener(server, thread)
