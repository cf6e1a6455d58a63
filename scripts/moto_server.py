#!/usr/bin/env python3
"""The AWS emulator as jobgen runs it: moto's own server, with two changes.

Usage: python scripts/moto_server.py PORT [serial|threaded]   (from the tools venv)

PORT 0 takes a free port. Either way the first line on stdout, `listening on 127.0.0.1:PORT`, is
printed once the socket is bound and listening, so a caller that waits for it never races another
process for the port or mistakes a TCP self-connect for a server.

- `serial` (the default) answers one request at a time. Stock moto answers each request on its own
  thread, and its DynamoDB backend checks a condition (or a transaction's conditions) and writes
  without a lock, so two concurrent conditional writes to one item can both pass, which DynamoDB
  never allows. jobgen's exactly-once launches and concurrency limits rest on those conditions, so
  `make demo`, the README's `jobgen dev` recipe and the exactly-once tests use a serial server.
- A watchdog exits the server when the process that started it is gone, so a test binary or a demo
  that dies never leaves a server running.
"""
import os, sys, threading, time
parent = os.getppid()
def watchdog():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watchdog, daemon=True).start()
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
server = make_server("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app),
                     threaded=len(sys.argv) > 2 and sys.argv[2] == "threaded", request_handler=MotoRequestHandler)
print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
