"""An independent webhook peer for the integration tests (tests/it/webhooks.rs).

It verifies and signs with the `standardwebhooks` package from PyPI, the
Standard Webhooks reference library, not with Faena's code: what it accepts,
any receiver written to the specification accepts.

    receive   Listens on 127.0.0.1 (a free port), prints `PORT <n>`, reads
              the endpoint secret from the next line of standard input, then
              verifies each POST and prints one JSON line per request:
              {"verified": true, "payload": ..., "headers": {...}} (answered
              204) or {"verified": false, "error": "..."} (answered 400). It
              stops after the first verified request, or after 60 seconds.
    sign      `sign <secret> <msg_id> <unix seconds>` signs standard input
              and prints the `webhook-signature` value.
"""

import json
import sys
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook

DEADLINE_SECONDS = 60


def receive():
    state = {"webhook": None, "done": False}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                payload = state["webhook"].verify(body, headers)
                report = {"verified": True, "payload": payload, "headers": headers}
                status = 204
                state["done"] = True
            except Exception as e:  # report any refusal, whatever its kind
                report = {"verified": False, "error": f"{type(e).__name__}: {e}"}
                status = 400
            print(json.dumps(report), flush=True)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 0.5
    print(f"PORT {server.server_address[1]}", flush=True)
    secret = sys.stdin.readline().strip()
    state["webhook"] = Webhook(secret)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not state["done"] and time.monotonic() < deadline:
        server.handle_request()
    server.server_close()


def sign(secret, msg_id, timestamp):
    body = sys.stdin.read()
    at = datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
    print(Webhook(secret).sign(msg_id, at, body), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["receive"]:
        receive()
    elif sys.argv[1:2] == ["sign"] and len(sys.argv) == 5:
        sign(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
