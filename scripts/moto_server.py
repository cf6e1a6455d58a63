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
- (serial only) TransactWriteItems saves the items it touches for its rollback instead of a copy of
  every table it touches: moto deep-copies the whole table on every transaction (twice for a
  two-item one), so each Admit or Release of a concurrency slot cost time in proportion to the
  table, and a 1,000-job fault-harness run spent most of the emulator's time copying (RELIABILITY.md).
  The outcome is the same: the transaction runs as moto runs it, and when it is cancelled every item
  it touched is put back as it was. With requests answered one at a time nothing else can see the
  items in between, so no other request can tell the difference.

With JOBGEN_MOTO_PROFILE=FILE set, the server also counts the requests it answers and the time it
spends on them by operation (X-Amz-Target, else method and first path segment) and rewrites FILE
with the totals every 5 s: where a serial emulator's time goes (RELIABILITY.md, the fault harness).
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
serial = not (len(sys.argv) > 2 and sys.argv[2] == "threaded")
# JOBGEN_MOTO_STOCK_TRANSACTIONS=1 keeps moto's own copying rollback (to measure the difference).
if serial and not os.environ.get("JOBGEN_MOTO_STOCK_TRANSACTIONS"):
    import copy
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    transact_write_items = DynamoDBBackend.transact_write_items
    def touched(backend, transact_items):
        """Each item a transaction may write, as it is now: (table, key, attributes or None)."""
        saved, seen = [], set()
        for entry in transact_items:
            try:
                op = next(iter(entry.values()))
                table = backend.tables.get(op.get("TableName"))
                if table is None:
                    continue
                key = op.get("Key")
                if key is None:
                    names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
                    key = {n: op["Item"][n] for n in names}
                marker = (op["TableName"], repr(sorted(key.items())))
                if marker in seen:
                    continue
                seen.add(marker)
                current = backend.get_item(op["TableName"], key)
                saved.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
            except Exception:
                # A malformed entry: moto's own call rejects it, and it cannot have written that item.
                continue
        return saved
    def transact_write_items_saving_items(self, transact_items):
        saved = touched(self, transact_items)
        # moto's rollback replaces each table by its copy: with the copy being the table itself,
        # that replacement changes nothing, and the saved items are put back below.
        Table.__deepcopy__ = lambda table, memo: table
        try:
            return transact_write_items(self, transact_items)
        except Exception:
            for table_name, key, attributes in saved:
                if attributes is not None:
                    self.put_item(table_name, attributes)
                elif self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            raise
        finally:
            del Table.__deepcopy__
    DynamoDBBackend.transact_write_items = transact_write_items_saving_items
app = DomainDispatcherApplication(create_backend_app)
profile = os.environ.get("JOBGEN_MOTO_PROFILE")
if profile:
    import json
    totals, lock = {}, threading.Lock()
    inner = app
    def app(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET")
        if not target:
            # REST APIs (Scheduler, S3, Lambda): the service from the signature's credential scope.
            scope = environ.get("HTTP_AUTHORIZATION", "").split("/")
            service = scope[3] if len(scope) > 3 else "?"
            segment = environ.get("PATH_INFO", "/").strip("/").split("/")[0]
            target = f"{service} {environ.get('REQUEST_METHOD')} /{segment}"
        started = time.perf_counter()
        try:
            return inner(environ, start_response)
        finally:
            with lock:
                entry = totals.setdefault(target, [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - started
    began = time.perf_counter()
    def dump():
        while True:
            time.sleep(5)
            with lock:
                rows = sorted(((k, tuple(v)) for k, v in totals.items()), key=lambda kv: -kv[1][1])
            with open(profile + ".tmp", "w") as f:
                busy = sum(seconds for _, (_, seconds) in rows)
                json.dump({"elapsed": round(time.perf_counter() - began, 1), "busy": round(busy, 1),
                           "operations": [{"operation": k, "requests": n, "seconds": round(t, 3)} for k, (n, t) in rows]},
                          f, indent=1)
            os.replace(profile + ".tmp", profile)
    threading.Thread(target=dump, daemon=True).start()
server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=not serial, request_handler=MotoRequestHandler)
print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
