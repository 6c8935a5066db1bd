#!/usr/bin/env python3
"""The benchmark driver behind `make bench`. Everything runs on loopback, every run is bounded in time, and only
the processes started here are stopped (by PID). Figures are reported as ratios against references measured in the
same run, because these machines are shared and noisy."""
import argparse, json, os, re, shlex, signal, subprocess, sys, tempfile, time, urllib.parse, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--pg-env", required=True)
args = ap.parse_args()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USERS = int(os.environ.get("BENCH_USERS", "1000000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
TENANT = "0b5e0000-0000-4000-8000-000000000001"
GROUP = "0b5e0000-0000-4000-8000-00000000c0de"
WORK = tempfile.mkdtemp(prefix="scim-bench-")

env = {}
for line in open(args.pg_env):
    m = re.match(r"(?:export )?(\w+)=(.*)", line.strip())
    if m: env[m.group(1)] = m.group(2).strip("'\"")
PORT, PGBIN = env["SCIM_PG_PORT"], env["SCIM_PG_BIN"]
def url(db, user="scim"): return f"postgresql://{user}@127.0.0.1:{PORT}/{db}"

procs = []
def stop_all():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in reversed(procs):
        try: p.wait(timeout=15)
        except subprocess.TimeoutExpired: p.kill()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

def sh(cmd, **kw):
    r = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd if isinstance(cmd, str) else ' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
    return r.stdout

def psql(db, sql, user="scim"):
    return sh(["psql", url(db, user), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql]).strip()

def start(name, argv):
    log = open(os.path.join(WORK, name + ".log"), "w")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    procs.append(p)
    return p

def wait_port(path, p, name):
    for _ in range(300):
        if os.path.exists(path) and open(path).read().strip(): return int(open(path).read())
        if p.poll() is not None: break
        time.sleep(0.1)
    sys.exit(f"bench: {name} did not start:\n" + open(os.path.join(WORK, name + ".log")).read()[-2000:])

def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    return 0.0

TICK = os.sysconf("SC_CLK_TCK")
def proc_cpu(pid, children=False):
    """User + system CPU seconds of a process (every thread); with `children`, plus its reaped children's."""
    try:
        text = open(f"/proc/{pid}/stat").read()
    except OSError:
        return 0.0
    f = text[text.rindex(")") + 2:].split()
    ticks = int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if children else 0)
    return ticks / TICK

def pg_cpu():
    """CPU seconds of the whole PostgreSQL server: the postmaster with its reaped children, plus live children."""
    data = env["SCIM_PG_DATA"]
    master = int(open(os.path.join(data, "postmaster.pid")).readline())
    total = proc_cpu(master, children=True)
    for name in os.listdir("/proc"):
        if not name.isdigit(): continue
        try:
            text = open(f"/proc/{name}/stat").read()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == master: total += proc_cpu(int(name))
    return total

def children_cpu():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def http(method, port, path, token=None, body=None, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if token: req.add_header("Authorization", "Bearer " + token)
    if body is not None: req.add_header("Content-Type", "application/scim+json")
    for k, v in (headers or {}).items(): req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=120) as r:
        data = r.read()
        return r.status, (json.loads(data) if data else None)

try:
    # ---- PostgreSQL: a larger buffer pool for the bench cluster (1M users ≈ 1.1 GB), kept between runs.
    if psql("postgres", "SHOW shared_buffers", "postgres") != "2GB":
        psql("postgres", "ALTER SYSTEM SET shared_buffers = '2GB'", "postgres")
        sh([os.path.join(ROOT, "scripts/pg.sh"), "restart", os.path.join(ROOT, ".pg/bench")])
    for db in ["scim_bench", "scim_bench_eu2", "scim_bench_control"]:
        sh([os.path.join(ROOT, "scripts/pg.sh"), "createdb", os.path.join(ROOT, ".pg/bench"), db])
    if psql("postgres", "SELECT count(*) FROM pg_tables WHERE tablename = 'pgbench_accounts'", "postgres") == "0":
        sh([os.path.join(PGBIN, "pgbench"), "-i", "-q", "-s", "10", url("postgres", "postgres")])

    keyring = os.path.join(WORK, "keyring")
    sh([os.path.join(args.bin, "scimctl"), "keyring", "init", keyring])
    regions = {}
    for rid, db in [("us", "scim_bench"), ("eu2", "scim_bench_eu2")]:
        portfile = os.path.join(WORK, rid + ".port")
        p = start("region-" + rid, [os.path.join(args.bin, "scim-region"), "--region", rid, "--regions-dir",
                                     os.path.join(ROOT, "Regions"), "--listen", "127.0.0.1:0", "--port-file", portfile,
                                     "--database-url", url(db), "--keyring-file", keyring, "--log-level", "warning",
                                     "--dev-unsigned-tenants", "--workers", "16", "--db-pool-size", "16"])
        regions[rid] = (p, wait_port(portfile, p, "region-" + rid))
    for _ in range(100):
        try:
            if http("GET", regions["us"][1], "/readyz")[0] == 200: break
        except Exception: time.sleep(0.2)
    gw_port_file, admin_port_file = os.path.join(WORK, "gw.port"), os.path.join(WORK, "admin.port")
    wrapper = shlex.split(os.environ.get("BENCH_GATEWAY_WRAPPER", ""))  # e.g. valgrind --tool=callgrind (profiling)
    gw = start("gateway", wrapper + [os.path.join(args.bin, "scim-gateway"), "--allow-any-host", "--listen", "127.0.0.1:0", "--port-file", gw_port_file,
                           "--admin-listen", "127.0.0.1:0", "--admin-port-file", admin_port_file,
                           "--admin-token-file", os.path.join(WORK, "admin-token"),
                           "--control-database-url", url("scim_bench_control"), "--keyring-file", keyring,
                           "--regions-dir", os.path.join(ROOT, "Regions"), "--log-level", "warning",
                           "--region-backends", ",".join(f"{r}=http://127.0.0.1:{regions[r][1]}" for r in regions)])
    GW = wait_port(gw_port_file, gw, "gateway")
    ADMIN = wait_port(admin_port_file, gw, "gateway")
    admin_token = open(os.path.join(WORK, "admin-token")).read().strip()
    def admin(method, path, body=None): return http(method, ADMIN, path, admin_token, body)

    # ---- Data: the bench tenant (a fixed id, so the 1M users load once), adopted by the gateway, unlimited rate.
    try:
        status, created = admin("POST", "/admin/v1/tenants", {"id": TENANT, "name": "bench", "region": "us",
                                                              "deprovisionPolicy": "hard",
                                                              "rateLimit": {"perSecond": 0, "burst": 0}})
        token = created["token"]["token"]
    except urllib.error.HTTPError as e:
        if e.code != 409: sys.exit(f"bench: tenant create failed: {e.read()[:300]}")
        # Kept from an earlier run: one fresh token (the previous ones are revoked).
        status, replaced = admin("POST", f"/admin/v1/tenants/{TENANT}/integration/token")
        token = replaced["token"]["token"]
    have = int(psql("scim_bench", f"SELECT set_config('app.tenant_id', '{TENANT}', false); SELECT count(*) FROM users WHERE tenant_id = '{TENANT}'").splitlines()[-1])
    if have < USERS:
        print(f"== loading {USERS} users (have {have}); once, kept in .pg/bench", flush=True)
        t = time.time()
        sh([os.path.join(ROOT, "scripts/load-users.sh"), url("scim_bench"), TENANT, str(USERS)])
        print(f"   loaded in {time.time() - t:.0f} s", flush=True)
    members = int(psql("scim_bench", f"SELECT set_config('app.tenant_id', '{TENANT}', false); SELECT count(*) FROM group_members WHERE tenant_id = '{TENANT}' AND group_id = '{GROUP}'").splitlines()[-1])
    if members < 100000:
        print("== creating a 100k-member group", flush=True)
        sh([os.path.join(ROOT, "scripts/load-group.sh"), url("scim_bench"), TENANT, GROUP, "100000"])
    # The database is kept between runs, and every run's writes (POST, PATCH) leave dead rows: vacuum now, so that
    # autovacuum does not start during this run's reads and count its CPU against them (PostgreSQL's CPU per request
    # sums every server process; one run measured 143 µs per GET instead of ~70 that way).
    for table in ["users", "user_emails", "group_members", "groups"]:
        psql("scim_bench", f"VACUUM (ANALYZE) {table}", "postgres")
    psql("postgres", "CHECKPOINT", "postgres")
    # Warm caches (this VM evicts the page cache readily; a cold read costs milliseconds).
    for db in ["scim_bench", "postgres"]:
        psql(db, "CREATE EXTENSION IF NOT EXISTS pg_prewarm", "postgres")
        psql(db, "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')", "postgres")

    if os.environ.get("BENCH_HOLD"):
        # Profiling aid: keep the deployment up and say how to reach it.
        json.dump({"gateway": GW, "admin": ADMIN, "region": regions["us"][1], "token": token, "tenant": TENANT,
                   "gateway_pid": gw.pid}, open(os.environ["BENCH_HOLD"], "w"))
        print(f"== holding (details in {os.environ['BENCH_HOLD']}); stop with SIGTERM", flush=True)
        while True: time.sleep(1)

    # ---- wrk scenarios.
    lua_dir = os.path.join(WORK, "lua")
    os.makedirs(lua_dir)
    def lua(name, text):
        path = os.path.join(lua_dir, name + ".lua")
        open(path, "w").write(text)
        return path
    rand_id = f'string.format("018f0000-0000-7000-8000-%012x", math.random(1, {USERS}))'
    scripts = {
        "get": lua("get", f'math.randomseed(os.time())\nrequest = function() return wrk.format("GET", "/scim/v2/Users/" .. {rand_id}) end\n'),
        "filter": lua("filter", f'math.randomseed(os.time())\nrequest = function() return wrk.format("GET", '
                      f'"/scim/v2/Users?filter=userName%20eq%20%22user" .. math.random(1, {USERS}) .. "%40EXAMPLE.com%22") end\n'),
        # wrk.format(method, path, headers, body) replaces wrk.headers when given headers (dropping -H
        # Authorization), so the content type is set once on wrk.headers instead.
        # Each wrk thread has its own Lua state: setup() hands each a distinct id, so userNames never collide.
        "post": lua("post", 'wrk.headers["Content-Type"] = "application/scim+json"\nlocal n = 0\nlocal counter = 0\n'
                    'function setup(thread) counter = counter + 1; thread:set("tid", counter) end\n'
                    'function init(args) tag = tostring(os.time()) .. "-" .. tostring(tid) end\n'
                    'request = function()\n  n = n + 1\n  local body = \'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bench-\' '
                    '.. tag .. "-" .. n .. \'@example.com","active":true}\'\n'
                    '  return wrk.format("POST", "/scim/v2/Users", nil, body)\nend\n'),
        "patch": lua("patch", f'wrk.headers["Content-Type"] = "application/scim+json"\nmath.randomseed(os.time())\nlocal body = \'{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"replace","path":"active","value":false}}]}}\'\n'
                     f'request = function() return wrk.format("PATCH", "/scim/v2/Users/" .. {rand_id}, nil, body) end\n'),
        "member": lua("member", f'wrk.headers["Content-Type"] = "application/scim+json"\nmath.randomseed(os.time())\nrequest = function()\n  local body = \'{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"add","path":"members","value":[{{"value":"\' .. {rand_id} .. \'"}}]}}]}}\'\n'
                      f'  return wrk.format("PATCH", "/scim/v2/Groups/{GROUP}", nil, body)\nend\n'),
    }

    REGION_PIDS = {rid: regions[rid][0].pid for rid in regions}
    def wrk(port, script, token, path="/", conns=CONNS, seconds=SECONDS, threads=2, timeout="10s"):
        cmd = ["wrk", f"-t{min(threads, conns)}", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", timeout,
               "-H", f"Authorization: Bearer {token}"]
        if script: cmd += ["-s", script]
        before = (children_cpu(), proc_cpu(gw.pid), proc_cpu(REGION_PIDS["us"]), pg_cpu())
        out = sh(cmd + [f"http://127.0.0.1:{port}{path}"])
        after = (children_cpu(), proc_cpu(gw.pid), proc_cpu(REGION_PIDS["us"]), pg_cpu())
        def dur(s):
            v, unit = float(re.match(r"([\d.]+)", s).group(1)), re.search(r"[a-z]+", s).group(0)
            return v * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50 = dur(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        p99 = dur(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors = re.search(r"Socket errors: (.*)", out)
        count = int(re.search(r"(\d+) requests in", out).group(1))
        # CPU microseconds per request of each process (from /proc and getrusage: wall-clock-free, so comparable
        # between runs on a noisy machine as long as the work per request is the same).
        cpu = {name: (a - b) * 1e6 / max(count, 1) for name, a, b in zip(["wrk", "gateway", "region", "postgres"], after, before)}
        return {"rps": rps, "p50": p50, "p99": p99, "non2xx": int(bad.group(1)) if bad else 0,
                "socket_errors": errors.group(1) if errors else "", "count": count, "cpu": cpu}

    def pgbench_gone():
        # pgbench's backends exit after it returns, and the postmaster adds their whole CPU time to its children's
        # total when it reaps them: if that lands inside the next measurement, the next scenario is charged seconds of
        # pgbench's work (GET once read 143 µs of PostgreSQL CPU instead of ~75). Wait until they are gone.
        deadline = time.time() + 10
        while time.time() < deadline:
            if psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'", "postgres") == "0":
                break
            time.sleep(0.05)
        time.sleep(0.3)

    pgbench_pg_cpu = {}
    def pgbench():
        before = pg_cpu()
        out = sh([os.path.join(PGBIN, "pgbench"), "-S", "-M", "prepared", "-c", str(CONNS), "-j", "2", "-T", str(SECONDS),
                  url("postgres", "postgres")])
        pgbench_gone()
        # PostgreSQL's CPU per pgbench -S transaction: the yardstick of the PostgreSQL CPU a GET may cost.
        count = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
        pgbench_pg_cpu["us"] = (pg_cpu() - before) * 1e6 / max(count, 1)
        return float(re.search(r"tps = ([\d.]+)", out).group(1))

    rows = []
    def row(name, result, ref=None, ref_name="", target=""):
        ratio = f"{result['rps'] / ref:.2f} of {ref_name}" if ref else ""
        bad = f"  non-2xx={result['non2xx']}" if result["non2xx"] else ""
        cpu = result.get("cpu", {})
        cpu_text = " / ".join(f"{cpu[k]:.0f}" for k in ["wrk", "gateway", "region", "postgres"]) if cpu else ""
        rows.append((name, f"{result['rps']:.0f}", f"{result['p50']:.2f}", f"{result['p99']:.2f}", ratio + bad, cpu_text, target))
        print(f"   {name:<44} {result['rps']:>9.0f} rps  p50 {result['p50']:.2f} ms  p99 {result['p99']:.2f} ms  {ratio}{bad}"
              + (f"  cpu µs/req wrk/gw/region/pg {cpu_text}" if cpu_text else ""), flush=True)

    def wanted(name): return not ONLY or name in ONLY
    print(f"== measuring: {CONNS} connections, {SECONDS} s per run, wrk on loopback (2 threads)", flush=True)
    REGION = regions["us"][1]
    # Warm both paths.
    wrk(REGION, scripts["get"], TENANT, seconds=3)
    wrk(GW, scripts["get"], token, seconds=3)
    pgbench()  # warm-up
    ref = pgbench()
    rows.append(("pgbench -S (prepared, same PostgreSQL)", f"{ref:.0f}", "", "", "reference",
                 f"pg {pgbench_pg_cpu['us']:.0f}", ""))
    print(f"   {'pgbench -S':<44} {ref:>9.0f} tps  PostgreSQL cpu µs/txn {pgbench_pg_cpu['us']:.0f}", flush=True)

    if wanted("get"):
        direct = wrk(REGION, scripts["get"], TENANT)
        row("GET /Users/{id}, region direct", direct, ref, "pgbench", "≥ 0.40 of pgbench")
        rows.append(("  region CPU per GET (µs)", f"{direct['cpu']['region']:.0f}", "", "", "", "", "≤ 40 µs"))
        print(f"   {'  region CPU per GET':<44} {direct['cpu']['region']:.0f} µs", flush=True)
        pg_ratio = direct['cpu']['postgres'] / max(pgbench_pg_cpu['us'], 1e-9)
        rows.append(("  PostgreSQL CPU per GET / per pgbench -S txn", f"{pg_ratio:.2f}", "", "", "", "", "≤ 1.5"))
        print(f"   {'  PostgreSQL CPU per GET / pgbench -S txn':<44} {pg_ratio:.2f}", flush=True)
        through = wrk(GW, scripts["get"], token)
        row("GET /Users/{id}, through the gateway", through, ref, "pgbench", "≥ 0.30 of pgbench, p99 ≤ 5 ms")
        rows.append(("  gateway / region-direct", f"{through['rps'] / direct['rps']:.2f}", "", "", "", "", "≥ 0.9"))
        print(f"   {'  gateway / region-direct':<44} {through['rps'] / direct['rps']:.2f}", flush=True)
        rows.append(("  gateway CPU per proxied GET (µs)", f"{through['cpu']['gateway']:.0f}", "", "", "", "", "≤ 40 µs"))
        print(f"   {'  gateway CPU per proxied GET':<44} {through['cpu']['gateway']:.0f} µs", flush=True)
    if wanted("get"):
        row("GET /Users/{id}, gateway, 1 connection (latency)", wrk(GW, scripts["get"], token, conns=1), None, "", "p99 ≤ 5 ms")
    if wanted("filter"):
        row("filter userName eq (1M users), region direct", wrk(REGION, scripts["filter"], TENANT), ref, "pgbench")
        row("filter userName eq (1M users), gateway", wrk(GW, scripts["filter"], token), ref, "pgbench")
        row("filter userName eq (1M users), gateway, 1 connection", wrk(GW, scripts["filter"], token, conns=1), None, "",
            "p99 ≤ 5 ms")
    # Write references: what this PostgreSQL does for the simplest write transaction (pgbench -N: three updates and
    # an insert, one commit) and for the bare INSERT of a user row into our schema (same table, indexes, row-level
    # security and event trigger; one commit), both at the same concurrency. A POST cannot beat the second.
    write_ref = insert_ref = None
    if wanted("post") or wanted("patch") or wanted("member"):
        # Warm the write path too (unmeasured): the first seconds of writes on fresh region connections ran with
        # p99 in the hundreds of ms, whichever path (gateway or region direct) happened to come first.
        wrk(REGION, scripts["post"], TENANT, seconds=3)
        wrk(GW, scripts["post"], token, seconds=3)
        psql("postgres", "CHECKPOINT", "postgres")
        out = sh([os.path.join(PGBIN, "pgbench"), "-n", "-N", "-M", "prepared", "-c", str(CONNS), "-j", "2", "-T", str(SECONDS),
                  url("postgres", "postgres")])
        pgbench_gone()
        write_ref = float(re.search(r"tps = ([\d.]+)", out).group(1))
        rows.append(("pgbench -N (simple write transaction)", f"{write_ref:.0f}", "", "", "reference", "", ""))
        print(f"   {'pgbench -N (simple write transaction)':<44} {write_ref:>9.0f} tps", flush=True)
        insert_sql = os.path.join(WORK, "insert-user.sql")
        # userNames unique per run and client (`pg-<run>-<client>-<random>`): a bare random number collided with an
        # earlier run's row once the table held enough of them, and the aborted reference stopped the whole bench.
        run_tag = f"{int(time.time())}{os.getpid()}"
        open(insert_sql, "w").write(
            "\\set r random(1, 1000000000000)\nBEGIN;\n"
            f"SELECT set_config('app.tenant_id', '{TENANT}', true);\n"
            f"INSERT INTO users (tenant_id, id, user_name, user_name_key, active, resource, created_at, last_modified) VALUES ('{TENANT}', gen_random_uuid(), "
            f"'pg-{run_tag}-' || :client_id || '-' || :r || '@example.com', 'pg-{run_tag}-' || :client_id || '-' || :r || '@example.com', true, jsonb_build_object('schemas', "
            f"jsonb_build_array(replace('urn;ietf;params;scim;schemas;core;2.0;User', ';', chr(58))), 'userName', 'pg-{run_tag}-' || :client_id || '-' || :r || '@example.com', "
            "'active', true), date_trunc('milliseconds', now()), date_trunc('milliseconds', now())) "
            "RETURNING id::text, resource::text, version, created_at, last_modified;\nEND;\n")
        psql("postgres", "CHECKPOINT", "postgres")
        out = sh([os.path.join(PGBIN, "pgbench"), "-n", "-M", "prepared", "-c", str(CONNS), "-j", "2", "-T", str(SECONDS),
                  "-f", insert_sql, url("scim_bench")])
        pgbench_gone()
        insert_ref = float(re.search(r"tps = ([\d.]+)", out).group(1))
        rows.append(("bare user INSERT via pgbench (our schema)", f"{insert_ref:.0f}", "", "", "reference", "", ""))
        print(f"   {'bare user INSERT via pgbench (our schema)':<44} {insert_ref:>9.0f} tps", flush=True)
    def settle():
        # Each write scenario starts from a clean buffer pool: the previous one's dirty pages and WAL otherwise land
        # as commit stalls (tens to hundreds of ms on this VM's disk) in whichever scenario runs next.
        psql("postgres", "CHECKPOINT", "postgres")
    if wanted("post"):
        settle()
        row("POST /Users, gateway", wrk(GW, scripts["post"], token), insert_ref, "bare INSERT", "≥ 5,000 rps")
        settle()
        row("POST /Users, region direct", wrk(REGION, scripts["post"], TENANT), insert_ref, "bare INSERT")
    if wanted("patch"):
        settle()
        row("PATCH active=false, gateway", wrk(GW, scripts["patch"], token), write_ref, "pgbench -N")
    if wanted("cursor"):
        first = wrk(GW, None, token, path="/scim/v2/Users?cursor&count=100&attributes=userName")
        row("list 100 by cursor, page 1, gateway", first, ref, "pgbench")
        # Walk to depth 500,000 with large pages (the cursor does not depend on the page size), then measure there.
        t = time.time()
        cursor, position = "", 0
        while position < 500000:
            status, page = http("GET", GW, f"/scim/v2/Users?count=1000&attributes=id&cursor={cursor}", token)
            cursor = page.get("nextCursor")
            position += len(page.get("Resources", []))
            if not cursor: break
        if cursor:
            deep = wrk(GW, None, token, path=f"/scim/v2/Users?count=100&attributes=userName&cursor={urllib.parse.quote(cursor)}")
            row(f"list 100 by cursor at depth {position}, gateway", deep, ref, "pgbench")
            deep1 = wrk(GW, None, token, conns=1, path=f"/scim/v2/Users?count=100&attributes=userName&cursor={urllib.parse.quote(cursor)}")
            row(f"list 100 by cursor at depth {position}, gateway, 1 connection", deep1, None, "", "≤ 10 ms")
    if wanted("member"):
        settle()
        row("member add to a 100k-member group, gateway", wrk(GW, scripts["member"], token), write_ref, "pgbench -N")
        settle()
        # Adds to one group serialise on the group's version row; the latency target is per add.
        row("member add to a 100k-member group, gateway, 1 connection", wrk(GW, scripts["member"], token, conns=1), None, "",
            "≤ 5 ms")

    if wanted("roles"):
        # Issue 18: the 100k-member group mapped to a role. The rule change recomputes every one of the 1M users in
        # the background (the region's default pace: a pause as long as each batch); then the member add again, now
        # on a group whose members' roles follow it (each add recomputes the added user's roles in its transaction).
        # At the end the rules are removed again (another recompute), so the other scenarios stay as they were.
        def recompute_done(limit=1800):
            t = time.time()
            while time.time() - t < limit:
                state = admin("GET", f"/admin/v1/tenants/{TENANT}/roles")[1]["recompute"]
                if state["state"] in ("done", "none"): return state, time.time() - t
                time.sleep(0.5)
            raise RuntimeError("the recompute did not finish")
        settle()
        admin("PUT", f"/admin/v1/tenants/{TENANT}/roles", {"roles": [{"key": "member"}],
                                                           "rules": [{"group": {"displayName": "Bench 100k"}, "role": "member"}],
                                                           "defaultRole": None})
        state, took = recompute_done()
        rows.append((f"rule change: recompute of {state['processed']} users ({state['changed']} changed)", "", "", "",
                     f"{took:.1f} s", "", ""))
        print(f"   rule change: recompute of {state['processed']} users ({state['changed']} changed) in {took:.1f} s", flush=True)
        settle()
        row("member add to the 100k group mapped to a role, gateway", wrk(GW, scripts["member"], token), write_ref, "pgbench -N")
        settle()
        row("member add to the 100k group mapped to a role, 1 connection", wrk(GW, scripts["member"], token, conns=1), None, "",
            "≤ 5 ms")
        admin("DELETE", f"/admin/v1/tenants/{TENANT}/roles")
        state, took = recompute_done()
        rows.append((f"rules removed: recompute of {state['processed']} users ({state['changed']} changed)", "", "", "",
                     f"{took:.1f} s", "", ""))
        print(f"   rules removed: recompute of {state['processed']} users ({state['changed']} changed) in {took:.1f} s", flush=True)
    if wanted("reqlog"):
        # Issue 17: GET by id through the gateway with the tenant's request log on (the default: mode full, written by
        # the region's background writer) and off (the tenant setting), alternated twice so that drift on this shared
        # machine falls on both alike. Goal: on ≥ 0.9 of off.
        def log_mode(mode):
            admin("PATCH", f"/admin/v1/tenants/{TENANT}", {"requestLog": {"mode": mode}})
            time.sleep(1)  # the region's tenant cache is invalidated by NOTIFY; let it settle
        def region_metric(name):
            text = urllib.request.urlopen(f"http://127.0.0.1:{REGION}/metrics", timeout=10).read().decode()
            return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))
        runs = {"off": [], "full": []}
        def writer_totals():
            return [region_metric(n) for n in ["scim_region_request_log_written_total", "scim_region_request_log_dropped_total",
                                               "scim_region_request_log_encode_seconds_sum", "scim_region_request_log_batch_seconds_sum"]]
        before = writer_totals()
        for _ in range(2):
            for mode in ["off", "full"]:
                log_mode(mode)
                runs[mode].append(wrk(GW, scripts["get"], token))
        log_mode("full")
        time.sleep(2)
        written, dropped, encode, insert = [a - b for a, b in zip(writer_totals(), before)]
        per_record = f"writer per record: redact+encode {encode * 1e6 / max(written, 1):.1f} µs, insert {insert * 1e6 / max(written, 1):.1f} µs"
        def mean(results):
            out = {k: sum(r[k] for r in results) / len(results) for k in ["rps", "p50", "p99"]}
            out["non2xx"] = sum(r["non2xx"] for r in results)
            out["cpu"] = {k: sum(r["cpu"][k] for r in results) / len(results) for k in results[0]["cpu"]}
            return out
        off, on = mean(runs["off"]), mean(runs["full"])
        row("GET /Users/{id}, gateway, request log off", off)
        row("GET /Users/{id}, gateway, request log on", on, off["rps"], "log off", "≥ 0.9 of off")
        # Throughput swings with whatever else this shared machine runs; CPU time per request (all four processes,
        # from /proc) does much less, and on two saturated cores it is what bounds throughput: its ratio is the steadier
        # estimate of the same figure.
        cpu_off, cpu_on = sum(off["cpu"].values()), sum(on["cpu"].values())
        rows.append(("  CPU per request, all processes: off / on", f"{cpu_off / cpu_on:.2f}", "", "",
                     f"{cpu_off:.0f} / {cpu_on:.0f} µs", "", "≥ 0.9"))
        print(f"   {'  CPU per request off / on':<44} {cpu_off / cpu_on:.2f}  ({cpu_off:.0f} / {cpu_on:.0f} µs)", flush=True)
        rows.append(("  request log on / off (runs: " + ", ".join(f"{r['rps']:.0f}" for r in runs["full"]) + " vs "
                     + ", ".join(f"{r['rps']:.0f}" for r in runs["off"]) + " rps)", f"{on['rps'] / off['rps']:.2f}", "", "",
                     f"records written {written:.0f}, dropped {dropped:.0f}; {per_record}", "", "≥ 0.9"))
        print(f"   {'  request log on / off':<44} {on['rps'] / off['rps']:.2f}  (records written {written:.0f}, dropped {dropped:.0f}; "
              f"{per_record})", flush=True)

    if wanted("fault"):
        # Issue 14: the other region's tenant while us is stopped with SIGSTOP. A quiet eu2 tenant (4 connections)
        # is measured while 100 connections of a us tenant call, first with us healthy, then with us stopped.
        status, eu = admin("POST", "/admin/v1/tenants", {"name": f"bench-eu-{int(time.time())}", "region": "eu2",
                                                         "rateLimit": {"perSecond": 0, "burst": 0}})
        eu_token = eu["token"]["token"]
        status, eu_user = http("POST", GW, "/scim/v2/Users", eu_token, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                                         "userName": f"quiet-{time.time()}@eu.example"})
        eu_get = lua("eu_get", f'request = function() return wrk.format("GET", "/scim/v2/Users/{eu_user["id"]}") end\n')
        def quiet_with_noise():
            noise = subprocess.Popen(["wrk", "-t1", "-c100", f"-d{SECONDS + 2}s", "--timeout", "30s", "-H", f"Authorization: Bearer {token}",
                                      "-s", scripts["get"], f"http://127.0.0.1:{GW}/"], stdout=subprocess.DEVNULL)
            time.sleep(1)
            result = wrk(GW, eu_get, eu_token, conns=4, seconds=SECONDS, threads=1)
            noise.wait()
            return result
        before = quiet_with_noise()
        row("eu2 tenant GET, 100 us conns calling, us healthy", before)
        regions["us"][0].send_signal(signal.SIGSTOP)
        try:
            time.sleep(2)
            during = quiet_with_noise()
        finally:
            regions["us"][0].send_signal(signal.SIGCONT)
        row("eu2 tenant GET, 100 us conns calling, us SIGSTOPped", during)
        ratio = during["p99"] / max(before["p99"], 0.001)
        rows.append(("  eu2 p99 during / before the us fault", f"{ratio:.2f}", "", "", "", "", "≤ 2"))
        print(f"   {'  eu2 p99 during / before the us fault':<44} {ratio:.2f}", flush=True)
        for _ in range(100):
            try:
                if http("GET", GW, f"/scim/v2/Users/{eu_user['id']}", eu_token)[0] == 200 and \
                   http("GET", GW, "/scim/v2/Users?count=1", token)[0] == 200: break
            except Exception: time.sleep(0.1)

    if wanted("memory"):
        idle_gw, idle_region = rss_mb(gw.pid), rss_mb(regions["us"][0].pid)
        load = subprocess.Popen(["wrk", "-t2", f"-c{CONNS}", "-d5s", "-H", f"Authorization: Bearer {token}", "-s", scripts["get"],
                                 f"http://127.0.0.1:{GW}/"], stdout=subprocess.DEVNULL)
        time.sleep(3)
        load_gw, load_region = rss_mb(gw.pid), rss_mb(regions["us"][0].pid)
        load.wait()
        import socket, resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))
        socks = []
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", GW))
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            socks.append(s)
        for s in socks: s.recv(4096)
        time.sleep(1)
        many_gw = rss_mb(gw.pid)
        for s in socks: s.close()
        rows.append(("RSS gateway: idle / under load / 1,000 idle conns (MB)", f"{idle_gw:.0f} / {load_gw:.0f} / {many_gw:.0f}", "", "", "", "", ""))
        rows.append(("RSS region: idle / under load (MB)", f"{idle_region:.0f} / {load_region:.0f}", "", "", "", "", ""))
        print(f"   RSS gateway idle {idle_gw:.0f} MB, load {load_gw:.0f} MB, 1000 idle conns {many_gw:.0f} MB; region idle {idle_region:.0f} MB, load {load_region:.0f} MB", flush=True)

        # Issue 14: 10,000 idle client connections plus 1,000 requests parked on a stopped region. A second gateway
        # whose bulkhead admits 1,000 (512 in flight, 512 queued) and whose breaker never opens, so every one of the
        # 1,000 really waits; then the region is resumed and every request must be answered.
        gw2_port, gw2_admin = os.path.join(WORK, "gw2.port"), os.path.join(WORK, "gw2.admin.port")
        gw2 = start("gateway2", [os.path.join(args.bin, "scim-gateway"), "--allow-any-host", "--listen", "127.0.0.1:0", "--port-file", gw2_port,
                                 "--admin-listen", "127.0.0.1:0", "--admin-port-file", gw2_admin,
                                 "--control-database-url", url("scim_bench_control"), "--keyring-file", keyring,
                                 "--regions-dir", os.path.join(ROOT, "Regions"), "--log-level", "error",
                                 "--region-max-in-flight", "512", "--region-max-queued", "512", "--region-queue-timeout", "60s",
                                 "--upstream-first-byte-timeout", "60s", "--upstream-timeout", "90s",
                                 "--breaker-failures", "10000", "--health-interval", "60s",
                                 "--region-backends", ",".join(f"{r}=http://127.0.0.1:{regions[r][1]}" for r in regions)])
        GW2 = wait_port(gw2_port, gw2, "gateway2")
        http("GET", GW2, "/scim/v2/Users?count=1", token)  # warm: token cached, a connection to us
        base_gw2 = rss_mb(gw2.pid)
        idle = []
        for _ in range(10000):
            idle.append(socket.create_connection(("127.0.0.1", GW2)))
        time.sleep(1)
        regions["us"][0].send_signal(signal.SIGSTOP)
        waiting = []
        try:
            for i in range(1000):
                c = socket.create_connection(("127.0.0.1", GW2))
                c.sendall((f"GET /scim/v2/Users/018f0000-0000-7000-8000-{i + 1:012x} HTTP/1.1\r\nHost: x\r\n"
                           f"Authorization: Bearer {token}\r\n\r\n").encode())
                waiting.append(c)
            time.sleep(3)
            parked_rss = rss_mb(gw2.pid)
            status, metrics_text = 0, urllib.request.urlopen(f"http://127.0.0.1:{int(open(gw2_admin).read())}/metrics", timeout=10).read().decode()
            parked = re.search(r"^scim_gateway_requests_waiting (\S+)", metrics_text, re.M)
            threads = len(os.listdir(f"/proc/{gw2.pid}/task"))
        finally:
            regions["us"][0].send_signal(signal.SIGCONT)
        answered = 0
        for c in waiting:
            c.settimeout(60)
            try:
                if c.recv(64).startswith(b"HTTP/1.1 "): answered += 1
            except OSError:
                pass
            c.close()
        for c in idle: c.close()
        gw2.send_signal(signal.SIGTERM)
        gw2.wait(timeout=20)
        rows.append(("RSS gateway: 10,000 idle conns + 1,000 requests parked on a stopped region (MB)",
                     f"{parked_rss:.0f}", "", "", f"base {base_gw2:.0f} MB, parked {parked.group(1) if parked else '?'}, "
                     f"{threads} threads, answered after resume {answered}/1000", "", "≤ 64 MB"))
        print(f"   RSS gateway with 10k idle conns + 1000 parked requests: {parked_rss:.0f} MB (base {base_gw2:.0f} MB, "
              f"parked {parked.group(1) if parked else '?'}, threads {threads}); answered after resume {answered}/1000", flush=True)

    print("\n| scenario | rps | p50 ms | p99 ms | ratio | CPU µs/req wrk / gateway / region / PostgreSQL | target |\n|---|---|---|---|---|---|---|")
    for r in rows: print("| " + " | ".join(r) + " |")
except Exception as e:
    print(f"bench: {e}", file=sys.stderr)
    for name in ["gateway", "region-us"]:
        path = os.path.join(WORK, name + ".log")
        if os.path.exists(path): print(f"--- {name} log ---\n" + "\n".join(l for l in open(path).read().splitlines() if "crashed" in l or "Fatal" in l or "failure" in l or " at /work" in l)[:4000], file=sys.stderr)
    sys.exit(1)
finally:
    stop_all()
    subprocess.run(["rm", "-rf", WORK])
