"""Where this process's spans go: OTLP over HTTP, as the standard ``OTEL_*`` variables say.

Exported when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is
set and ``OTEL_SDK_DISABLED`` is not true; otherwise the API's no-op tracer stays. Every
span is recorded, whatever the caller's sampling flag says: an agent cannot take its own
actions out of the traces. A collector that is down never holds a service's shutdown
longer than :data:`SHUTDOWN_S`.
"""

from __future__ import annotations

import atexit
import os
import threading

from opentelemetry import trace

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
EXPORT_TIMEOUT_S = 2
SHUTDOWN_S = 5.0
_state = {"exporting": False}


def exporting() -> bool:
    """Whether this process exports its spans (set by :func:`configure`)."""
    return _state["exporting"]


def asked() -> bool:
    """Whether the ``OTEL_*`` variables ask for spans to be exported."""
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return not disabled and any(os.environ.get(name) for name in ENDPOINTS)


def configure(service: str) -> None:
    """Export this process's spans as ``agentledger-<service>``, if the environment asks."""
    if not asked():
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415  # only when exporting
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased  # noqa: PLC0415

    provider = TracerProvider(
        resource=Resource.create({"service.name": f"agentledger-{service}"}),
        sampler=ParentBased(root=ALWAYS_ON, remote_parent_not_sampled=ALWAYS_ON),
        shutdown_on_exit=False,  # the SDK's own exit hook waits 30 s for a collector that is down
    )  # fmt: skip
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(timeout=EXPORT_TIMEOUT_S)))
    trace.set_tracer_provider(provider)
    _state["exporting"] = True
    atexit.register(flush)


def flush(timeout_s: float = SHUTDOWN_S) -> None:
    """Export what is held and shut the exporter down, waiting at most ``timeout_s``."""
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is None:
        return
    done = threading.Thread(target=shutdown, name="trace-export-shutdown", daemon=True)
    done.start()
    done.join(timeout_s)
