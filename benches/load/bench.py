"""Runs the load scenarios (see run.sh) and reports medians, ratios to hyper, and a chart."""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess

import procs

CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))

SERVERS = {
    "rasgi": (["{root}/target/release/examples/load_rasgi", "--bind", "127.0.0.1:{port}", "--keep-alive", "60"], None),
    "rasgi-stack": (["{root}/target/release/examples/load_rasgi", "--stack", "--bind", "127.0.0.1:{port}", "--keep-alive", "60"], None),
    "rasgi-binary": (["{root}/target/release/rasgi", "--workers", "1", "--no-access-log", "--bind", "127.0.0.1:{port}",
                      "--timeout-keep-alive", "60", "--log-file", "{root}/target/bench-demo.log"], None),
    # The hyper ratios are taken against: its fastest configuration for hello and pipelined
    # (`--minimal`: one `Full<Bytes>` hello, no router); the routed one for the others.
    "hyper": (["{root}/target/release/examples/load_hyper", "--minimal", "--bind", "127.0.0.1:{port}"], None),
    "hyper-routed": (["{root}/target/release/examples/load_hyper", "--bind", "127.0.0.1:{port}"], None),
    "uvicorn-raw": (["{venv}/bin/uvicorn", "starlette_app:raw", "--port", "{port}", "--no-access-log", "--loop", "uvloop",
                     "--http", "httptools", "--timeout-keep-alive", "60", "--log-level", "warning"], HERE),
    "uvicorn-starlette": (["{venv}/bin/uvicorn", "starlette_app:app", "--port", "{port}", "--no-access-log", "--loop", "uvloop",
                           "--http", "httptools", "--timeout-keep-alive", "60", "--log-level", "warning"], HERE),
}

# name: (wrk path or script, connections, servers, extra headers)
SCENARIOS = {
    "hello": ("/", None, 64, ["rasgi", "hyper", "uvicorn-raw"]),
    "pipelined": ("/", "pipeline.lua", 64, ["rasgi", "hyper", "uvicorn-raw"]),
    "stack": ("/", None, 64, ["rasgi-stack", "rasgi-binary", "hyper", "uvicorn-starlette"]),
    # The shipped binary's demo stack pipelined, beside bare rasgi and the minimal hyper.
    "pipelined-stack": ("/", "pipeline.lua", 64, ["rasgi", "rasgi-binary", "hyper"]),
    "stream": ("/stream", None, 16, ["rasgi", "hyper-routed"]),
    "upload": ("/echo", "upload.lua", 16, ["rasgi", "hyper-routed"]),
    "gzip": ("/big", "gzip.lua", 16, ["rasgi-stack", "hyper-routed", "uvicorn-starlette"]),
}


def baseline(servers):
    """The hyper a scenario's ratios are taken against."""
    return "hyper" if "hyper" in servers else "hyper-routed"


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def start(name, port, args):
    command, cwd = SERVERS[name]
    command = [c.format(root=args.root, venv=args.venv, port=port) for c in command]
    return procs.start(name, command, cwd, port)


def wrk(port, path, script, connections, duration):
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", os.path.join(HERE, script)]
    out = subprocess.run(command + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, total, float(p99.group(1)) * scale


def idle(name, port, process, count):
    out = subprocess.run(["taskset", "-c", "1", "python3", os.path.join(HERE, "idle.py"), str(port), str(process.pid), str(count)],
                         capture_output=True, text=True)
    before, after, per = out.stdout.split()
    return int(before), int(after), float(per)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--venv", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--only", default="")
    parser.add_argument("--idle-connections", type=int, default=10000)
    parser.add_argument("--skip-servers", default="", help="comma-separated servers to leave out (quick runs)")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    skip = set(filter(None, args.skip_servers.split(",")))
    scenarios = {k: (p, s, c, [x for x in servers if x not in skip])
                 for k, (p, s, c, servers) in SCENARIOS.items() if not only or k in only}
    names = sorted({s for v in scenarios.values() for s in v[3]} | ({"rasgi", "rasgi-binary", "hyper"} if not only or "idle" in only else set()))
    ports = {name: 18500 + i for i, name in enumerate(names)}
    processes = {}
    results = {}
    try:
        for name in names:
            processes[name] = start(name, ports[name], args)
        for scenario, (path, script, connections, servers) in scenarios.items():
            runs = {s: [] for s in servers}
            for round_ in range(args.rounds):
                for server in servers:
                    pid = processes[server].pid
                    ticks = cpu_ticks(pid)
                    rps, total, p99 = wrk(ports[server], path, script, connections, args.duration)
                    cpu_us = (cpu_ticks(pid) - ticks) * 1e6 / CLK_TCK / max(total, 1)
                    runs[server].append({"rps": rps, "p99_ms": p99, "cpu_us": cpu_us})
                    print(f"{scenario:9} round {round_ + 1} {server:17} {rps:12.0f} req/s  p99 {p99:8.2f} ms  cpu {cpu_us:6.2f} us/req", flush=True)
            results[scenario] = {
                s: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p99_ms", "cpu_us")} for s, rs in runs.items()
            }
            # Each round runs the servers back to back, so a round's ratio is the least disturbed
            # by the machine's drift; report the median of those too.
            if baseline(runs) in runs:
                for s, rs in runs.items():
                    ratios = [r["rps"] / h["rps"] for r, h in zip(rs, runs[baseline(runs)]) if h["rps"]]
                    results[scenario][s]["paired_ratio"] = statistics.median(ratios) if ratios else 0.0
        if not only or "idle" in only:
            results["idle"] = {}
            for server in ["rasgi", "rasgi-binary", "hyper"]:
                before, after, per = idle(server, ports[server], processes[server], args.idle_connections)
                results["idle"][server] = {"rss_before_kib": before, "rss_after_kib": after, "bytes_per_connection": per}
                print(f"idle      {server:17} {args.idle_connections} connections: {before} -> {after} KiB, {per:.0f} B each", flush=True)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    report(results, args)


def report(results, args):
    print()
    print(f"medians of {args.rounds} rounds of {args.duration}s; server on CPU 0, wrk -t1 on CPU 1")
    print("| scenario | server | req/s | p99 ms | server CPU us/req | vs hyper | per-round vs hyper |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for scenario, servers in results.items():
        if scenario == "idle":
            continue
        base = servers.get(baseline(servers), {}).get("rps")
        for server, m in servers.items():
            ratio = f"{m['rps'] / base:.2f}x" if base else "-"
            paired = f"{m['paired_ratio']:.2f}x" if "paired_ratio" in m else "-"
            print(f"| {scenario} | {server} | {m['rps']:.0f} | {m['p99_ms']:.2f} | {m['cpu_us']:.2f} | {ratio} | {paired} |")
    for server, m in results.get("idle", {}).items():
        print(f"| idle | {server} | - | - | - | {m['bytes_per_connection']:.0f} B/connection | - |")
    out = os.path.join(args.root, "target", "bench-results.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    # The chart in docs/ is the whole run's: a run of some scenarios (`--only`) leaves it be.
    if not args.only and any(s != "idle" for s in results):
        svg = os.path.join(args.root, "docs", "benchmarks.svg")
        with open(svg, "w") as f:
            f.write(chart(results))
        out += f" and {svg}"
    print(f"\nwrote {out}")


def chart(results):
    """Grouped bars: req/s relative to hyper per scenario, labelled with req/s."""
    colors = {"rasgi": "#d9480f", "rasgi-stack": "#d9480f", "rasgi-binary": "#d9480f", "hyper": "#495057", "hyper-routed": "#495057", "uvicorn-raw": "#1c7ed6", "uvicorn-starlette": "#1c7ed6"}
    scenarios = [s for s in results if s != "idle"]
    width, height, left, top, bottom = 760, 360, 60, 40, 60
    group = (width - left - 20) / max(len(scenarios), 1)
    peak = max((m["rps"] / results[s][baseline(results[s])]["rps"]) for s in scenarios for m in results[s].values()) * 1.15
    y = lambda v: top + (height - top - bottom) * (1 - v / peak)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="20" font-size="14">req/s relative to hyper (label: req/s); rasgi orange, hyper grey, uvicorn blue</text>',
             f'<line x1="{left}" y1="{y(1)}" x2="{width - 20}" y2="{y(1)}" stroke="#adb5bd" stroke-dasharray="4"/>',
             f'<text x="{left - 8}" y="{y(1) + 4}" text-anchor="end">1.0x</text>']
    for i, scenario in enumerate(scenarios):
        servers = list(results[scenario].items())
        bar = group * 0.8 / len(servers)
        for j, (server, m) in enumerate(servers):
            ratio = m["rps"] / results[scenario][baseline(results[scenario])]["rps"]
            x = left + i * group + group * 0.1 + j * bar
            parts.append(f'<rect x="{x:.1f}" y="{y(ratio):.1f}" width="{bar - 4:.1f}" height="{y(0) - y(ratio):.1f}" fill="{colors.get(server, "#868e96")}"/>')
            label = f"{m['rps'] / 1000:.0f}k" if m["rps"] >= 1000 else f"{m['rps']:.0f}"
            parts.append(f'<text x="{x + bar / 2 - 2:.1f}" y="{y(ratio) - 4:.1f}" text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{left + i * group + group / 2:.1f}" y="{height - bottom + 18}" text-anchor="middle" font-size="12">{scenario}</text>')
    parts.append(f'<line x1="{left}" y1="{y(0)}" x2="{width - 20}" y2="{y(0)}" stroke="black"/>')
    parts.append("</svg>\n")
    return "\n".join(parts)


main()
