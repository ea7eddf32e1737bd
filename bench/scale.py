#!/usr/bin/env python3
"""What one request costs each tier, and what N replicas behind nginx
would serve with a core each.

On a machine with two cores, three replicas cannot each have a core of
their own, so their throughput cannot be measured directly; this bench
measures what it can and extrapolates from it in the open:

1. one `faena serve --no-worker` on PostgreSQL, wrk straight at it;
2. N replicas (default 3) behind nginx running the shipped
   deploy/nginx.conf (TLS, as in production), wrk at nginx.

For each run: req/s, latency, and the CPU time (user + system, from
/proc) that Faena's processes, PostgreSQL's backends, nginx and wrk spent
per request. The replicas' share of the requests shows that nginx spreads
them. The extrapolation at the end: a replica with one core of its own
serves about 1 s / (Faena CPU per request); N of them N times that, as
long as PostgreSQL and nginx get the cores their per-request cost asks for
at that rate (printed).

Usage: bench/scale.py [BINARY] [REPLICAS]   (release build, PostgreSQL at
FAENA_TEST_POSTGRES_URL or 127.0.0.1:5432, Redis at FAENA_TEST_REDIS_URL,
nginx, wrk, openssl). Takes about two minutes.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True  # no __pycache__ in .ci/
sys.path.insert(0, str(ROOT / ".ci"))
from replicas import PASSWORD, Deployment, Http, login  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
SECONDS = 15
ORDER = "ORD-010000"


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def pids_named(name):
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def run_wrk(url, token, tiers):
    """wrk -t2 -c64 for SECONDS; returns its figures and each tier's CPU
    seconds over the run (tiers: name -> callable giving the pids)."""
    before = {name: cpu_seconds(pids()) for name, pids in tiers.items()}
    children = sum(os.times()[2:4])
    wrk = subprocess.Popen(
        ["wrk", "-t2", "-c64", f"-d{SECONDS}s", "--latency", "-H", f"Authorization: Bearer {token}", url],
        stdout=subprocess.PIPE, text=True,
    )
    out, _ = wrk.communicate()
    # wrk's own CPU: this process's reaped children's times.
    wrk_cpu = sum(os.times()[2:4]) - children
    after = {name: cpu_seconds(pids()) for name, pids in tiers.items()}
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    figures = {
        "req/s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": re.search(r"\s50%\s+(\S+)", out).group(1),
        "p99": re.search(r"\s99%\s+(\S+)", out).group(1),
        "requests": requests,
        "failed": int(non_2xx.group(1)) if non_2xx else 0,
        "socket errors": errors.group(1) if errors else "none",
    }
    cpu = {name: after[name] - before[name] for name in tiers}
    return figures, cpu, wrk_cpu


def report(title, figures, cpu, wrk_cpu):
    n = figures["requests"]
    print(f"\n== {title}")
    print(f"   {figures['req/s']:.0f} req/s, p50 {figures['p50']}, p99 {figures['p99']}, "
          f"{n} requests, {figures['failed']} not 2xx, socket errors: {figures['socket errors']}")
    for name, seconds in cpu.items():
        print(f"   {name:<12} {seconds:6.2f} s CPU  {seconds / n * 1e6:7.1f} µs per request")
    print(f"   {'wrk':<12} {wrk_cpu:6.2f} s CPU  {wrk_cpu / n * 1e6:7.1f} µs per request")


def main():
    binary = str(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target/release/faena").resolve())
    replicas = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    d = Deployment(binary, "redis")
    try:
        print("== demo data: 2,000 clients, 20,000 orders", flush=True)
        data = d.dir / "data"
        subprocess.run([binary, "demo", "--clients", "2000", "--orders", "20000", "--data-dir", str(data)],
                       env=d.env("demo"), check=True, stdout=subprocess.DEVNULL)
        postgres = lambda: pids_named("postgres")  # noqa: E731

        # 1. One replica, no proxy.
        port = d.start_replica("solo")
        solo = Http("127.0.0.1", port)
        solo.token = login(solo)
        solo.ok("POST", "/api/users", {"email": "jefa@bench.test", "name": "Jefa de bodega", "role": "manager", "password": PASSWORD})
        status, body, _ = Http("127.0.0.1", port).request("POST", "/api/auth/login", {"email": "jefa@bench.test", "password": PASSWORD})
        assert status == 200, body
        token = body["access_token"]
        solo_pid = d.replicas["solo"][1].pid
        figures, cpu, wrk_cpu = run_wrk(f"http://127.0.0.1:{port}/api/orders/{ORDER}", token,
                                        {"faena": lambda: [solo_pid], "postgres": postgres})
        report("one replica, wrk straight at it", figures, cpu, wrk_cpu)
        one = (figures, cpu)
        d.stop_replica("solo")
        del d.replicas["solo"]

        # 2. N replicas behind nginx.
        for i in range(1, replicas + 1):
            d.start_replica(f"r{i}")
        d.start_nginx()
        pids = {name: p.pid for name, (_, p) in d.replicas.items()}
        per_replica_before = {name: cpu_seconds([pid]) for name, pid in pids.items()}
        nginx_pids = lambda: [d.nginx.pid] + [  # noqa: E731  the master and its worker
            int(p) for p in subprocess.run(["pgrep", "-P", str(d.nginx.pid)], capture_output=True, text=True).stdout.split()]
        figures, cpu, wrk_cpu = run_wrk(f"https://127.0.0.1:{d.ng_port}/api/orders/{ORDER}", token,
                                        {"faena": lambda: list(pids.values()), "postgres": postgres, "nginx": nginx_pids})
        report(f"{replicas} replicas behind nginx (TLS), wrk at nginx", figures, cpu, wrk_cpu)
        shares = {name: cpu_seconds([pid]) - per_replica_before[name] for name, pid in pids.items()}
        total = sum(shares.values()) or 1
        print("   replicas' share of Faena's CPU: " + ", ".join(f"{n} {s / total:.0%}" for n, s in shares.items()))

        # 3. The extrapolation, from the single replica's cost.
        f1, c1 = one
        faena_us = c1["faena"] / f1["requests"] * 1e6
        pg_us = c1["postgres"] / f1["requests"] * 1e6
        nginx_us = cpu["nginx"] / figures["requests"] * 1e6
        per_core = 1e6 / faena_us
        print(f"\n== extrapolation: a replica with one core serves about {per_core:.0f} req/s "
              f"({faena_us:.0f} µs of Faena CPU per request)")
        for n in (1, replicas):
            rate = n * per_core
            print(f"   {n} replica(s) on {n} core(s): {rate:.0f} req/s, if PostgreSQL has "
                  f"{rate * pg_us / 1e6:.1f} cores and nginx {rate * nginx_us / 1e6:.1f}")
    finally:
        d.close()


if __name__ == "__main__":
    main()
