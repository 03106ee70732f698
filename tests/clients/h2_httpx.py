"""httpx with HTTP/2 against the demo: GET /, POST /echo, GET /sse streamed, GET /big.

Usage: h2_httpx.py BASE_URL. Prints "ok HTTP/2 / /echo /sse /big" when every answer is right.
"""

import sys

import httpx


def main(base: str) -> None:
    done = []
    # http1=False: prior knowledge, as over a plain connection there is no ALPN.
    with httpx.Client(http1=False, http2=True, base_url=base, timeout=20) as client:
        hello = client.get("/")
        assert hello.http_version == "HTTP/2", hello.http_version
        assert hello.text == "Hello, World!", hello.text
        done.append("/")

        body = bytes(range(256)) * 4096
        echo = client.post("/echo", content=body)
        assert echo.content == body, len(echo.content)
        done.append("/echo")

        with client.stream("GET", "/sse?events=3&interval_ms=1") as events:
            lines = [line for line in events.iter_lines() if line.startswith("data:")]
        assert lines == ["data: event 0", "data: event 1", "data: event 2"], lines
        done.append("/sse")

        big = client.get("/big?size=3000000")
        assert len(big.content) == 3_000_000, len(big.content)
        done.append("/big")
    print("ok", hello.http_version, " ".join(done))


if __name__ == "__main__":
    main(sys.argv[1])
