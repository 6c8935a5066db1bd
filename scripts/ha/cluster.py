#!/usr/bin/env python3
"""Throwaway PostgreSQL 15 high-availability cluster (Patroni + one etcd) on loopback, for tests and demos.

    cluster.py install                                   apt-get what is missing (patroni, etcd-server, ...)
    cluster.py start DIR [--nodes 2] [--name us] [--database scim] [--timeout 120] [--no-strict]
                                                         etcd + N Patroni nodes, waits for a leader and a
                                                         streaming synchronous standby, writes DIR/cluster.json
    cluster.py status DIR [--json]                       exit 0 only with a leader and a streaming sync standby
    cluster.py kill-primary DIR                          SIGKILL the leader's postmaster (Patroni lives on)
    cluster.py kill-node DIR NAME                        SIGKILL a node's Patroni and its PostgreSQL (lost machine)
    cluster.py start-node DIR NAME [--timeout 60]        bring a node back; it rejoins as a replica
    cluster.py wait-leader DIR [--timeout 30] [--exclude NAME] [--probe write|rw]
                                                         block until a leader takes writes; prints elapsed ms
    cluster.py stop DIR [--timeout 30]                   stop everything started in DIR (safe to call twice)

Everything binds 127.0.0.1 on free ephemeral ports and lives under DIR (data, logs, pids). Processes are
only ever signalled by the PIDs this script recorded (checked against their command line, which names DIR),
so other PostgreSQL clusters of the project (.pg/test, .pg/bench, ...) are never touched.

Authentication is `trust` on 127.0.0.1: this is a test harness, never for real data (docker/patroni/ uses
scram-sha-256 and a password secret). Standard library only, so it runs under any python3 >= 3.9.
"""
import argparse
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

PG_BIN = "/usr/lib/postgresql/15/bin"
PSQL = os.path.join(PG_BIN, "psql")
PATRONI = "/usr/bin/patroni"
ETCD = "/usr/bin/etcd"
OWNER = "postgres"            # PostgreSQL refuses to run as root; Patroni and etcd run as this user too.
APP_ROLE = "scim"             # LOGIN, NOSUPERUSER: row-level security applies to it, as in production.
REPLICATION_ROLE = "replicator"

# Debian packages and the file that proves each is installed.
PACKAGES = {
    "patroni": PATRONI,
    "etcd-server": ETCD,
    "etcd-client": "/usr/bin/etcdctl",             # not used by this script; handy for `etcdctl get --prefix /`
    "python3-psycopg2": None,                       # Patroni's PostgreSQL driver (a hard Depends, listed to be explicit)
    "python3-etcd": None,                           # Patroni's etcd/etcd3 DCS modules import it
    "postgresql-15": os.path.join(PG_BIN, "postgres"),
}

# --- Failover tuning -----------------------------------------------------------------------------------------
# Measured with failover-demo.sh on this 2-core machine (loopback, Swift builds running beside it), strict mode:
#   kill-primary (postmaster SIGKILL): writes acknowledged again 3.3-4.5 s after the kill. Of that: the crash is
#     seen on the next loop (<= loop_wait = 1 s), the standby promotes ~0.2 s later, then Patroni 3.0.2's demote
#     sleeps a fixed 2 s ("give a time to somebody to take the leader lock", not configurable) before it restarts
#     the old primary as a replica (~1 s); strict mode makes commits wait for that replica.
#   kill-node (Patroni + PostgreSQL SIGKILL): promotion 9.5-9.9 s after the kill (= ttl); commits then wait until
#     start-node, which rejoins with pg_rewind in ~1 s (cluster healthy again ~5 s after start-node).
#   --no-strict, kill-primary: writes acknowledged again after ~0.6 s, by a primary with no standby.
# ttl: how long the leader key lives without renewal. It bounds the failover time when a whole node (Patroni
#   included) disappears: the standby may only take over once the key has expired. 10 s instead of Patroni's
#   30 s; etcd's minimum lease is ~2 s, but a smaller ttl lets a slow fsync or a stall cost a failover.
# loop_wait: seconds between HA cycles. 1 s (default 10): a crashed postmaster is noticed within ~1 s.
# retry_timeout: how long DCS and PostgreSQL operations are retried before Patroni gives up; a primary that
#   cannot update its key by then demotes itself. 3 s. Patroni wants loop_wait + 2 * retry_timeout <= ttl
#   (1 + 2 * 3 = 7 <= 10): a primary cut off from etcd steps down before its key expires and a standby may
#   promote, so the two are never both primaries.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 1, 3
# maximum_lag_on_failover: a replica further behind the leader's last reported WAL position than this may not
#   promote. With synchronous_mode only the synchronous standby may promote at all and it holds every
#   acknowledged commit, so this only guards against promoting a standby that fell behind on not-yet-committed
#   WAL; Patroni's default 1 MiB is kept (the leader reports its position every loop_wait = 1 s).
MAX_LAG_ON_FAILOVER = 1048576
# primary_start_timeout: 0 = when the primary's PostgreSQL crashes, fail over to the synchronous standby at once.
#   The default (300) restarts PostgreSQL in place on the same node and fails over only if it is not back within
#   300 s. Failing over at once is safe only because replication is synchronous: the standby has every
#   acknowledged commit.
PRIMARY_START_TIMEOUT = 0


def die(msg, code=1):
    print(f"cluster.py: {msg}", file=sys.stderr)
    sys.exit(code)


def note(msg):
    print(f"cluster.py: {msg}", file=sys.stderr, flush=True)


def now_ms():
    return int(time.time() * 1000)


# --- processes ----------------------------------------------------------------------------------------------

def proc_stat(pid):
    """(state, ppid, session id) of a process, or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()  # the command name may contain spaces and parentheses
    return fields[0], int(fields[1]), int(fields[3])


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def alive(pid):
    """True while pid runs (a zombie counts as dead; one that is our own child is reaped on the way)."""
    if not pid:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def ours(pid, marker):
    """pid is alive and its command line names `marker` (a path under DIR): guards against PID reuse."""
    return alive(pid) and marker in proc_cmdline(pid)


def signal_pids(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return not any(alive(p) for p in pids)


def postmaster_pid(data_dir):
    """The postmaster of data_dir from its postmaster.pid, if that process is alive and really is it."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            pid = int(f.readline().strip())
    except (OSError, ValueError):
        return None
    return pid if ours(pid, data_dir) else None


def postgres_group(pm_pid):
    """The postmaster and its children, listed while the postmaster is still alive. (Not by session: every
    PostgreSQL child calls setsid() itself, and once the postmaster is gone its children are re-parented and
    nothing links them to it any more; they do exit by themselves within a moment, on postmaster death.)"""
    group = [pm_pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = proc_stat(int(entry))
            if s and s[1] == pm_pid and s[0] != "Z":
                group.append(int(entry))
    return group


def launch(argv, log_path, cwd):
    """Starts argv as the postgres user in its own session, output appended to log_path; returns its PID.

    Not `runuser -u postgres --`: runuser forks and stays the parent (to close its PAM session), so the PID
    we would record is runuser's, and SIGKILL to it would leave the real process running. subprocess's
    user=/group= switch user in the child right before exec, so the PID is the program's own (etcd's, or
    reaper.py's, which forks Patroni and reports Patroni's PID; see REAPER)."""
    pw = pwd.getpwnam(OWNER)
    env = {"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir, "USER": OWNER, "LOGNAME": OWNER,
           "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                             env=env, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], start_new_session=True,
                             close_fds=True)
    return p.pid


def chown_tree(path):
    pw = pwd.getpwnam(OWNER)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for base, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(base, n), pw.pw_uid, pw.pw_gid, follow_symlinks=False)


# --- network ------------------------------------------------------------------------------------------------

def free_ports(n):
    """n distinct free ports on 127.0.0.1. All sockets stay bound until every port is chosen, so the kernel
    cannot hand out one port twice; a different program could still grab one before we bind it (rare)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_json(url, timeout=1.0):
    """GET url and decode JSON; Patroni answers 503 with a JSON body too (e.g. /primary on a replica)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return json.loads(e.read() or b"null")
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def psql(url, sql, timeout):
    """Runs sql through psql (as root: it is only a client). Returns (ok, stdout, stderr)."""
    env = dict(os.environ, PGCONNECT_TIMEOUT="1", PGAPPNAME="cluster.py")
    try:
        r = subprocess.run([PSQL, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                           capture_output=True, text=True, timeout=max(timeout, 0.5), env=env,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, "", f"timed out after {timeout:.1f}s"
    return r.returncode == 0, r.stdout.strip(), r.stderr.strip()


def node_url(port, database, user="postgres"):
    return f"postgresql://{user}@127.0.0.1:{port}/{database}?connect_timeout=1"


# --- state ----------------------------------------------------------------------------------------------------

def state_path(d):
    return os.path.join(d, "state.json")


def load_state(d, required=True):
    try:
        with open(state_path(d)) as f:
            return json.load(f)
    except FileNotFoundError:
        if required:
            die(f"{d}: no state.json (was it started with cluster.py start?)")
        return None


def save_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def node_by_name(state, name):
    for n in state["nodes"]:
        if n["name"] == name:
            return n
    die(f"no node {name!r}; nodes: {', '.join(n['name'] for n in state['nodes'])}")


def public_view(state):
    """What DIR/cluster.json holds: everything a test needs to connect and to inject faults."""
    hosts = ",".join(f"127.0.0.1:{n['pg_port']}" for n in state["nodes"])
    query = "target_session_attrs=read-write&connect_timeout=2"
    return {
        "name": state["name"],
        "database": state["database"],
        "synchronous_mode_strict": state["strict"],
        "etcd": {"endpoint": f"http://127.0.0.1:{state['etcd']['client_port']}", "pid": state["etcd"]["pid"],
                 "data_dir": state["etcd"]["data_dir"]},
        "nodes": [{"name": n["name"], "pg_port": n["pg_port"], "rest_port": n["rest_port"],
                   "data_dir": n["data_dir"], "patroni_pid": n["pid"], "log": n["log"]} for n in state["nodes"]],
        "app_url": f"postgresql://{APP_ROLE}@{hosts}/{state['database']}?{query}",
        "admin_url": f"postgresql://postgres@{hosts}/{state['database']}?{query}",
    }


def write_cluster_json(d, state):
    view = public_view(state)
    save_json(os.path.join(d, "cluster.json"), view)
    return view


# --- cluster view through Patroni's REST API --------------------------------------------------------------------

def cluster_view(state):
    """GET /cluster from the first node that answers, plus the leader's pg_stat_replication (GET /patroni on the
    leader lists it). Returns a dict: members, leader, sync (names), sync_streaming (bool), replication."""
    topo = None
    for n in state["nodes"]:
        topo = http_json(f"http://127.0.0.1:{n['rest_port']}/cluster")
        if topo and "members" in topo:
            break
    else:
        return {"members": [], "leader": None, "sync": [], "sync_streaming": False, "replication": []}
    members = topo["members"]
    leader = next((m for m in members if m.get("role") in ("leader", "standby_leader")), None)
    sync = [m["name"] for m in members if m.get("role") == "sync_standby"]
    replication = []
    if leader and leader.get("api_url"):
        st = http_json(leader["api_url"].rsplit("/", 1)[0] + "/patroni") or {}
        replication = st.get("replication", []) if st.get("role") in ("master", "primary") else []
    # Patroni 3.0.2 reports a replica's member state as just "running"; whether the synchronous standby really
    # streams comes from the leader's pg_stat_replication (state = streaming, sync_state = sync).
    streaming = {r.get("application_name") for r in replication
                 if r.get("state") == "streaming" and r.get("sync_state") in ("sync", "quorum")}
    return {"members": members, "leader": leader["name"] if leader else None, "sync": sync,
            "sync_streaming": bool(sync) and all(s in streaming for s in sync), "replication": replication,
            "leader_state": leader.get("state") if leader else None}


def healthy(view):
    return bool(view["leader"]) and view.get("leader_state") == "running" and view["sync_streaming"]


# --- install ---------------------------------------------------------------------------------------------------

def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == "install ok installed"


def pids_of(exe):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == exe:
                    out.append(int(entry))
            except OSError:
                pass
    return set(out)


def cmd_install(args):
    missing = [p for p, f in PACKAGES.items() if not installed(p) or (f and not os.path.exists(f))]
    if not missing:
        print("cluster.py install: nothing to do (patroni, etcd-server, etcd-client, python3-psycopg2, "
              "python3-etcd, postgresql-15 present)")
        return 0
    if os.geteuid() != 0:
        die(f"missing {' '.join(missing)}; run as root (apt-get install)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    before = pids_of(ETCD) | pids_of("/usr/bin/python3.11") | pids_of("/usr/bin/python3")
    # Keep Debian's maintainer scripts from starting the packaged etcd (it would take 127.0.0.1:2379/2380) or
    # Patroni: a policy-rc.d that exits 101 is Debian's standard "do not start services" switch. Docker-style
    # images already have one; otherwise one is put in place for the duration of the install only.
    policy = "/usr/sbin/policy-rc.d"
    own_policy = not os.path.exists(policy)
    if own_policy:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\n# temporary, from scripts/ha/cluster.py install\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        note(f"installing {' '.join(missing)}")
        for cmd in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing):
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
            if r.returncode != 0:
                tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
                die(f"{' '.join(cmd[:2])} failed (exit {r.returncode}):\n{tail}")
    except subprocess.TimeoutExpired as e:
        die(f"{' '.join(e.cmd[:2])} did not finish in {e.timeout:.0f}s")
    finally:
        if own_policy:
            os.unlink(policy)
    # The packaged units must never run next to ours: disable them (only the ones this run installed).
    units = [u for p, u in (("etcd-server", "etcd.service"), ("patroni", "patroni.service")) if p in missing]
    if units and os.path.isdir("/run/systemd/system"):
        subprocess.run(["systemctl", "disable", "--now"] + units, capture_output=True)
    elif units and shutil.which("systemctl"):
        subprocess.run(["systemctl", "disable"] + units, capture_output=True)  # no systemd running: links only
    # Without systemd, a maintainer script could still have started the packaged etcd or Patroni through an init
    # script. Those run with the packages' own command lines (`/usr/bin/etcd` with no arguments: its settings
    # come from /etc/default/etcd; Patroni with /etc/patroni/config.yml); ours always carry a DIR. Only such a
    # process that appeared during this install is stopped.
    started = [p for p in (pids_of(ETCD) | pids_of("/usr/bin/python3.11") | pids_of("/usr/bin/python3")) - before
               if proc_cmdline(p) in (ETCD, f"/usr/bin/python3 {PATRONI} /etc/patroni/config.yml")]
    if started:
        note(f"stopping services the packages started: {started}")
        signal_pids(started, signal.SIGTERM)
        wait_gone(started, 10)
    missing_after = [p for p, f in PACKAGES.items() if not installed(p) or (f and not os.path.exists(f))]
    if missing_after:
        die(f"still missing after apt-get: {' '.join(missing_after)}")
    print(f"cluster.py install: installed {' '.join(missing)}")
    return 0


# --- start ------------------------------------------------------------------------------------------------------

POST_BOOTSTRAP = """#!/bin/sh
# Run by Patroni once, on the node that ran initdb, with a libpq connection string as $1 (superuser,
# PGOPTIONS=synchronous_commit=local so it does not wait for a standby that does not exist yet).
# Creates the application role (not a superuser: row-level security applies to it) and its database.
set -eu
{psql} -X -q -v ON_ERROR_STOP=1 -d "$1" \\
    -c "CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB" \\
    -c 'CREATE DATABASE "{db}" OWNER {role}'
"""


def patroni_config(state, node, post_bootstrap):
    """One node's Patroni configuration, as JSON (YAML is a superset of JSON, and Patroni reads it with
    yaml.safe_load), so no PyYAML is needed here."""
    etcd = f"127.0.0.1:{state['etcd']['client_port']}"
    hba = [
        "local all all trust",
        # Loopback only, trust: test clusters. Replication between the nodes and the app role both come this way.
        "host all all 127.0.0.1/32 trust",
        "host replication all 127.0.0.1/32 trust",
    ]
    return {
        "scope": state["name"],
        "namespace": "/service/",
        "name": node["name"],
        "restapi": {"listen": f"127.0.0.1:{node['rest_port']}", "connect_address": f"127.0.0.1:{node['rest_port']}"},
        # etcd 3.4 disables the v2 API by default; Patroni's etcd3 module talks v3 through etcd's gRPC gateway.
        "etcd3": {"hosts": [etcd], "protocol": "http"},
        "bootstrap": {
            "dcs": {
                "ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
                "maximum_lag_on_failover": MAX_LAG_ON_FAILOVER,
                "primary_start_timeout": PRIMARY_START_TIMEOUT,
                # synchronous_mode: only the synchronous standby may be promoted, and the primary's
                # synchronous_standby_names names it, so a COMMIT returns only once its WAL is flushed there.
                "synchronous_mode": True,
                # synchronous_mode_strict: without it, a primary left without a standby (the other node lost, or
                # just after a failover until the old primary rejoins) drops to asynchronous commits and answers
                # writes that live on one machine only: a second failure then loses acknowledged rows. Strict
                # keeps synchronous_standby_names = '*' instead, so commits wait (they do not fail) until a
                # standby is back. Requirement: never acknowledge a write not durable on the standby -> strict.
                # It still fails over: the synchronous standby is promoted as usual; only the new primary's
                # commits then wait for the old node to rejoin (seconds after kill-primary, since its Patroni
                # rewinds and restarts it; until start-node after kill-node). `start --no-strict` to compare.
                "synchronous_mode_strict": state["strict"],
                "synchronous_node_count": 1,
                "postgresql": {
                    # A crashed primary usually has WAL the new primary never got (not acknowledged, so not
                    # lost); pg_rewind cuts it back so it can follow. If even that fails, start over from a
                    # base backup rather than stay out of the cluster.
                    "use_pg_rewind": True,
                    "remove_data_directory_on_rewind_failure": True,
                    "remove_data_directory_on_diverged_timelines": True,
                    "use_slots": True,
                    "parameters": {
                        "wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on",
                        "max_wal_senders": 10, "max_replication_slots": 10, "wal_keep_size": "128MB",
                        "synchronous_commit": "on",   # = remote flush: the standby has the commit on disk
                        "max_connections": 100,
                        # A replica that comes back after a failover asks the new primary for its replication
                        # slot, which Patroni creates a loop later; the refused walreceiver then waited out the
                        # default 5 s here before trying again (measured: rejoin 5 s later than needed).
                        "wal_retrieve_retry_interval": "500ms",
                    },
                    "pg_hba": hba,
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
            "post_bootstrap": post_bootstrap,
        },
        "postgresql": {
            "listen": f"127.0.0.1:{node['pg_port']}",
            "connect_address": f"127.0.0.1:{node['pg_port']}",
            "data_dir": node["data_dir"],
            "bin_dir": PG_BIN,
            "pgpass": os.path.join(node["dir"], "pgpass"),
            # pg_basebackup's default spread checkpoint made the first standby take 98 s to clone a fresh
            # cluster here (the checkpoint paces itself over 0.9 * checkpoint_timeout); fast: ~1 s.
            "basebackup": [{"checkpoint": "fast"}],
            "authentication": {
                "superuser": {"username": "postgres"},
                "replication": {"username": REPLICATION_ROLE},
                "rewind": {"username": "postgres"},
            },
            "pg_hba": hba,
            "parameters": {
                # Our own socket directory: /var/run/postgresql belongs to the project's other clusters.
                "unix_socket_directories": node["dir"],
                "logging_collector": "on", "log_directory": os.path.join(node["dir"], "pg_log"),
                "log_filename": "postgresql-%Y%m%d-%H%M%S.log", "log_line_prefix": "%m [%p] %q%u@%d ",
            },
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }


# Each Patroni runs under this small parent, written to DIR/reaper.py (so the postgres user can read it
# wherever the repository lives). Why: Patroni starts the postmaster through a helper that exits at once, so
# the postmaster is re-parented to the nearest "subreaper", normally PID 1. On this machine PID 1 is not an
# init that reaps promptly: an orphan stays a zombie for ~1.3 s (measured), and Patroni (psutil) counts a
# zombie postmaster as running. kill-primary was then noticed only on the 2nd or 3rd HA loop (2.4 s after
# the kill instead of <= loop_wait). As a subreaper, this process inherits the orphaned postmaster and reaps
# it the moment it dies, as systemd, tini or Patroni-as-PID-1 in a container would.
REAPER = r"""import ctypes, os, signal, sys
# Written by scripts/ha/cluster.py: parent and child subreaper of one Patroni.  reaper.py PIDFILE ARGV...
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
pidfile, argv = sys.argv[1], sys.argv[2:]
child = os.fork()
if child == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
with open(pidfile + ".tmp", "w") as f:
    f.write(f"{child}\n")
os.replace(pidfile + ".tmp", pidfile)
def forward(sig, frame):
    try:
        os.kill(child, sig)
    except ProcessLookupError:
        pass
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, forward)
status = 0
while True:  # until no child is left: Patroni, and the PostgreSQL processes re-parented to us
    try:
        pid, st = os.wait()
    except ChildProcessError:
        break
    if pid == child:
        status = os.waitstatus_to_exitcode(st)
sys.exit(status if status >= 0 else 128 - status)
"""


def start_patroni(state, node):
    """Starts the node's Patroni under DIR/reaper.py; records both PIDs (node["pid"] is Patroni's own)."""
    pidfile = os.path.join(node["dir"], "patroni.pid")
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    reaper = os.path.join(state["dir"], "reaper.py")
    node["reaper_pid"] = launch(["/usr/bin/python3", reaper, pidfile, PATRONI, node["config"]], node["log"],
                                node["dir"])
    node["pid"] = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(node["reaper_pid"]):
        try:
            with open(pidfile) as f:
                node["pid"] = int(f.read().strip())
            break
        except (OSError, ValueError):
            time.sleep(0.02)
    if not node["pid"]:
        raise StartError(f"{node['name']}: patroni did not start:\n{tail(node['log'])}")
    return node["pid"]


def check_owner_can_reach(d):
    r = subprocess.run(["runuser", "-u", OWNER, "--", "test", "-w", d, "-a", "-x", d], capture_output=True)
    if r.returncode != 0:
        die(f"{d}: the {OWNER} user cannot reach it (a parent directory is not searchable by others?); "
            f"use a DIR outside /root, e.g. under /tmp")


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def cmd_start(args):
    if os.geteuid() != 0:
        die("run as root (processes are started as the postgres user)")
    missing = [f for f in (PATRONI, ETCD, os.path.join(PG_BIN, "postgres"), PSQL) if not os.path.exists(f)]
    if missing:
        die(f"missing {' '.join(missing)}; run: cluster.py install")
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", args.name):
        die("--name: lowercase letters, digits and '-', starting with a letter")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.database):
        die("--database: a lowercase SQL identifier")
    if not 2 <= args.nodes <= 5:
        die("--nodes: 2 to 5 (synchronous replication needs a standby)")
    d = os.path.realpath(args.dir)
    old = load_state(d, required=False) if os.path.isdir(d) else None
    if old:
        live = [p for p in running_pids(old)]
        if live:
            die(f"{d} is already running (pids {live}); cluster.py stop {args.dir} first")
        # A stopped cluster of ours: start afresh (ephemeral by design). Only what we created is removed.
        for p in [old["etcd"]["dir"]] + [n["dir"] for n in old["nodes"]]:
            shutil.rmtree(p, ignore_errors=True)
        for f in ("cluster.json", "state.json", "last-kill.json", "post_bootstrap.sh", "reaper.py", "etcd.log"):
            if os.path.exists(os.path.join(d, f)):
                os.unlink(os.path.join(d, f))
    elif os.path.isdir(d) and os.listdir(d):
        die(f"{d} exists and is not empty (and is not a cluster of ours); pick a new DIR")
    os.makedirs(d, exist_ok=True)
    pw = pwd.getpwnam(OWNER)
    os.chown(d, pw.pw_uid, pw.pw_gid)
    check_owner_can_reach(d)

    ports = free_ports(2 + 2 * args.nodes)
    state = {
        "name": args.name, "database": args.database, "dir": d, "strict": not args.no_strict,
        "created_at_ms": now_ms(),
        "etcd": {"client_port": ports[0], "peer_port": ports[1], "dir": os.path.join(d, "etcd"),
                 "data_dir": os.path.join(d, "etcd", "data"), "log": os.path.join(d, "etcd.log"), "pid": None},
        "nodes": [],
    }
    for i in range(args.nodes):
        name = f"{args.name}-{i + 1}"
        nd = os.path.join(d, name)
        state["nodes"].append({"name": name, "pg_port": ports[2 + 2 * i], "rest_port": ports[3 + 2 * i],
                               "dir": nd, "data_dir": os.path.join(nd, "data"),
                               "config": os.path.join(nd, "patroni.yml"),
                               "log": os.path.join(nd, "patroni.log"), "pid": None, "reaper_pid": None})
    # Recorded before anything starts, so `stop` can clean up whatever a failed start left behind.
    save_json(state_path(d), state)

    with open(os.path.join(d, "reaper.py"), "w") as f:
        f.write(REAPER)
    post_bootstrap = os.path.join(d, "post_bootstrap.sh")
    with open(post_bootstrap, "w") as f:
        f.write(POST_BOOTSTRAP.format(psql=PSQL, role=APP_ROLE, db=args.database))
    os.chmod(post_bootstrap, 0o755)
    os.makedirs(state["etcd"]["data_dir"], mode=0o700)
    for n in state["nodes"]:
        os.makedirs(os.path.join(n["dir"], "pg_log"))
        save_json(n["config"], patroni_config(state, n, post_bootstrap))
    chown_tree(d)

    t0 = time.monotonic()
    deadline = t0 + args.timeout
    try:
        e = state["etcd"]
        client, peer = f"http://127.0.0.1:{e['client_port']}", f"http://127.0.0.1:{e['peer_port']}"
        e["pid"] = launch([ETCD, "--name", f"etcd-{args.name}", "--data-dir", e["data_dir"],
                           "--listen-client-urls", client, "--advertise-client-urls", client,
                           "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                           "--initial-cluster", f"etcd-{args.name}={peer}", "--initial-cluster-state", "new",
                           "--initial-cluster-token", f"ha-{args.name}-{os.getpid()}",
                           "--log-outputs", "stderr"], e["log"], e["dir"])
        save_json(state_path(d), state)
        while (http_json(f"{client}/health") or {}).get("health") != "true":
            if not alive(e["pid"]):
                raise StartError(f"etcd exited:\n{tail(e['log'])}")
            if time.monotonic() > deadline:
                raise StartError(f"etcd not healthy in {args.timeout}s:\n{tail(e['log'])}")
            time.sleep(0.1)
        note(f"etcd up on {client} ({(time.monotonic() - t0) * 1000:.0f} ms)")
        # All nodes at once: they race for the initialize key in etcd; the winner runs initdb and the others
        # wait for it and clone it with pg_basebackup.
        for n in state["nodes"]:
            start_patroni(state, n)
        save_json(state_path(d), state)
        view = None
        while True:
            for n in state["nodes"]:
                if not alive(n["pid"]):
                    raise StartError(f"patroni {n['name']} exited:\n{tail(n['log'])}")
            view = cluster_view(state)
            if healthy(view) and len([m for m in view["members"] if m.get("state") == "running"]) == args.nodes:
                leader = node_by_name(state, view["leader"])
                ok, _, _ = psql(node_url(leader["pg_port"], args.database, APP_ROLE), "SELECT 1", 2)
                if ok:
                    break
            if time.monotonic() > deadline:
                raise StartError(f"no leader with a streaming synchronous standby in {args.timeout}s; last view: "
                                 f"{json.dumps(view)}\n" + "".join(f"--- {n['log']}\n{tail(n['log'])}"
                                                                  for n in state["nodes"]))
            time.sleep(0.25)
    except (StartError, KeyboardInterrupt) as err:
        save_json(state_path(d), state)
        note(f"start failed: {err}")
        if args.keep_on_failure:
            note(f"processes left running for inspection; cluster.py stop {args.dir}")
        else:
            stop(d, 20)
        return 1
    save_json(state_path(d), state)
    pub = write_cluster_json(d, state)
    note(f"leader {view['leader']}, synchronous standby {', '.join(view['sync'])} streaming "
         f"({(time.monotonic() - t0) * 1000:.0f} ms after etcd start)")
    print(json.dumps(pub, indent=2))
    return 0


class StartError(Exception):
    pass


# --- status -----------------------------------------------------------------------------------------------------

def cmd_status(args):
    d = os.path.realpath(args.dir)
    state = load_state(d)
    view = cluster_view(state)
    ok = healthy(view)
    if args.json:
        print(json.dumps(dict(view, healthy=ok), indent=2))
        return 0 if ok else 1
    by_name = {m["name"]: m for m in view["members"]}
    repl = {r.get("application_name"): r for r in view["replication"]}
    print(f"cluster {state['name']}  etcd http://127.0.0.1:{state['etcd']['client_port']}"
          f"  etcd pid {state['etcd']['pid'] if alive(state['etcd']['pid']) else '-'}"
          f"  strict={'yes' if state['strict'] else 'no'}")
    print(f"leader:        {view['leader'] or '(none)'}")
    sync_desc = ", ".join(f"{s} ({repl.get(s, {}).get('state', 'not connected')})" for s in view["sync"])
    print(f"sync standby:  {sync_desc or '(none)'}")
    for n in state["nodes"]:
        m = by_name.get(n["name"], {})
        pm = postmaster_pid(n["data_dir"])
        lag = m.get("lag")
        print(f"  {n['name']:<10} {m.get('role', '-'):<13} {m.get('state', 'absent'):<20} "
              f"pg 127.0.0.1:{n['pg_port']:<6} rest {n['rest_port']:<6} tl {m.get('timeline', '-'):<3} "
              f"lag {'-' if lag is None else lag:<8} patroni pid {n['pid'] if alive(n['pid']) else '-':<8} "
              f"postmaster pid {pm or '-'}")
    print("healthy" if ok else "NOT healthy: needs a running leader and a streaming synchronous standby")
    return 0 if ok else 1


# --- faults -----------------------------------------------------------------------------------------------------

def record_kill(d, what):
    save_json(os.path.join(d, "last-kill.json"), what)
    print(json.dumps(what))


def cmd_kill_primary(args):
    d = os.path.realpath(args.dir)
    state = load_state(d)
    view = cluster_view(state)
    if not view["leader"]:
        die("no leader to kill")
    node = node_by_name(state, view["leader"])
    pm = postmaster_pid(node["data_dir"])
    if not pm:
        die(f"leader {node['name']}: no live postmaster in {node['data_dir']}/postmaster.pid")
    # Only the postmaster: its children notice its death and exit by themselves (a backend waiting for the
    # synchronous standby exits without acknowledging), and Patroni, alive, sees PostgreSQL gone on its
    # next loop (<= loop_wait) and, with primary_start_timeout = 0, releases the leader key to the sync standby.
    at = now_ms()  # taken before the signal: whatever the writer stamps later happened after the kill
    os.kill(pm, signal.SIGKILL)
    record_kill(d, {"killed": "postmaster", "node": node["name"], "pid": pm, "signal": "SIGKILL", "at_ms": at})
    return 0


def kill_node(state, node):
    killed = []
    if ours(node["pid"], node["config"]):
        # Patroni first, so it cannot restart the PostgreSQL we are about to kill.
        os.kill(node["pid"], signal.SIGKILL)
        killed.append(node["pid"])
    pm = postmaster_pid(node["data_dir"])
    if pm:
        group = postgres_group(pm)
        signal_pids(group, signal.SIGKILL)
        killed += group
    wait_gone(killed, 5)
    # Its reaper exits by itself once it has reaped them; make sure (it is only a parent, not part of the fault).
    reaper = node.get("reaper_pid")
    if ours(reaper, node["config"]) and not wait_gone([reaper], 2):
        os.kill(reaper, signal.SIGKILL)
        wait_gone([reaper], 2)
    node["pid"] = node["reaper_pid"] = None
    return killed


def cmd_kill_node(args):
    d = os.path.realpath(args.dir)
    state = load_state(d)
    node = node_by_name(state, args.name)
    at = now_ms()
    killed = kill_node(state, node)
    save_json(state_path(d), state)
    if os.path.exists(os.path.join(d, "cluster.json")):
        write_cluster_json(d, state)
    if not killed:
        die(f"{node['name']}: nothing running to kill")
    record_kill(d, {"killed": "node", "node": node["name"], "pids": killed, "signal": "SIGKILL", "at_ms": at})
    return 0


def cmd_start_node(args):
    d = os.path.realpath(args.dir)
    state = load_state(d)
    node = node_by_name(state, args.name)
    if ours(node["pid"], node["config"]):
        die(f"{node['name']}: patroni already running (pid {node['pid']})")
    if not ours(state["etcd"]["pid"], state["etcd"]["data_dir"]):
        die("etcd is not running; the cluster was stopped (cluster.py start again)")
    t0 = time.monotonic()
    try:
        start_patroni(state, node)
    except StartError as e:
        die(str(e))
    save_json(state_path(d), state)
    if os.path.exists(os.path.join(d, "cluster.json")):
        write_cluster_json(d, state)
    note(f"{node['name']}: patroni pid {node['pid']}")
    if args.no_wait:
        return 0
    # Back means: its member is running, it is the leader or the leader's pg_stat_replication shows it
    # streaming, and the cluster is healthy again (a leader with a streaming synchronous standby: with two
    # nodes the returning one must take that role, which Patroni assigns a loop or two after it streams).
    # A rewind or a fresh clone happens inside this wait.
    deadline = t0 + args.timeout
    while time.monotonic() < deadline:
        if not alive(node["pid"]):
            die(f"{node['name']}: patroni exited:\n{tail(node['log'])}")
        view = cluster_view(state)
        member = next((m for m in view["members"] if m["name"] == node["name"]), {})
        streaming = any(r.get("application_name") == node["name"] and r.get("state") == "streaming"
                        for r in view["replication"])
        if member.get("state") == "running" and (view["leader"] == node["name"] or streaming) and healthy(view):
            print(json.dumps({"node": node["name"], "role": member.get("role"), "pid": node["pid"],
                              "rejoined_ms": int((time.monotonic() - t0) * 1000)}))
            return 0
        time.sleep(0.2)
    die(f"{node['name']}: not back in {args.timeout}s (see {node['log']})")


def cmd_wait_leader(args):
    d = os.path.realpath(args.dir)
    state = load_state(d)
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    last = ""
    while time.monotonic() < deadline:
        view = cluster_view(state)
        leader = view["leader"]
        if leader and leader != args.exclude:
            node = node_by_name(state, leader)
            url = node_url(node["pg_port"], state["database"])
            ok, out, err = psql(url, "SELECT pg_is_in_recovery()", min(3, deadline - time.monotonic()))
            last = err or out
            if ok and out == "f":
                if args.probe == "write":
                    # A transactional WAL record, so the commit waits as configured (strict synchronous mode:
                    # until flushed on the synchronous standby). Not `SELECT txid_current()`: measured here, it
                    # returned at once on a primary with no standby at all, because a transaction that wrote no
                    # WAL before its commit record commits without waiting for anyone. Bounded by --timeout;
                    # a backend still waiting when psql gives up stays waiting until a standby is back.
                    ok, out, err = psql(url, "SELECT pg_logical_emit_message(true, 'cluster.py', 'wait-leader')",
                                        deadline - time.monotonic())
                    last = err or out
                if ok:
                    result = {"leader": leader, "pg_port": node["pg_port"], "probe": args.probe,
                              "elapsed_ms": int((time.monotonic() - t0) * 1000)}
                    try:
                        with open(os.path.join(d, "last-kill.json")) as f:
                            kill = json.load(f)
                        result["since_kill_ms"] = now_ms() - kill["at_ms"]
                        result["killed_node"] = kill["node"]
                    except (OSError, ValueError, KeyError):
                        pass
                    print(json.dumps(result))
                    return 0
        time.sleep(0.1)
    die(f"no leader answering {'writes' if args.probe == 'write' else 'read-write'} within {args.timeout}s"
        f" (last: {last or 'no leader in the DCS'})")


# --- stop -------------------------------------------------------------------------------------------------------

def running_pids(state):
    pids = []
    if ours(state["etcd"].get("pid"), state["etcd"]["data_dir"]):
        pids.append(state["etcd"]["pid"])
    for n in state["nodes"]:
        for key in ("pid", "reaper_pid"):
            if ours(n.get(key), n["config"]):
                pids.append(n[key])
        pm = postmaster_pid(n["data_dir"])
        if pm:
            pids.append(pm)
    return pids


def stop(d, timeout):
    state = load_state(d, required=False)
    if not state:
        print(f"cluster.py stop: {d}: nothing was started there")
        return 0
    t0 = time.monotonic()
    # 1. Patroni (SIGTERM): each stops its PostgreSQL (fast shutdown) and removes its member key. It needs etcd
    #    for that, so etcd goes last.
    patronis = [n["pid"] for n in state["nodes"] if ours(n.get("pid"), n["config"])]
    signal_pids(patronis, signal.SIGTERM)
    if not wait_gone(patronis, timeout):
        left = [p for p in patronis if alive(p)]
        note(f"patroni {left} still running after {timeout}s: SIGKILL")
        signal_pids(left, signal.SIGKILL)
        wait_gone(left, 5)
    # 2. A postmaster Patroni did not stop (Patroni killed, or it gave up): fast shutdown, then SIGKILL to it
    #    and its children.
    pms = [pm for pm in (postmaster_pid(n["data_dir"]) for n in state["nodes"]) if pm]
    groups = {pm: postgres_group(pm) for pm in pms}
    signal_pids(pms, signal.SIGINT)
    if not wait_gone(pms, timeout):
        left = [p for pm in pms if alive(pm) for p in groups[pm]]
        note(f"postgres {left} still running after {timeout}s: SIGKILL")
        signal_pids(left, signal.SIGKILL)
    wait_gone([p for g in groups.values() for p in g], 5)
    # 3. The reapers exit once their Patroni and PostgreSQL are gone.
    reapers = [n["reaper_pid"] for n in state["nodes"] if ours(n.get("reaper_pid"), n["config"])]
    if not wait_gone(reapers, 5):
        signal_pids([r for r in reapers if alive(r)], signal.SIGKILL)
        wait_gone(reapers, 5)
    # 4. etcd.
    e = state["etcd"]
    etcd_pids = [e["pid"]] if ours(e.get("pid"), e["data_dir"]) else []
    if etcd_pids:
        os.kill(e["pid"], signal.SIGTERM)
        if not wait_gone([e["pid"]], timeout):
            os.kill(e["pid"], signal.SIGKILL)
            wait_gone([e["pid"]], 5)
    # 5. Any etcd, Patroni or postgres whose command line names DIR that we did not record (e.g. a Patroni
    #    started by hand with one of our configs). Other programs that mention DIR (a `tail -f` of a log) are
    #    not ours to stop.
    def stray_ours(pid):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return False
        cmd = proc_cmdline(pid) + " "
        return d + "/" in cmd and (exe in (ETCD, os.path.join(PG_BIN, "postgres")) or f"{PATRONI} " in cmd)
    stray = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid() and stray_ours(int(p))]
    if stray:
        note(f"stray processes under {d}: {stray}: SIGKILL")
        signal_pids(stray, signal.SIGKILL)
        wait_gone(stray, 5)
    # Dead processes of ours whose parent is PID 1 stay zombies until PID 1 reaps them, which here takes up to
    # ~1.5 s (measured); wait for that (bounded) so `pgrep etcd` right after stop shows nothing of ours.
    seen = patronis + reapers + [p for g in groups.values() for p in g] + stray + etcd_pids
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in seen):
        time.sleep(0.1)
    was = bool(patronis or pms or etcd_pids or reapers)
    for n in state["nodes"]:
        n["pid"] = n["reaper_pid"] = None
    e["pid"] = None
    save_json(state_path(d), state)
    left = running_pids(state)
    if left:
        die(f"could not stop {left}")
    print(f"cluster.py stop: {d}: " + (f"stopped ({(time.monotonic() - t0) * 1000:.0f} ms)" if was
                                       else "already stopped"))
    return 0


def cmd_stop(args):
    return stop(os.path.realpath(args.dir), args.timeout)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install", help="apt-get install what is missing")
    s = sub.add_parser("start", help="start etcd and N Patroni nodes")
    s.add_argument("dir")
    s.add_argument("--nodes", type=int, default=2)
    s.add_argument("--name", default="us", help="cluster (Patroni scope) name; nodes are NAME-1, NAME-2, ...")
    s.add_argument("--database", default="scim", help="database owned by the scim role")
    s.add_argument("--timeout", type=float, default=120, help="seconds to wait for a healthy cluster")
    s.add_argument("--no-strict", action="store_true",
                   help="synchronous_mode without _strict (a lone primary then commits asynchronously)")
    s.add_argument("--keep-on-failure", action="store_true", help="leave processes running if start fails")
    s = sub.add_parser("status", help="leader, sync standby, members")
    s.add_argument("dir")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("kill-primary", help="SIGKILL the leader's postmaster")
    s.add_argument("dir")
    s = sub.add_parser("kill-node", help="SIGKILL a node's Patroni and PostgreSQL")
    s.add_argument("dir")
    s.add_argument("name")
    s = sub.add_parser("start-node", help="start a node's Patroni again")
    s.add_argument("dir")
    s.add_argument("name")
    s.add_argument("--timeout", type=float, default=60)
    s.add_argument("--no-wait", action="store_true")
    s = sub.add_parser("wait-leader", help="wait until a leader takes writes")
    s.add_argument("dir")
    s.add_argument("--timeout", type=float, default=30)
    s.add_argument("--exclude", help="do not accept this node as the leader (the one just killed)")
    s.add_argument("--probe", choices=("write", "rw"), default="write",
                   help="write: a committed WAL write (waits for the sync standby); rw: pg_is_in_recovery() = f")
    s = sub.add_parser("stop", help="stop everything started in DIR")
    s.add_argument("dir")
    s.add_argument("--timeout", type=float, default=30, help="seconds before SIGTERM becomes SIGKILL")
    args = p.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `cluster.py status DIR | head` ends quietly
    handler = {"install": cmd_install, "start": cmd_start, "status": cmd_status, "kill-primary": cmd_kill_primary,
               "kill-node": cmd_kill_node, "start-node": cmd_start_node, "wait-leader": cmd_wait_leader,
               "stop": cmd_stop}[args.cmd]
    sys.exit(handler(args))


if __name__ == "__main__":
    main()
