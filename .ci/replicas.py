#!/usr/bin/env python3
"""Three `faena serve` replicas and two `faena worker`s on one PostgreSQL,
behind a real nginx running the shipped deploy/nginx.conf (only its
addresses and certificate changed), and what an operator relies on:

- a write through one replica is read through the others at once;
- a realtime event published on one reaches subscribers on all, and a
  browser's WebSocket signed in by its session cookie is accepted through
  nginx (it needs the Host, with its port, passed on);
- a replica killed with SIGKILL under load costs no failed request, and it
  rejoins;
- jobs run exactly once with two workers (each test mail delivered once);
- a rolling restart of every replica under load costs no failed request.

Usage: replicas.py BINARY redis|postgres   (the second: which bus carries
realtime events between replicas: Redis pub/sub or PostgreSQL
LISTEN/NOTIFY). Needs nginx, wrk, openssl, createdb/dropdb.
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "admin@replicas.test"
PASSWORD = "Replicas-detras-de-nginx-2026!"
PG = os.environ.get("FAENA_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("FAENA_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(message):
    print(f"FAILED: {message}", flush=True)
    raise SystemExit(1)


def check(condition, message):
    if not condition:
        fail(message)
    print(f"ok: {message}", flush=True)


class Http:
    """A small JSON client for one base URL (a replica, or nginx over TLS)."""

    def __init__(self, host, port, tls=False, token=None):
        self.host, self.port, self.tls, self.token = host, port, tls, token

    def conn(self, timeout=10):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        c = self.conn()
        h = {"accept": "application/json"}
        if self.token:
            h["authorization"] = f"Bearer {self.token}"
        if body is not None:
            h["content-type"] = "application/json"
            body = json.dumps(body)
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        res = c.getresponse()
        data = res.read()
        c.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode(errors="replace")
        return res.status, parsed, res

    def ok(self, method, path, body=None):
        status, data, _ = self.request(method, path, body)
        if status >= 300:
            fail(f"{method} {path} on :{self.port}: {status} {data}")
        return data


class Deployment:
    def __init__(self, binary, bus):
        self.binary = binary
        self.bus = bus
        self.dir = Path(tempfile.mkdtemp(prefix="faena-replicas-"))
        self.db_name = f"faena_replicas_{os.getpid()}_{bus}"
        u = urllib.parse.urlparse(PG)
        self.pg = u
        subprocess.run(["createdb", "-h", u.hostname, "-p", str(u.port or 5432), "-U", u.username or "postgres", self.db_name], check=True)
        self.db_url = u._replace(path=f"/{self.db_name}", query="sslmode=disable").geturl()
        self.replicas = {}  # name -> (port, Popen)
        self.workers = []
        self.nginx = None
        self.ng_port = free_port()
        self.logs = self.dir / "logs"
        self.logs.mkdir()

    def env(self, server_id):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("FAENA_"):
                del env[k]
        env.update({
            "FAENA_DATABASE_URL": self.db_url,
            "FAENA_SERVER_ID": server_id,
            "FAENA_ADMIN_EMAIL": EMAIL,
            "FAENA_ADMIN_PASSWORD": PASSWORD,
            "FAENA_LOG__FILTER": "warn",
            "FAENA_HTTP__TRUSTED_PROXIES": '["127.0.0.1"]',
            "FAENA_PUBLIC_URL": f"https://127.0.0.1:{self.ng_port}",
        })
        if self.bus == "redis":
            env["FAENA_REDIS_URL"] = REDIS
            env["FAENA_REDIS__CHANNEL"] = f"faena_replicas_{os.getpid()}"
        return env

    def start_replica(self, name, port=None):
        port = port or free_port()
        log = open(self.logs / f"{name}.log", "ab")
        p = subprocess.Popen(
            [self.binary, "serve", "--no-worker", "--bind", f"127.0.0.1:{port}", "--data-dir", str(self.dir / "data")],
            env=self.env(name), stdout=log, stderr=log,
        )
        self.replicas[name] = (port, p)
        self.wait_ready(name)
        return port

    def start_worker(self, name):
        log = open(self.logs / f"{name}.log", "ab")
        p = subprocess.Popen([self.binary, "worker", "--data-dir", str(self.dir / "data")], env=self.env(name), stdout=log, stderr=log)
        self.workers.append(p)

    def wait_ready(self, name, seconds=30):
        port, p = self.replicas[name]
        deadline = time.time() + seconds
        while time.time() < deadline:
            if p.poll() is not None:
                fail(f"replica {name} exited:\n{(self.logs / f'{name}.log').read_text()[-3000:]}")
            try:
                status, _, _ = Http("127.0.0.1", port).request("GET", "/api/health/ready")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        fail(f"replica {name} not ready in {seconds} s")

    def stop_replica(self, name, sig=signal.SIGTERM):
        port, p = self.replicas[name]
        p.send_signal(sig)
        p.wait(timeout=40)
        return port

    def start_nginx(self):
        """deploy/nginx.conf as shipped, with this test's addresses and a
        throwaway certificate: the upstream servers, the TLS listener, the
        certificate paths; the port-80 redirect left out."""
        conf = (ROOT / "deploy" / "nginx.conf").read_text()
        ports = [port for port, _ in self.replicas.values()]
        servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in ports)
        conf, n = re.subn(r"(upstream faena \{\n)(?:    server [^\n]+\n)+", lambda m: m.group(1) + servers, conf)
        assert n == 1, "upstream block not found in deploy/nginx.conf"
        conf, n = re.subn(r"server \{\n    listen 80;.*?\n\}\n", "", conf, flags=re.S)
        assert n == 1, "port-80 server not found"
        conf, n = re.subn(r"listen 443 ssl http2;", f"listen 127.0.0.1:{self.ng_port} ssl http2;", conf)
        assert n == 1, "TLS listener not found"
        cert, key = self.dir / "cert.pem", self.dir / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        conf = conf.replace("/etc/ssl/faena/fullchain.pem", str(cert)).replace("/etc/ssl/faena/privkey.pem", str(key))
        (self.dir / "faena.conf").write_text(conf)
        for d in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]:
            (self.dir / "nginx-tmp" / d).mkdir(parents=True, exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        main = f"""{user}worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.logs}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {self.logs}/nginx-access.log;
    client_body_temp_path {self.dir}/nginx-tmp/client_body;
    proxy_temp_path {self.dir}/nginx-tmp/proxy;
    fastcgi_temp_path {self.dir}/nginx-tmp/fastcgi;
    uwsgi_temp_path {self.dir}/nginx-tmp/uwsgi;
    scgi_temp_path {self.dir}/nginx-tmp/scgi;
    include {self.dir}/faena.conf;
}}
"""
        (self.dir / "nginx.conf").write_text(main)
        subprocess.run(["nginx", "-t", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")], check=True, capture_output=True)
        self.nginx = subprocess.Popen(["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"])
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                status, _, _ = Http("127.0.0.1", self.ng_port, tls=True).request("GET", "/api/health/ready")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        fail("nginx did not answer")

    def close(self):
        for _, p in self.replicas.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        for p in self.workers:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait()
        u = self.pg
        subprocess.run(["dropdb", "--if-exists", "-f", "-h", u.hostname, "-p", str(u.port or 5432), "-U", u.username or "postgres", self.db_name])
        shutil.rmtree(self.dir, ignore_errors=True)


def login(client):
    status, data, _ = client.request("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD})
    if status != 200:
        fail(f"login: {status} {data}")
    return data["access_token"]


class Sse(threading.Thread):
    """An EventSource on `topics`, collecting the events' data."""

    def __init__(self, client, topics):
        super().__init__(daemon=True)
        self.client, self.topics = client, topics
        self.events = []
        self.open = threading.Event()

    def run(self):
        c = self.client.conn(timeout=60)
        c.request("GET", f"/api/events?topics={self.topics}", headers={"authorization": f"Bearer {self.client.token}", "accept": "text/event-stream"})
        res = c.getresponse()
        if res.status != 200:
            self.events.append({"error": res.status})
            self.open.set()
            return
        self.open.set()
        data = []
        while True:
            line = res.fp.readline()
            if not line:
                return
            line = line.decode().rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                try:
                    self.events.append(json.loads("\n".join(data)))
                except ValueError:
                    pass
                data = []

    def saw(self, predicate, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if any(predicate(e) for e in list(self.events)):
                return True
            time.sleep(0.05)
        return False


def websocket_by_cookie(port):
    """Signs in on the login page through nginx, then opens /api/realtime
    as a browser on that page does: same Origin, the session cookie."""
    nginx = Http("127.0.0.1", port, tls=True)
    status, body, res = nginx.request("GET", "/login", headers={"accept": "text/html"})
    cookies = {}

    def keep(res):
        for k, v in res.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                cookies[name] = rest.split(";", 1)[0]

    keep(res)
    csrf = re.search(r'name="_csrf" value="([^"]+)"', body if isinstance(body, str) else "")
    if not csrf:
        fail("no CSRF token on /login")
    form = urllib.parse.urlencode({"_csrf": csrf.group(1), "email": EMAIL, "password": PASSWORD})
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    c = nginx.conn()
    c.request("POST", "/login", body=form, headers={"content-type": "application/x-www-form-urlencoded", "cookie": cookie,
                                                   "origin": f"https://127.0.0.1:{port}"})
    res = c.getresponse()
    res.read()
    if res.status not in (302, 303):
        fail(f"page sign-in through nginx: {res.status}")
    keep(res)
    c.close()
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall((f"GET /api/realtime HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: https://127.0.0.1:{port}\r\n"
                 f"Cookie: {cookie}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = raw.recv(4096)
        if not chunk:
            break
        head += chunk
    raw.close()
    return head.split(b"\r\n", 1)[0].decode(errors="replace")


def rejoined(nginx, name, seconds=20):
    """Whether nginx sends requests to the replica `name` again (it keeps a
    failed one out for the upstream's fail_timeout)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if nginx.ok("GET", "/api/system/info")["server_id"] == name:
            return True
        time.sleep(0.1)
    return False


def wrk(port, token, path, seconds, connections=16):
    """wrk through nginx, started (see wrk_result)."""
    p = subprocess.Popen(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}",
                          f"https://127.0.0.1:{port}{path}"], stdout=subprocess.PIPE, text=True)
    return p


def wrk_result(p):
    out = p.communicate()[0]
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(x) for x in sock.groups()) if sock else 0
    return int(total.group(1)) if total else 0, int(non2xx.group(1)) if non2xx else 0, errors, out


def main():
    binary, bus = sys.argv[1], sys.argv[2]
    started = time.time()
    d = Deployment(binary, bus)
    try:
        for name in ["r1", "r2", "r3"]:
            d.start_replica(name)
        d.start_worker("w1")
        d.start_worker("w2")
        d.start_nginx()
        direct = {n: Http("127.0.0.1", port) for n, (port, _) in d.replicas.items()}
        token = login(direct["r1"])
        for c in direct.values():
            c.token = token
        nginx = Http("127.0.0.1", d.ng_port, tls=True, token=token)
        print(f"== {bus} bus: 3 replicas, 2 workers, nginx on :{d.ng_port}", flush=True)

        # Requests through nginx reach every replica.
        seen = {nginx.ok("GET", "/api/system/info")["server_id"] for _ in range(30)}
        check(seen == {"r1", "r2", "r3"}, f"nginx spreads requests over the replicas ({sorted(seen)})")

        # A write on one replica, read on the others at once.
        client = direct["r1"].ok("POST", "/api/clients", {"name": "Transportes Cordillera", "email": "ops@cordillera.cl"})
        for n in ["r2", "r3"]:
            got = direct[n].ok("GET", f"/api/clients/{client['id']}")
            check(got["name"] == "Transportes Cordillera", f"a client written on r1 is read on {n}")

        # Realtime: subscribers on r2, r3 and through nginx see an order
        # created on r1.
        streams = {"r2": Sse(direct["r2"], "orders"), "r3": Sse(direct["r3"], "orders"), "nginx": Sse(nginx, "orders")}
        for s in streams.values():
            s.start()
            s.open.wait(10)
        time.sleep(0.5)
        order = direct["r1"].ok("POST", "/api/orders", {"client_id": client["id"], "lines": [{"sku": "CAJ-40", "description": "Caja", "quantity": 3}]})
        for n, s in streams.items():
            check(s.saw(lambda e: json.dumps(e).find(order["number"]) >= 0), f"the order's event from r1 reaches a subscriber on {n}")

        # A browser's WebSocket, signed in by cookie, through nginx.
        status_line = websocket_by_cookie(d.ng_port)
        check(" 101 " in status_line, f"a same-origin WebSocket with the session cookie is accepted through nginx ({status_line})")

        # SIGKILL of one replica under load.
        load = wrk(d.ng_port, token, f"/api/orders/{order['number']}", 12)
        time.sleep(4)
        port_r2 = d.stop_replica("r2", signal.SIGKILL)
        time.sleep(2)
        d.start_replica("r2", port_r2)
        total, non2xx, errors, out = wrk_result(load)
        check(total > 0 and non2xx == 0 and errors == 0, f"r2 killed under load: {total} requests, {non2xx} failed, {errors} socket errors")
        check(rejoined(nginx, "r2"), "the restarted r2 answers through nginx again")

        # Jobs exactly once with two workers: each test mail sent once.
        ids = [nginx.ok("POST", "/api/mail/test", {"to": f"prueba{i}@replicas.test"})["id"] for i in range(20)]
        deadline = time.time() + 30
        mails = []
        while time.time() < deadline:
            mails = [nginx.ok("GET", f"/api/mail/{i}") for i in ids]
            if all(m["state"] == "sent" for m in mails):
                break
            time.sleep(0.3)
        check(all(m["state"] == "sent" for m in mails), "20 test mails sent by the two workers")
        check(all(m["attempts"] == 1 for m in mails), "each mail delivered in one attempt, by one worker")
        files = list((d.dir / "data" / "mail").rglob("*.eml"))
        check(len(files) == 20, f"20 mails written, none twice ({len(files)} files)")

        # Rolling restart of every replica, one by one, under load.
        load = wrk(d.ng_port, token, f"/api/orders/{order['number']}", 25)
        time.sleep(2)
        # As an operator does it: the next one once this one serves again.
        for n in ["r1", "r2", "r3"]:
            port = d.stop_replica(n, signal.SIGTERM)
            d.start_replica(n, port)
            if not rejoined(nginx, n):
                fail(f"{n} did not serve through nginx again after its restart")
        total, non2xx, errors, out = wrk_result(load)
        check(total > 0 and non2xx == 0 and errors == 0, f"rolling restart under load: {total} requests, {non2xx} failed, {errors} socket errors")
        print(f"== {bus} bus: all checks passed in {time.time() - started:.0f} s", flush=True)
    except SystemExit:
        for f in sorted(d.logs.glob("*.log")):
            text = f.read_text(errors="replace")[-2000:]
            if text.strip():
                print(f"--- {f.name}\n{text}", flush=True)
        raise
    finally:
        d.close()


if __name__ == "__main__":
    main()
