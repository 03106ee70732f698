"""Open N keep-alive connections to a server, make one request on each, and hold them open:
prints the server's resident memory before and after, and the difference per connection."""
import socket
import sys
import time

import procs


def main():
    port, pid, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    before = procs.rss_kib(pid)
    conns = []
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        conns.append(s)
        if len(conns) % 500 == 0:
            for c in conns[-500:]:
                c.recv(4096)
    for c in conns[len(conns) - len(conns) % 500:]:
        c.recv(4096)
    time.sleep(1.0)
    after = procs.rss_kib(pid)
    print(f"{before} {after} {(after - before) * 1024 / count:.0f}")
    for c in conns:
        c.close()


main()
