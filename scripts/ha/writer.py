#!/usr/bin/python3
"""Background writer for failover-demo.sh: one INSERT per transaction through a multi-host libpq URL, and a
line "<id> <epoch ms>" appended to --acked for every COMMIT the server acknowledged.

Runs under Debian's /usr/bin/python3 because it needs psycopg2 (python3-psycopg2, which Patroni depends on).

What counts as acknowledged: COMMIT returned without error AND without the warning "canceling wait for
synchronous replication". That warning means the commit was cancelled while waiting for the synchronous
standby (statement_timeout, pg_cancel_backend, a client-side cancel): PostgreSQL then reports COMMIT as done
although the row is durable on the primary only. This writer sets no statement_timeout for that reason; an
application that does must treat that warning as a failure.

Every attempt gets a new id, so an attempt whose outcome is unknown (the connection died during COMMIT) is
never retried into a duplicate; such ids are listed in --doubt. They may or may not exist afterwards, and
neither is a loss: they were never acknowledged.
"""
import argparse
import os
import sys
import time

import psycopg2

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--acked", required=True)
p.add_argument("--doubt", required=True)
p.add_argument("--stop-file", required=True, help="stop when this file exists")
p.add_argument("--seconds", type=float, default=120, help="stop after this long in any case")
p.add_argument("--table", default="ha_demo")
args = p.parse_args()


def now_ms():
    return int(time.time() * 1000)


deadline = time.monotonic() + args.seconds
acked = open(args.acked, "a", buffering=1)
doubt = open(args.doubt, "a", buffering=1)
conn = None
next_id = 1
errors = 0
last_error = ""
while time.monotonic() < deadline and not os.path.exists(args.stop_file):
    if conn is None:
        try:
            conn = psycopg2.connect(args.url)  # libpq: tries each host, keeps the read-write one
        except psycopg2.Error as e:
            errors += 1
            last_error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            time.sleep(0.05)
            continue
    rid = next_id
    next_id += 1
    try:
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {args.table} (id, writer_ms) VALUES (%s, %s)", (rid, now_ms()))
        del conn.notices[:]
        conn.commit()
        if any("synchronous replication" in n for n in conn.notices):
            doubt.write(f"{rid} {now_ms()} sync-wait-cancelled\n")
        else:
            acked.write(f"{rid} {now_ms()}\n")
    except psycopg2.Error as e:
        errors += 1
        last_error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        doubt.write(f"{rid} {now_ms()} {type(e).__name__}\n")
        try:
            conn.close()
        except psycopg2.Error:
            pass
        conn = None
        time.sleep(0.05)
if conn is not None:
    conn.close()
print(f"writer: attempts {next_id - 1}, errors {errors}, last error: {last_error or '-'}", file=sys.stderr)
