"""A stdlib web app for swarm tests: answers its release and DYNO, health on /health."""
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: without this, Nagle holds the body
    # back until the router acknowledges the headers, up to 40 ms later (delayed ACK).
    disable_nagle_algorithm = True

    def _answer(self) -> None:
        if self.path == "/slow":  # the benchmarks' slow requests
            time.sleep(0.3)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        env = os.environ
        body = f"{env.get('GREETING', 'hello')} {env['ROOST_RELEASE']} {env['DYNO']}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, fmt, *args):
        pass


server = ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler)
server.daemon_threads = True
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("listening on", os.environ["PORT"], flush=True)
server.serve_forever()
