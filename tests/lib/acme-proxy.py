#!/usr/bin/env python3
"""acme-proxy.py - an ACME CA that lies: an HTTPS proxy on loopback in
front of a real Pebble, for the tests of what pki-acme does when the CA
limits it (Pebble has no rate limits of its own).

    acme-proxy.py PORT UPSTREAM CERT KEY CA STATE_DIR

Every request goes to UPSTREAM (Pebble's https://127.0.0.1:N) with this
proxy's Host (Pebble checks a JWS's "url" against it), and
UPSTREAM in the answer (body, Location, Link) is rewritten to this
proxy, so that the client never talks to Pebble directly.  While
STATE_DIR/limit exists, a POST to the directory's newOrder is answered
with its contents: "STATUS SECONDS [TYPE]", e.g. "429 5 rateLimited":
that HTTP status, Retry-After SECONDS (0: none) and a problem document
of urn:ietf:params:acme:error:TYPE, with a fresh nonce from Pebble.
Each POST to newOrder (refused or not) appends a line to
STATE_DIR/neworders.
"""
import http.server
import json
import os
import ssl
import sys
import urllib.request

PORT, UPSTREAM, CERT, KEY, CA, STATE = sys.argv[1:7]
SELF = "https://127.0.0.1:%s" % PORT
CTX = ssl.create_default_context(cafile=CA)


def upstream(method, path, body=None, headers=None):
    req = urllib.request.Request(UPSTREAM + path, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=CTX, timeout=30) as r:
            return r.status, r.getheaders(), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.items(), e.read()


def new_order_path():
    _, _, body = upstream("GET", "/dir")
    return json.loads(body)["newOrder"][len(UPSTREAM):]


class Proxy(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, headers, body):
        body = body.replace(UPSTREAM.encode(), SELF.encode())
        self.send_response(status)
        for k, v in headers:
            if k.lower() in ("content-length", "transfer-encoding",
                             "connection", "date", "server"):
                continue
            self.send_header(k, v.replace(UPSTREAM, SELF))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def limited(self):
        try:
            with open(os.path.join(STATE, "limit")) as f:
                words = f.read().split()
        except FileNotFoundError:
            return False
        status, secs = int(words[0]), int(words[1])
        kind = words[2] if len(words) > 2 else "rateLimited"
        _, hdrs, _ = upstream("HEAD", "/nonce-plz")
        nonce = dict((k.lower(), v) for k, v in hdrs)["replay-nonce"]
        body = json.dumps({"type": "urn:ietf:params:acme:error:" + kind,
                           "detail": "too many new orders (acme-proxy)",
                           "status": status}).encode()
        headers = [("Content-Type", "application/problem+json"),
                   ("Replay-Nonce", nonce)]
        if secs > 0:
            headers.append(("Retry-After", str(secs)))
        self.answer(status, headers, body)
        return True

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if self.command == "POST" and self.path == NEW_ORDER:
            with open(os.path.join(STATE, "neworders"), "a") as f:
                f.write("POST\n")
            if self.limited():
                return
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("content-type", "accept")}
        headers["Host"] = "127.0.0.1:%s" % PORT  # the URL signed in JWSs
        self.answer(*upstream(self.command, self.path, body, headers))

    do_GET = do_POST = do_HEAD = forward


NEW_ORDER = new_order_path()
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Proxy)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(CERT, KEY)
server.socket = tls.wrap_socket(server.socket, server_side=True)
open(os.path.join(STATE, "ready"), "w").close()
server.serve_forever()
