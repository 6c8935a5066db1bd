#!/usr/bin/env python3
"""`make ha` (and, with --short, the HA step of `make test`): issue 20's "Done when", end to end, on loopback.

    scenario.py --bin DIR [--short] [--phases LIST] [--writers N] [--keep] [--json-out FILE]

Starts etcd + a 2-node Patroni cluster for region us (cluster.py: synchronous_mode_strict), one plain PostgreSQL
(scripts/pg.sh) holding the control plane and region eu2, two scim-region replicas for us on the cluster's
multi-host URL (target_session_attrs=read-write), one for eu2, and a gateway that knows both us replicas
(--region-backends us=A|B; default health interval, default 2 s drain on SIGTERM). Creates a us and an eu2 tenant
with scimctl, then runs an IdP-like load through the gateway: --writers connections (keep-alive, one request at a
time each) creating us users with unique userNames, half of them looking the userName up first (as Okta and Entra ID
do) and every 4th create read back at once (an IdP reads right after it writes); plus one eu2 connection alternating
creates and reads. Meanwhile, in the order of --phases (default failover, replica-kill, rolling, failover; --short:
failover, replica-kill):

  failover      cluster.py kill-primary (SIGKILL of the primary's postmaster) -> Patroni promotes the synchronous
                standby. Measured: kill -> the first acknowledged create after the longest pause between
                acknowledgements (goal <= 15 s). Every answer must be 2xx or 503 + Retry-After. The phase ends when
                the cluster is whole again (a leader with a streaming synchronous standby) and a create sent after
                that was acknowledged. A second failover goes back to the first node.
  replica-kill  SIGKILL of one us scim-region replica (by PID), restarted on its port 1 s later: only requests the
                gateway logged as in flight on it ("region call failed", may_have_reached, matched by X-Request-Id)
                may fail, and only with 503 + Retry-After.
  rolling       both us replicas in turn: SIGTERM, wait for the exit, start again, wait until the gateway probes it
                ready and sends it traffic: 0 failed requests.

Then every acknowledged create (201 with an id) is looked up in the us database on the current primary (0 lost),
the creates acknowledged near a fault and 100 others are read back through the gateway, and each node's copy is
counted. The eu2 tenant must see only 2xx throughout (its latency is printed). Each answer counts in the phase it
ended in; outside the fault phases every request must be 2xx. A summary table is printed; exit 0 when every goal
is met, 1 when one is missed (or the deadline passed), 2 on a setup error, 130 on SIGINT/SIGTERM/SIGHUP.

A failure, anywhere: any status other than 2xx and 503-with-Retry-After (500, 502, 504, 409, a 404 on a read-back,
...), a client timeout (30 s), a connection error. The load retries after a 503 within 0.2 s rather than after
Retry-After (5 s), so the recovery time is measured to within a fraction of a second; a real IdP waits longer.

Runs as root (PostgreSQL refuses root: the servers run as the postgres user, which cluster.py needs root to do).
Everything binds 127.0.0.1, lives under one /tmp/scim-ha-* directory (removed on success; on failure its logs are
kept; --keep keeps everything), is bounded in time (--deadline), and is stopped by PID on every exit path (SIGTERM
first, SIGKILL after 15 s; cluster.py stop and pg.sh stop for the databases), Ctrl-C, SIGTERM and SIGHUP included.
Standard library only.
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HA = os.path.join(ROOT, "scripts", "ha")
PG_SH = os.path.join(ROOT, "scripts", "pg.sh")
CLUSTER = [sys.executable, os.path.join(HA, "cluster.py")]
PSQL = "/usr/lib/postgresql/15/bin/psql"

FAILOVER_GOAL_MS = 15000
CLIENT_TIMEOUT = 30.0          # above the gateway's own upstream timeout (20 s): a hang shows as a timeout here


class Interrupted(Exception):
    pass


class SetupError(Exception):
    pass


def now():
    return time.time()


T0 = now()


def say(msg):
    print(f"ha [{now() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


# --- the run's processes ----------------------------------------------------------------------------------------

class Run:
    """Everything this run started: child processes by PID (Popen objects), the cluster and PostgreSQL dirs."""

    def __init__(self, top, bin_dir):
        self.top = top
        self.bin = bin_dir
        self.procs = {}            # name -> Popen (only ours; signalled by PID)
        self.helper = None         # a cluster.py / pg.sh run in progress (stopped first on an interrupt)
        self.cluster_dir = os.path.join(top, "us-cluster")
        self.pg_dir = os.path.join(top, "pg")
        self.cluster_started = False
        self.pg_started = False
        self.load = None           # the load threads, once started (stopped before the processes)
        self.pg_proc = None        # pg.sh start, while it runs beside cluster.py start

    def path(self, name):
        return os.path.join(self.top, name)

    def spawn(self, name, argv, env=None):
        log = open(self.path(name + ".log"), "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, close_fds=True, env=env)
        log.close()
        self.procs[name] = p
        return p

    def helper_run(self, argv, timeout, capture=True):
        """Runs a helper script (cluster.py, pg.sh, scimctl, psql) to completion, bounded; returns (rc, stdout)."""
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if capture else None,
                             stderr=None, text=True)
        self.helper = p   # left set if an interrupt cuts this short: stop_all then stops it first
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_pid(p, 10)
            raise SetupError(f"{' '.join(argv[:3])} did not finish in {timeout:.0f} s")
        self.helper = None
        return p.returncode, out or ""

    def stop_all(self):
        # A helper interrupted half-way (e.g. cluster.py start): SIGINT first, which cluster.py turns into its
        # own clean-up, then SIGTERM/SIGKILL.
        if self.helper is not None and self.helper.poll() is None:
            self.helper.send_signal(signal.SIGINT)
            try:
                self.helper.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_pid(self.helper, 10)
        # Gateway first (no new requests), then the regions; all SIGTERMs at once so the drains overlap.
        order = sorted(self.procs.items(), key=lambda kv: 0 if kv[0] == "gateway" else 1)
        for _, p in order:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in order:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                say(f"{name} (pid {p.pid}) ignored SIGTERM for 15 s: SIGKILL")
                p.kill()
                p.wait(timeout=5)
        problems = [f"{name} (pid {p.pid}) still running" for name, p in order if p.poll() is None]
        if self.cluster_started or os.path.exists(os.path.join(self.cluster_dir, "state.json")):
            # By the PIDs cluster.py recorded: Patroni (SIGTERM; it stops its PostgreSQL), then etcd.
            if subprocess.run(CLUSTER + ["stop", self.cluster_dir], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, timeout=120).returncode != 0:
                problems.append(f"cluster.py stop {self.cluster_dir} failed")
        if self.pg_proc is not None and self.pg_proc.poll() is None:
            # pg.sh start still running (interrupted during the cluster's start): let it finish, then stop it.
            try:
                self.pg_proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stop_pid(self.pg_proc, 10)
        if self.pg_started or os.path.exists(os.path.join(self.pg_dir, "data", "PG_VERSION")):
            r = subprocess.run([PG_SH, "stop", self.pg_dir], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, timeout=60)
            if r.returncode != 0:
                problems.append(f"pg.sh stop {self.pg_dir} failed: {r.stderr.strip()[-300:]}")
        if problems:
            raise RuntimeError("; ".join(problems))


def stop_pid(p, grace):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def wait_port_file(run, name, timeout=60):
    path = run.path(name + ".port")
    p = run.procs[name]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = open(path).read().strip()
            if text:
                return int(text)
        except (OSError, ValueError):
            pass
        if p.poll() is not None:
            break
        time.sleep(0.05)
    raise SetupError(f"{name} did not start (exit {p.poll()}):\n{tail(run.path(name + '.log'))}")


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# --- HTTP ----------------------------------------------------------------------------------------------------------

def http_get(port, path, timeout=2.0):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError:
        return 0, ""


METRIC = re.compile(r'^(\w+)\{([^}]*)\} (\S+)$')


def replica_metrics(admin_port):
    """{(name, region, replica): value} for the gateway's per-replica series (scim_gateway_replica_*)."""
    status, text = http_get(admin_port, "/metrics")
    out = {}
    if status != 200:
        return out
    for line in text.splitlines():
        m = METRIC.match(line)
        if not m or not m.group(1).startswith("scim_gateway_replica_"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        try:
            out[(m.group(1)[len("scim_gateway_replica_"):], labels.get("region"), labels.get("replica"))] = \
                float(m.group(3))
        except ValueError:
            pass
    return out


def replica_value(admin_port, name, port):
    return replica_metrics(admin_port).get((name, "us", f"127.0.0.1:{port}"))


def wait_until(timeout, cond, step=0.1):
    """Seconds until cond() held, or None after timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(step)
    return None


# --- load ----------------------------------------------------------------------------------------------------------

class Sample:
    __slots__ = ("region", "kind", "rid", "user_name", "t0", "t1", "status", "retry_after", "res_id", "error")

    def __init__(self, region, kind, rid, user_name, t0, t1, status, retry_after, res_id, error):
        self.region, self.kind, self.rid, self.user_name = region, kind, rid, user_name
        self.t0, self.t1, self.status, self.retry_after, self.res_id, self.error = t0, t1, status, retry_after, \
            res_id, error

    @property
    def ok(self):
        return 200 <= self.status <= 299

    @property
    def retryable(self):
        """503 with a Retry-After: what an IdP is told to come back later for."""
        return self.status == 503 and self.retry_after is not None


class Client:
    """One IdP connection: keep-alive, one request at a time, a new connection after any error."""

    def __init__(self, port, token):
        self.port, self.token, self.conn = port, token, None

    def send(self, method, path, body=None, request_id=None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/scim+json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        if request_id:
            headers["X-Request-Id"] = request_id
        t0 = now()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            payload = r.read()
            status, retry_after = r.status, r.getheader("Retry-After")
            if r.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            res_id = None
            if status == 201:
                try:
                    res_id = json.loads(payload).get("id")
                except ValueError:
                    pass
            return t0, now(), status, retry_after, res_id, None
        except (OSError, http.client.HTTPException) as e:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return t0, now(), 0, None, None, type(e).__name__


def user_body(name):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
            "name": {"givenName": "Ha", "familyName": "Load"},
            "emails": [{"value": name, "type": "work", "primary": True}], "active": True}


class Load:
    def __init__(self, port, us_token, eu_token, writers, think_ms, tag):
        self.port, self.us_token, self.eu_token = port, us_token, eu_token
        self.writers, self.think = writers, think_ms / 1000.0
        self.tag = tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.samples = []
        self.threads = []

    def record(self, s):
        with self.lock:
            self.samples.append(s)

    def snapshot(self):
        with self.lock:
            return list(self.samples)

    def writer(self, w):
        c = Client(self.port, self.us_token)
        n = 0
        while not self.stop.is_set():
            n += 1
            name = f"{self.tag}-w{w}-{n}@ha.example"
            rid = f"ha-{self.tag}-w{w}-{n}"
            if w % 2 == 0:
                # Half the connections look the user up first, as Okta and Entra ID do before a create.
                q = urllib.parse.quote(f'userName eq "{name}"')
                t0, t1, st, ra, _, err = c.send("GET", f"/scim/v2/Users?filter={q}", None, rid + "-q")
                self.record(Sample("us", "lookup", rid + "-q", name, t0, t1, st, ra, None, err))
                if not (200 <= st <= 299):
                    self.stop.wait(0.2)
                    continue
            t0, t1, st, ra, res_id, err = c.send("POST", "/scim/v2/Users", user_body(name), rid)
            self.record(Sample("us", "create", rid, name, t0, t1, st, ra, res_id, err))
            if st == 201 and res_id and n % 4 == 0 and not self.stop.is_set():
                # Read-your-writes, as IdPs do right after a create: must be 200 (or 503 while a fault lasts).
                t0, t1, st2, ra2, _, err2 = c.send("GET", f"/scim/v2/Users/{res_id}", None, rid + "-r")
                self.record(Sample("us", "read", rid + "-r", name, t0, t1, st2, ra2, None, err2))
            if st == 503 or st == 0:
                self.stop.wait(0.2)
            elif self.think:
                self.stop.wait(self.think)

    def eu(self):
        c = Client(self.port, self.eu_token)
        n = 0
        last = None
        while not self.stop.is_set():
            n += 1
            rid = f"ha-{self.tag}-eu-{n}"
            if last is None or n % 2 == 1:
                name = f"{self.tag}-eu-{n}@ha.example"
                t0, t1, st, ra, res_id, err = c.send("POST", "/scim/v2/Users", user_body(name), rid)
                self.record(Sample("eu2", "create", rid, name, t0, t1, st, ra, res_id, err))
                if res_id:
                    last = res_id
            else:
                t0, t1, st, ra, _, err = c.send("GET", f"/scim/v2/Users/{last}", None, rid)
                self.record(Sample("eu2", "read", rid, None, t0, t1, st, ra, None, err))
            self.stop.wait(0.02)

    def start(self):
        for w in range(self.writers):
            self.threads.append(threading.Thread(target=self.writer, args=(w,), daemon=True, name=f"writer-{w}"))
        self.threads.append(threading.Thread(target=self.eu, daemon=True, name="eu2"))
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=CLIENT_TIMEOUT + 5)


# --- helpers around the cluster --------------------------------------------------------------------------------------

def cluster_status(run):
    r = subprocess.run(CLUSTER + ["status", run.cluster_dir, "--json"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=30)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"healthy": False}


def psql_lines(url, sql, timeout=30):
    r = subprocess.run([PSQL, "-X", "-A", "-t", "-q", "-F", " ", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="3"))
    if r.returncode != 0:
        raise SetupError(f"psql: {r.stderr.strip()[:300]}")
    return [l for l in r.stdout.splitlines() if l.strip()]


def rewind_ms(patroni_log, offset):
    """How long the old primary's pg_rewind took (ms) in the Patroni log written since `offset`, or None when it
    rejoined without one. It needs one when it had WAL the standby never received (commits in flight at the kill,
    never acknowledged); the standby's commits wait for it meanwhile (synchronous_mode_strict)."""
    if not patroni_log:
        return None
    try:
        with open(patroni_log, errors="replace") as f:
            f.seek(offset)
            text = f.read()
    except OSError:
        return None
    stamp = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) INFO: "
    start = re.search(stamp + r"running pg_rewind from", text, re.M)
    done = re.search(stamp + r"pg_rewind exit code", text, re.M)
    if not start or not done:
        return None
    t = [time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000 for m in (start, done)]
    return round((t[1] - t[0]) * 1000)


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


# --- the scenario -----------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory holding scim-gateway, scim-region, scimctl")
    ap.add_argument("--short", action="store_true", help="the make test version: failover and replica-kill, brief")
    ap.add_argument("--phases", help="comma-separated, in order, repeats allowed: failover, replica-kill, rolling "
                                     "(default failover,replica-kill,rolling,failover; --short: failover,replica-kill)")
    ap.add_argument("--writers", type=int, default=8, help="us connections creating users (default 8)")
    ap.add_argument("--think-ms", type=float, default=10, help="pause after each acknowledged create (default 10)")
    ap.add_argument("--deadline", type=float, help="whole run, seconds (default 600; --short 300)")
    ap.add_argument("--keep", action="store_true", help="keep the run directory (logs, data) even on success")
    ap.add_argument("--json-out", help="also write the figures here as JSON")
    args = ap.parse_args()
    phases = (args.phases or ("failover,replica-kill" if args.short
                              else "failover,replica-kill,rolling,failover")).split(",")
    for p in phases:
        if p not in ("failover", "replica-kill", "rolling"):
            ap.error(f"unknown phase {p}")
    settle = 2.0 if args.short else 5.0      # steady load between phases
    warmup = 4.0 if args.short else 10.0
    deadline = args.deadline or (300 if args.short else 600)

    if os.geteuid() != 0:
        print("ha: needs root (the PostgreSQL servers run as the postgres user)", file=sys.stderr)
        return 2
    for exe in ("scim-gateway", "scim-region", "scimctl"):
        if not os.access(os.path.join(args.bin, exe), os.X_OK):
            print(f"ha: {args.bin}/{exe} missing (swift build -c release)", file=sys.stderr)
            return 2

    top = tempfile.mkdtemp(prefix="scim-ha-", dir="/tmp")
    os.chmod(top, 0o755)   # the postgres user must reach the cluster directories below
    run = Run(top, args.bin)

    def on_signal(sig, _frame):
        raise Interrupted(signal.Signals(sig).name)

    def on_alarm(_sig, _frame):
        raise Interrupted(f"deadline of {deadline:.0f} s reached")

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(deadline))

    say(f"run directory {top}; phases {', '.join(phases)}; binaries {args.bin}")
    result = None
    rc = 2
    try:
        result = scenario(run, args, phases, settle, warmup)
        rc = 0 if result["passed"] else 1
    except Interrupted as e:
        say(f"interrupted: {e}")
        rc = 130 if "SIG" in str(e) else 1
    except (SetupError, subprocess.TimeoutExpired) as e:
        say(f"setup failed: {e}")
        rc = 2
    finally:
        signal.alarm(0)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)   # the clean-up itself must not be cut short
        if run.load is not None:
            run.load.finish()
        say("stopping everything this run started")
        try:
            run.stop_all()
        except Exception as e:  # noqa: BLE001 - report, then still decide about the directory
            say(f"clean-up problem: {e}")
            rc = rc or 1
        if result is not None and args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(result["figures"], f, indent=2)
        if args.keep:
            say(f"kept {top}")
        elif rc == 0:
            shutil.rmtree(top, ignore_errors=True)
        else:
            # Logs only: the data directories (~300 MB a run) are of no use once the servers are gone.
            for data in [os.path.join(run.pg_dir, "data"), os.path.join(run.cluster_dir, "etcd")] + \
                    [os.path.join(run.cluster_dir, n, "data") for n in ("us-1", "us-2")]:
                shutil.rmtree(data, ignore_errors=True)
            say(f"kept the logs in {top} (*.log, us-cluster/*/patroni.log, us-cluster/*/pg_log/)")
    return rc


def scenario(run, args, phases, settle, warmup):
    bin_ = run.bin
    # --- PostgreSQL: the us cluster (Patroni + etcd) and the plain one, started side by side.
    say("starting etcd + 2 Patroni nodes (region us) and a plain PostgreSQL (control plane, eu2)")
    rc, _ = run.helper_run(CLUSTER + ["install"], 900, capture=False)
    if rc != 0:
        raise SetupError("cluster.py install failed (Patroni/etcd not installable)")
    pg = subprocess.Popen([PG_SH, "start", run.pg_dir], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    run.pg_proc = pg
    run.pg_started = True
    run.cluster_started = True
    rc, out = run.helper_run(CLUSTER + ["start", run.cluster_dir, "--nodes", "2", "--name", "us",
                                        "--database", "scim_us", "--timeout", "150"], 200)
    try:
        _, pg_err = pg.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        stop_pid(pg, 5)
        raise SetupError("pg.sh start did not finish in 60 s")
    if rc != 0:
        raise SetupError("cluster.py start failed (see above)")
    if pg.returncode != 0:
        raise SetupError(f"pg.sh start failed: {pg_err.strip()[-500:]}")
    cluster = json.load(open(os.path.join(run.cluster_dir, "cluster.json")))
    env = {}
    for line in open(os.path.join(run.pg_dir, "env")):
        m = re.match(r"export (\w+)=(.*)", line.strip())
        if m:
            env[m.group(1)] = m.group(2)
    pg_port = env["SCIM_PG_PORT"]
    for db in ("scim_control", "scim_eu2"):
        rc, _ = run.helper_run([PG_SH, "createdb", run.pg_dir, db], 60)
        if rc != 0:
            raise SetupError(f"createdb {db} failed")
    plain = lambda db: f"postgresql://scim@127.0.0.1:{pg_port}/{db}"  # noqa: E731
    say(f"us cluster: {cluster['app_url']}")

    # --- processes
    keyring = run.path("keyring")
    rc, _ = run.helper_run([os.path.join(bin_, "scimctl"), "keyring", "init", keyring], 30)
    if rc != 0:
        raise SetupError("scimctl keyring init failed")
    region_ports = {}

    def start_region(name, region, url, port=0):
        try:
            os.unlink(run.path(name + ".port"))
        except FileNotFoundError:
            pass
        run.spawn(name, [os.path.join(bin_, "scim-region"), "--region", region,
                         "--regions-dir", os.path.join(ROOT, "Regions"), "--listen", f"127.0.0.1:{port}",
                         "--port-file", run.path(name + ".port"), "--database-url", url,
                         "--keyring-file", keyring, "--log-level", "info"])
        return wait_port_file(run, name)

    # One us replica first (it applies the migrations), then the second and eu2.
    region_ports["us-1"] = start_region("us-1", "us", cluster["app_url"])
    region_ports["us-2"] = start_region("us-2", "us", cluster["app_url"])
    region_ports["eu2"] = start_region("eu2", "eu2", plain("scim_eu2"))
    us_ports = [region_ports["us-1"], region_ports["us-2"]]
    backends = (f"us=http://127.0.0.1:{us_ports[0]}|http://127.0.0.1:{us_ports[1]},"
                f"eu2=http://127.0.0.1:{region_ports['eu2']}")
    run.spawn("gateway", [os.path.join(bin_, "scim-gateway"), "--listen", "127.0.0.1:0",
                          "--port-file", run.path("gateway.port"), "--admin-listen", "127.0.0.1:0",
                          "--admin-port-file", run.path("admin.port"), "--admin-token-file", run.path("admin-token"),
                          "--control-database-url", plain("scim_control"), "--keyring-file", keyring,
                          "--regions-dir", os.path.join(ROOT, "Regions"), "--region-backends", backends,
                          "--tenant-rate", "0", "--allow-any-host", "--log-level", "info"])
    gw_port = wait_port_file(run, "gateway")
    for _ in range(100):
        if os.path.exists(run.path("admin.port")) and open(run.path("admin.port")).read().strip():
            break
        time.sleep(0.1)
    admin_port = int(open(run.path("admin.port")).read().strip())
    if wait_until(30, lambda: all(replica_value(admin_port, "up", p) == 1 for p in us_ports)) is None:
        raise SetupError("the gateway never saw both us replicas ready")
    say(f"gateway 127.0.0.1:{gw_port} (admin {admin_port}); us replicas {us_ports}; eu2 {region_ports['eu2']}")

    def scimctl(*argv):
        rc, out = run.helper_run([os.path.join(bin_, "scimctl"), "--url", f"http://127.0.0.1:{admin_port}",
                                  "--admin-token-file", run.path("admin-token"), "--json"] + list(argv), 60)
        if rc != 0:
            raise SetupError(f"scimctl {' '.join(argv)} failed")
        return json.loads(out)

    tenants = {}
    for region in ("us", "eu2"):
        created = scimctl("tenant", "create", f"ha-{region}", "--region", region, "--rate", "0")
        tenants[region] = (created["tenant"]["id"], created["token"]["token"])
    say(f"tenants: us {tenants['us'][0]}, eu2 {tenants['eu2'][0]}")

    # --- load and faults
    tag = f"{int(now()) % 100000}"
    load = Load(gw_port, tenants["us"][1], tenants["eu2"][1], args.writers, args.think_ms, tag)
    run.load = load
    marks = [("warm-up", now())]
    events = {}
    load.start()
    time.sleep(warmup)
    if not any(s.ok and s.region == "us" and s.kind == "create" for s in load.snapshot()):
        raise SetupError("no us write acknowledged during the warm-up")

    node_logs = {n["name"]: n["log"] for n in cluster["nodes"]}

    def failover(label):
        old = cluster_status(run).get("leader")
        log_from = os.path.getsize(node_logs[old]) if old in node_logs else 0
        marks.append((label, now()))
        r = subprocess.run(CLUSTER + ["kill-primary", run.cluster_dir], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=30)
        if r.returncode != 0:
            raise SetupError(f"kill-primary failed: {r.stderr.strip()}")
        kill = json.loads(r.stdout)
        kill_t = kill["at_ms"] / 1000.0
        say(f"{label}: SIGKILL of the us primary's postmaster ({old}, pid {kill['pid']})")
        healthy_t = leader_t = new_leader = None
        resumed = None
        limit = time.monotonic() + 60
        # Done when the cluster is whole again (a leader with a streaming synchronous standby) and a create sent
        # after that was acknowledged.
        while time.monotonic() < limit:
            st = cluster_status(run)
            if leader_t is None and st.get("leader") and st.get("leader") != old:
                leader_t, new_leader = now(), st["leader"]
            if healthy_t is None and st.get("healthy") and st.get("leader") != old:
                healthy_t = now()
            if healthy_t is not None:
                resumed = next((s for s in load.snapshot() if s.region == "us" and s.kind == "create" and s.ok
                                and s.t0 >= healthy_t), None)
                if resumed:
                    break
            time.sleep(0.25)
        e = events[label] = {"kind": "failover", "kill_t": kill_t, "old": old, "new": new_leader,
                             "leader_ms": round((leader_t - kill_t) * 1000) if leader_t else None,
                             "healthy_ms": round((healthy_t - kill_t) * 1000) if healthy_t else None,
                             "rewind_ms": rewind_ms(node_logs.get(old), log_from), "ok": resumed is not None}
        if resumed is None:
            say(f"{label}: writes did not resume within 60 s")
        else:
            say(f"{label}: new primary {new_leader} (Patroni leader {e['leader_ms']} ms, cluster whole again "
                f"{e['healthy_ms']} ms after the kill); writes acknowledged again")

    def replica_kill(label):
        victim, port = "us-2", us_ports[1]
        p = run.procs[victim]
        marks.append((label, now()))
        kill_t = now()
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
        say(f"{label}: SIGKILL of {victim} (pid {p.pid}, 127.0.0.1:{port})")
        down = wait_until(10, lambda: replica_value(admin_port, "up", port) == 0, 0.05)
        time.sleep(1.0)
        restart_t = now()
        start_region(victim, "us", cluster["app_url"], port)
        up = wait_until(20, lambda: replica_value(admin_port, "up", port) == 1, 0.05)
        served = replica_value(admin_port, "answers_total", port) or 0
        traffic = wait_until(10, lambda: (replica_value(admin_port, "answers_total", port) or 0) > served, 0.05)
        e = events[label] = {"kind": "replica-kill", "kill_t": kill_t, "port": port,
                             "marked_down_ms": round(down * 1000) if down is not None else None,
                             "ready_after_restart_ms": round((now() - restart_t) * 1000) if up is not None else None,
                             "ok": up is not None and traffic is not None}
        say(f"{label}: marked down by the gateway after {e['marked_down_ms']} ms; restarted, probed ready after "
            f"{e['ready_after_restart_ms']} ms, serving again: {e['ok']}")

    def rolling(label):
        marks.append((label, now()))
        steps = []
        for name, port in (("us-1", us_ports[0]), ("us-2", us_ports[1])):
            p = run.procs[name]
            t = time.monotonic()
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                raise SetupError(f"{name} did not exit within 30 s of SIGTERM")
            stopped = time.monotonic() - t
            start_region(name, "us", cluster["app_url"], port)
            up = wait_until(20, lambda: replica_value(admin_port, "up", port) == 1, 0.05)
            served = replica_value(admin_port, "answers_total", port) or 0
            traffic = wait_until(10, lambda: (replica_value(admin_port, "answers_total", port) or 0) > served, 0.05)
            steps.append({"replica": name, "stopped_ms": round(stopped * 1000),
                          "ready_ms": round(up * 1000) if up is not None else None, "serving": traffic is not None})
            say(f"{label}: {name} exited {steps[-1]['stopped_ms']} ms after SIGTERM, probed ready "
                f"{steps[-1]['ready_ms']} ms after its start")
            if up is None or traffic is None:
                break
        events[label] = {"kind": "rolling", "steps": steps,
                         "ok": len(steps) == 2 and all(s["ready_ms"] is not None and s["serving"] for s in steps)}

    seen = {}
    for name in phases:
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}-{seen[name]}"
        if not all(e["ok"] for e in events.values()):
            say(f"{label}: skipped (the previous fault did not recover)")
            continue
        {"failover": failover, "replica-kill": replica_kill, "rolling": rolling}[name](label)
        time.sleep(settle)

    load.finish()
    samples = load.snapshot()
    say(f"load stopped: {len(samples)} requests")

    # --- verification: every acknowledged create on the current primary, a sample read back through the gateway.
    healthy = wait_until(60, lambda: cluster_status(run).get("healthy", False), 0.5) is not None
    us_tenant = tenants["us"][0]
    acked = {s.res_id: s.user_name for s in samples if s.region == "us" and s.kind == "create" and s.status == 201
             and s.res_id}
    rows = psql_lines(cluster["admin_url"], "SELECT id::text, user_name FROM users WHERE tenant_id = "
                                            f"'{us_tenant}'::uuid AND deleted_at IS NULL")
    stored = dict(l.split(" ", 1) for l in rows)
    lost = sorted(set(acked) - set(stored))
    unacked_names = {s.user_name for s in samples if s.region == "us" and s.kind == "create" and s.status != 201}
    unacked_present = len(unacked_names & set(stored.values()))
    per_node = {}
    for node in cluster["nodes"]:
        url = f"postgresql://postgres@127.0.0.1:{node['pg_port']}/scim_us?connect_timeout=3"
        try:
            ids = {l.split(" ", 1)[0] for l in psql_lines(url, "SELECT id::text, 1 FROM users WHERE tenant_id = "
                                                                f"'{us_tenant}'::uuid AND deleted_at IS NULL")}
            per_node[node["name"]] = len(set(acked) & ids)
        except SetupError:
            per_node[node["name"]] = None
    # Read back through the gateway: every create acknowledged within 3 s of a fault, and some others.
    fault_times = [e["kill_t"] for e in events.values() if "kill_t" in e]
    near = [s.res_id for s in samples if s.region == "us" and s.kind == "create" and s.status == 201 and s.res_id
            and any(abs(s.t1 - t) < 3 for t in fault_times)]
    rest = [i for i in acked if i not in set(near)]
    sample_ids = near[:300] + random.sample(rest, min(len(rest), 100))
    c = Client(gw_port, tenants["us"][1])
    read_back_bad = [(i, st) for i in sample_ids
                     for (_, _, st, _, _, _) in [c.send("GET", f"/scim/v2/Users/{i}")] if st != 200]

    return evaluate(samples, marks, events, acked, lost, unacked_present, per_node, sample_ids, read_back_bad,
                    healthy, run.path("gateway.log"), args)


def evaluate(samples, marks, events, acked, lost, unacked_present, per_node, sample_ids, read_back_bad, healthy,
             gateway_log, args):
    """Sorts every answer into the phase it ended in, checks the goals, prints the table."""
    bounds = [(name, t, marks[i + 1][1] if i + 1 < len(marks) else float("inf")) for i, (name, t) in
              enumerate(marks)]

    def phase_of(s):
        for name, a, b in bounds:
            if a <= s.t1 < b:
                return name
        return marks[0][0]

    us = [s for s in samples if s.region == "us"]
    eu = [s for s in samples if s.region == "eu2"]
    rows, goals, notes = [], [], []

    def goal(name, ok, detail=""):
        goals.append((name, ok, detail))

    def describe(bad):
        kinds = {}
        for s in bad:
            k = s.error or str(s.status)
            kinds[k] = kinds.get(k, 0) + 1
        return ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())) or "-"

    figures = {"writers": args.writers, "phases": {}}
    for name, start, end in bounds:
        ss = [s for s in us if phase_of(s) == name]
        ok = [s for s in ss if s.ok]
        retry = [s for s in ss if s.retryable]
        bad = [s for s in ss if not s.ok and not s.retryable]
        e = events.get(name, {"kind": "steady"})
        kind = e["kind"]
        fig = figures["phases"][name] = {"kind": kind, "requests": len(ss), "ok": len(ok)}
        if kind == "failover":
            # Recovery: kill -> the first acknowledged create after the longest pause between acknowledgements in
            # this phase (for a moment after the SIGKILL the dying primary's backends may still acknowledge).
            acks = sorted(s.t1 for s in ss if s.kind == "create" and s.status == 201)
            prev, gap, resumed_at = None, 0.0, None
            for t in acks:
                if prev is not None and t > e["kill_t"] and t - prev > gap:
                    gap, resumed_at = t - prev, t
                prev = t
            failover_ms = round((resumed_at - e["kill_t"]) * 1000) if resumed_at and e["ok"] else None
            slowest = max([(s.t1 - s.t0) * 1000 for s in ss if s.t0 >= e["kill_t"]] or [0])
            eu_lat = [(s.t1 - s.t0) * 1000 for s in eu if e["kill_t"] <= s.t1 <= (resumed_at or e["kill_t"] + 15)]
            fig.update(retryable_503=len(retry), failed=len(bad), failover_ms=failover_ms,
                       longest_pause_ms=round(gap * 1000), slowest_answer_ms=round(slowest),
                       patroni_leader_ms=e["leader_ms"], cluster_whole_ms=e["healthy_ms"], old=e["old"], new=e["new"],
                       rewind_ms=e["rewind_ms"],
                       eu2_max_ms_during=round(max(eu_lat or [0]), 1))
            goal(f"{name}: writes acknowledged again within 15 s",
                 failover_ms is not None and failover_ms <= FAILOVER_GOAL_MS, f"{failover_ms} ms")
            goal(f"{name}: every answer 2xx or 503 + Retry-After", not bad, describe(bad))
            rows.append((name, len(ss), len(ok), len(retry), len(bad), describe(bad) if bad else "-"))
            rewind = (f"the old primary rejoined after a pg_rewind of {e['rewind_ms']} ms" if e["rewind_ms"] is not None
                      else "the old primary rejoined without pg_rewind")
            notes.append(f"{name}: {e['old']} -> {e['new']}: Patroni leader after {e['leader_ms']} ms, cluster whole "
                         f"(sync standby streaming) after {e['healthy_ms']} ms ({rewind}); writes acknowledged again "
                         f"{failover_ms} ms after the kill (longest pause {round(gap * 1000)} ms; slowest answer "
                         f"{round(slowest)} ms); eu2 max {fig['eu2_max_ms_during']} ms meanwhile")
        elif kind == "replica-kill":
            casualties = in_flight_casualties(gateway_log, e["port"])
            in_flight = [s for s in retry if s.rid in casualties]
            beyond = bad + [s for s in retry if s.rid not in casualties]
            fig.update(in_flight_503=len(in_flight), failed_beyond=len(beyond), marked_down_ms=e["marked_down_ms"],
                       ready_after_restart_ms=e["ready_after_restart_ms"])
            goal(f"{name}: 0 failed beyond those in flight on it", not beyond,
                 f"{len(beyond)} ({describe(beyond)})" if beyond else "")
            goal(f"{name}: in flight on it <= connections", len(in_flight) <= args.writers, f"{len(in_flight)}")
            goal(f"{name}: restarted and serving again", e["ok"])
            rows.append((name, len(ss), len(ok), len(retry), len(beyond),
                         f"{len(in_flight)} in flight on the killed replica (503 + Retry-After)"))
            notes.append(f"{name}: the gateway marked it down after {e['marked_down_ms']} ms; restarted 1 s after the "
                         f"kill, probed ready after {e['ready_after_restart_ms']} ms")
        else:
            failed = bad + retry
            fig["failed"] = len(failed)
            goal(f"{name}: 0 failed requests", not failed, describe(failed) if failed else "")
            rows.append((name, len(ss), len(ok), len(retry), len(failed), describe(failed) if failed else "-"))
            if kind == "rolling":
                fig["steps"] = e["steps"]
                goal(f"{name}: both replicas restarted and serving", e["ok"])
                notes.append(f"{name}: " + "; ".join(f"{s['replica']} exited {s['stopped_ms']} ms after SIGTERM, "
                                                     f"ready {s['ready_ms']} ms after its start" for s in e["steps"]))

    # eu2: everything 2xx, latency.
    eu_fail = [s for s in eu if not s.ok]
    lat = [(s.t1 - s.t0) * 1000 for s in eu]
    goal("eu2: every answer 2xx", not eu_fail and len(eu) > 20,
         f"{len(eu_fail)} of {len(eu)} not 2xx ({describe(eu_fail)})" if eu_fail else f"{len(eu)} answers")
    figures["eu2"] = {"requests": len(eu), "failed": len(eu_fail), "p50_ms": round(percentile(lat, 50), 1),
                      "p99_ms": round(percentile(lat, 99), 1), "max_ms": round(max(lat or [0]), 1)}
    # Durability.
    goal("0 acknowledged writes lost", not lost and len(acked) > 50, f"{len(lost)} of {len(acked)} lost")
    goal("acknowledged writes read back through the gateway", not read_back_bad,
         f"{len(sample_ids) - len(read_back_bad)}/{len(sample_ids)} answered 200")
    goal("cluster whole at the end (leader + streaming sync standby)", healthy)
    figures.update(acknowledged=len(acked), lost=len(lost), lost_ids=lost[:20], unacknowledged_present=unacked_present,
                   per_node=per_node, read_back=len(sample_ids), read_back_failed=len(read_back_bad),
                   requests=len(samples))
    passed = all(ok for _, ok, _ in goals)

    # --- the table
    out = ["", "== HA scenario: us on Patroni (2 nodes, synchronous_mode_strict) behind 2 us replicas; eu2 on plain "
               f"PostgreSQL; {args.writers} us writer connections + 1 eu2 connection through one gateway",
           f"{'phase':<16}{'us requests':>12}{'2xx':>8}{'503+RA':>8}{'failed':>8}  notes"]
    for name, n, ok, r503, failed, note in rows:
        out.append(f"{name:<16}{n:>12}{ok:>8}{r503:>8}{failed:>8}  {note}")
    out += notes
    e2 = figures["eu2"]
    out.append(f"eu2: {e2['requests']} requests, {e2['failed']} not 2xx; latency p50 {e2['p50_ms']} ms, p99 "
               f"{e2['p99_ms']} ms, max {e2['max_ms']} ms")
    out.append(f"writes: {len(acked)} acknowledged, {len(lost)} lost (looked up on the primary; acknowledged rows per "
               f"node: {', '.join(f'{k} {v}' for k, v in per_node.items())}); {unacked_present} creates answered "
               f"503 were stored anyway (allowed: the client was told their outcome is unknown)")
    out.append("")
    out.append(f"{'goal':<58}{'':>6}  detail")
    for name, ok, detail in goals:
        out.append(f"{name:<58}{'ok' if ok else 'MISSED':>6}  {detail}")
    out.append(f"result: {'PASSED' if passed else 'FAILED'}")
    print("\n".join(out), flush=True)
    figures["passed"] = passed
    return {"passed": passed, "figures": figures}


def in_flight_casualties(log_path, port):
    """Request ids the gateway logged as failed calls that may have reached the replica on `port`."""
    ids = set()
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                if "region call failed" not in line:
                    continue
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("replica") == f"127.0.0.1:{port}" and j.get("may_have_reached") is True:
                    ids.add(j.get("request.id"))
    except OSError:
        pass
    return ids


if __name__ == "__main__":
    sys.exit(main())
