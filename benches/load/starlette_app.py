"""The uvicorn baselines: a raw ASGI hello app, and a Starlette app with the same middleware
stack as rasgi's demo (TrustedHost, CORS, GZip, request id, timing, custom header), written the
way a FastAPI/Starlette user writes it (the custom three as BaseHTTPMiddleware)."""
import asyncio
import time
import uuid

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route


async def raw(scope, receive, send):
    """Raw ASGI hello: no framework."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, World!"})


async def hello(request):
    return PlainTextResponse("Hello, World!")


async def big(request):
    line = b"rasgi streams, compresses and never buffers. "
    body = (line * (100 * 1024 // len(line) + 1))[: 100 * 1024]
    return PlainTextResponse(body)


async def sse(request):
    """The demo's server-sent events: `events` of them, `interval_ms` apart."""
    events = int(request.query_params.get("events", 5))
    interval = int(request.query_params.get("interval_ms", 500)) / 1000

    async def stream():
        for i in range(events):
            if i > 0 and interval > 0:
                await asyncio.sleep(interval)
            yield f"id: {i}\ndata: event {i}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache"})


class CustomHeader(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        response.headers["x-custom-header"] = "Custom Header Value"
        return response


class Timing(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["x-process-time"] = f"{time.perf_counter() - start:.6f}"
        return response


class RequestId(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        response = await call_next(request)
        response.headers["x-request-id"] = rid
        return response


# The same order as rasgi's demo, outermost first.
app = Starlette(
    routes=[Route("/", hello), Route("/big", big), Route("/sse", sse)],
    middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=["localhost", "127.0.0.1", "[::1]"]),
        Middleware(CORSMiddleware, allow_origins=["http://localhost:3000"], allow_methods=["GET", "POST"],
                   allow_headers=["content-type", "x-request-id"],
                   expose_headers=["x-request-id", "x-process-time"]),
        Middleware(GZipMiddleware, minimum_size=500),
        Middleware(RequestId),
        Middleware(Timing),
        Middleware(CustomHeader),
    ],
)

# The same routes with no middleware: what the framework itself costs per stream.
bare = Starlette(routes=[Route("/", hello), Route("/big", big), Route("/sse", sse)])
