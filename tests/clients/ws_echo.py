"""Python's `websockets` library against rasgi's /ws/echo: text and bytes echoed as their own
type, with permessage-deflate negotiated and without, a 1 MiB message, and a clean close.
Prints one line per check and `ok` at the end; exits non-zero on the first failure."""

import asyncio
import sys

from websockets.asyncio.client import connect


async def session(url: str, compression) -> None:
    async with connect(url, compression=compression, max_size=2**21) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
        if compression is None:
            assert extensions is None, extensions
        else:
            assert extensions is not None and extensions.startswith("permessage-deflate"), extensions
        for text in ["hello", "κόσμε 😀", "", "x" * 70_000]:
            await ws.send(text)
            echo = await ws.recv()
            assert isinstance(echo, str) and echo == text, (type(echo), len(echo))
        for data in [b"\x00\x01\xff", b"", bytes(range(256)) * 4096]:
            await ws.send(data)
            echo = await ws.recv()
            assert isinstance(echo, bytes) and echo == data, (type(echo), len(echo))
        # A fragmented message, sent as an iterator of pieces.
        await ws.send(iter(["frag", "ment", "ed"]))
        assert await ws.recv() == "fragmented"
        await ws.ping()
        print(f"compression={compression}: extensions={extensions!r}, echoes ok")
    assert ws.close_code == 1000, ws.close_code
    print(f"compression={compression}: closed with {ws.close_code}")


async def main() -> None:
    url = sys.argv[1]
    await session(url, "deflate")
    await session(url, None)
    print("ok")


asyncio.run(main())
