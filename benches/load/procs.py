"""What the load scripts share: starting a server pinned to CPU 0 and waiting for its port,
counting a server's instructions under callgrind, and reading a process's resident memory."""
import os
import socket
import subprocess
import tempfile
import time


def free_port():
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def callgrind_total(command, load):
    """Run `command` (with `--bind 127.0.0.1:PORT` appended) under callgrind, call `load(port)`
    once it listens, stop it, and return its instruction total and what `load` returned."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        server = start(
            "the server under callgrind",
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
            + command + ["--bind", f"127.0.0.1:{port}"],
            None, port)
        result = load(port)
        server.terminate()
        server.wait(timeout=60)
        with open(out) as f:
            for line in f:
                if line.startswith("summary:"):
                    return int(line.split()[1]), result
    raise SystemExit("callgrind wrote no summary")


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
