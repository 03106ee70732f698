"""A WebSocket over HTTP/2 (RFC 8441) with Python's `h2` library, run by
tests/http2_websocket.rs: wait for SETTINGS_ENABLE_CONNECT_PROTOCOL, open /ws/echo with an
extended CONNECT, echo a text and a binary message, close with 1000, and wait for the stream's
end. Prints one line per step; exits non-zero on anything unexpected.

    python h2_ws.py PORT
"""
import os
import socket
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings


def frame(opcode, payload):
    """A masked client frame, FIN set."""
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse(buffer):
    """(opcode, payload, octets used) of the server frame `buffer` starts with, or None."""
    if len(buffer) < 2:
        return None
    length, at = buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, at = struct.unpack("!H", buffer[2:4])[0], 4
    if len(buffer) < at + length:
        return None
    return buffer[0] & 0x0F, bytes(buffer[at:at + length]), at + length


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.data = bytearray()
        self.status = None
        self.ended = False
        self.connect_protocol = False

    def flush(self):
        self.sock.sendall(self.conn.data_to_send())

    def pump(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection")
        for event in self.conn.receive_data(chunk):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                changed = event.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                if changed is not None and changed.new_value == 1:
                    self.connect_protocol = True
            elif isinstance(event, h2.events.ResponseReceived):
                self.status = dict(event.headers)[b":status"]
            elif isinstance(event, h2.events.DataReceived):
                self.data += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(event, h2.events.StreamReset):
                raise SystemExit(f"stream reset: {event.error_code!r}")
        self.flush()

    def next_frame(self):
        while True:
            found = parse(self.data)
            if found:
                opcode, payload, used = found
                del self.data[:used]
                return opcode, payload
            self.pump()


def main():
    client = Client(int(sys.argv[1]))
    while not client.connect_protocol:
        client.pump()
    print("settings: enable_connect_protocol 1")
    client.conn.send_headers(1, [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/ws/echo"),
        (":authority", "localhost"),
        ("sec-websocket-version", "13"),
    ])
    client.flush()
    while client.status is None:
        client.pump()
    if client.status != b"200":
        raise SystemExit(f"status {client.status!r}")
    print("handshake: 200")
    client.conn.send_data(1, frame(0x1, "hello from h2".encode()))
    client.flush()
    if client.next_frame() != (0x1, b"hello from h2"):
        raise SystemExit("the text echo differs")
    print("text ok")
    client.conn.send_data(1, frame(0x2, bytes([0, 1, 2, 255])))
    client.flush()
    if client.next_frame() != (0x2, bytes([0, 1, 2, 255])):
        raise SystemExit("the binary echo differs")
    print("binary ok")
    client.conn.send_data(1, frame(0x8, struct.pack("!H", 1000)), end_stream=True)
    client.flush()
    opcode, payload = client.next_frame()
    if opcode != 0x8 or struct.unpack("!H", payload[:2])[0] != 1000:
        raise SystemExit(f"the close differs: {opcode} {payload!r}")
    while not client.ended:
        client.pump()
    print("close 1000 ok")


if __name__ == "__main__":
    main()
