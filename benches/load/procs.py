"""What the load scripts share: starting a server pinned to CPU 0 and waiting for its port, and
reading a process's resident memory."""
import socket
import subprocess
import time


def rss_kib(pid):
    """The resident set of process `pid`, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(name, command, cwd, port):
    """Run `command` on CPU 0 and return the process once `port` accepts connections."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        raise SystemExit(f"port {port} is already in use: stop whatever listens there first")
    except OSError:
        pass
    process = subprocess.Popen(["taskset", "-c", "0"] + command, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if process.poll() is not None:
            raise SystemExit(f"{name} exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{name} did not start")
