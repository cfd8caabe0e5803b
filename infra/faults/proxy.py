#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for the local stack's AWS endpoint (moto).

    proxy.py --upstream http://127.0.0.1:PORT --rate 0.1 --port-file FILE [--seed N]

Listens on a free loopback port (written to --port-file), forwards every
request to the upstream, and answers a share of them (--rate) with a fault
instead: HTTP 500, 503 SlowDown, a throttling error, or a connection reset
before any response. The request body is read in full first, so a faulted
request never reaches the upstream: retrying it is safe. GET /__faults
returns the counts by kind as JSON. Loopback only; stops on SIGTERM.
"""
import argparse
import http.client
import json
import random
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ["http_500", "slow_down_503", "throttled", "connection_reset"]
counts = {k: 0 for k in KINDS}
counts["forwarded"] = 0
lock = threading.Lock()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--log", help="append one line per request: outcome, method, path")
    args = ap.parse_args()
    up = urllib.parse.urlparse(args.upstream)
    if up.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the upstream must be on loopback")
    rng = random.Random(args.seed)
    log = open(args.log, "a", buffering=1) if args.log else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path == "/__faults":
                return self.reply(200, json.dumps(counts).encode(), "application/json")
            with lock:
                kind = rng.choice(KINDS) if rng.random() < args.rate else None
                counts[kind or "forwarded"] += 1
                if log:
                    log.write(f"{kind or 'forwarded'} {self.command} {self.path} {self.headers.get('X-Amz-Target') or ''}\n")
            if kind == "connection_reset":
                # Close without answering: the client sees a reset.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.close_connection = True
                self.connection.close()
                return
            if kind == "http_500":
                return self.reply(500, b"<Error><Code>InternalError</Code><Message>injected</Message></Error>", "application/xml")
            if kind == "slow_down_503":
                return self.reply(503, b"<Error><Code>SlowDown</Code><Message>injected</Message></Error>", "application/xml")
            if kind == "throttled":
                # JSON-protocol services (Glue, Secrets Manager, SQS) name the
                # operation in X-Amz-Target; S3 answers in XML whatever it stores.
                if self.headers.get("X-Amz-Target"):
                    return self.reply(400, b'{"__type":"ThrottlingException","message":"injected"}', "application/x-amz-json-1.0")
                return self.reply(503, b"<Error><Code>Throttling</Code><Message>injected</Message></Error>", "application/xml")
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "proxy-connection")}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        def reply(self, status, data, ctype):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # A HEAD answer has no body: bytes written after it would be read
            # as the start of the next response on this kept-alive connection.
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
