#!/usr/bin/env python3
"""Validates docker/ without a Docker engine: the compose files (compose.yaml and the high-availability profile
compose.ha.yaml) parse, every path they reference exists, services reference each other consistently, region
configs match their services, a gateway's backends (--region-backends, else the region files it mounts) include every
replica of every region, and every Dockerfile they build copies what exists and runs as a non-root user.
Exit 1 with one line per problem (problems of compose.ha.yaml are prefixed with its name)."""
import json, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
docker = os.path.join(root, "docker")
problems = []

try:
    import yaml
except ImportError:
    print("check-docker: PyYAML is missing (apt-get install python3-yaml or pip install pyyaml)", file=sys.stderr)
    sys.exit(2)


def db_hosts(url):
    """Hosts of a postgresql:// URL, several for a multi-host URL (postgresql://u@h1:5432,h2:5432/db)."""
    m = re.match(r"postgresql://[^@/]*@([^/?]+)", str(url))
    return [h.rsplit(":", 1)[0] if ":" in h else h for h in m.group(1).split(",")] if m else []


def check_dockerfile(label, path, context, problem):
    """COPY sources exist (relative to the build context) and the last USER is not root. Returns the number
    of stages."""
    with open(path) as f:
        text = f.read()
    for src in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        if not os.path.exists(os.path.join(context, src)):
            problem(f"{label}: COPY source {src} does not exist")
    users = re.findall(r"^USER (\S+)", text, re.M)
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problem(f"{label}: the runtime stage must run as a non-root USER")
    return len(re.findall(r"^FROM ", text, re.M))


def check_compose(file_name, problem):
    with open(os.path.join(docker, file_name)) as f:
        compose = yaml.safe_load(f)
    services = compose.get("services", {})
    declared_secrets = set((compose.get("secrets") or {}).keys())
    declared_volumes = set((compose.get("volumes") or {}).keys())
    dockerfiles = {}

    # scim-region services by region id: several replicas of one region are allowed (compose.ha.yaml).
    region_services = {}
    for name, svc in services.items():
        cmd = svc.get("command") or []
        if "--region" in cmd:
            region_services.setdefault(cmd[cmd.index("--region") + 1], []).append(name)

    for name, svc in services.items():
        build = svc.get("build")
        if build:
            ctx = os.path.normpath(os.path.join(docker, build["context"]))
            dockerfile = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
            if not os.path.isdir(ctx):
                problem(f"{name}: build context {build['context']} does not exist")
            elif not os.path.isfile(dockerfile):
                problem(f"{name}: dockerfile {build.get('dockerfile')} does not exist")
            else:
                dockerfiles[dockerfile] = ctx
        for s in svc.get("secrets", []):
            if s not in declared_secrets:
                problem(f"{name}: secret {s} is not declared")
        regions_dir = os.path.join(docker, "regions")  # what the image bakes in (docker/Dockerfile)
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                if not os.path.exists(os.path.join(docker, src)):
                    problem(f"{name}: bind mount {src} does not exist")
                elif v.split(":")[1] == "/etc/scim/regions":
                    regions_dir = os.path.join(docker, src)
            elif src not in declared_volumes:
                problem(f"{name}: volume {src} is not declared")
        for dep in (svc.get("depends_on") or {}):
            if dep not in services:
                problem(f"{name}: depends on unknown service {dep}")
        env = svc.get("environment") or {}
        for key, value in env.items():
            for host in db_hosts(value):
                if host not in services:
                    problem(f"{name}: {key} points at unknown host {host}")
            if re.match(r"postgresql://[^@/]*:[^@/]*@", str(value)):
                problem(f"{name}: {key} carries a password; use SCIM_DATABASE_PASSWORD_FILE")
        cmd = svc.get("command") or []
        flag_backends = None
        for arg in cmd:
            if str(arg).startswith("--region-backends="):
                flag_backends = {}
                for pair in str(arg).split("=", 1)[1].split(","):
                    region, _, urls = pair.partition("=")
                    # A region's replicas are separated by '|'.
                    for url in urls.split("|"):
                        backend = re.match(r"https?://([^:/]+)", url)
                        if not re.fullmatch(r"[a-z0-9]+", region) or not backend or backend.group(1) not in services:
                            problem(f"{name}: --region-backends entry {region}={url} is not a compose service")
                        else:
                            flag_backends.setdefault(region, []).append(backend.group(1))
        if any(str(a).startswith("--admin-listen") for a in cmd):
            # A gateway: every replica of every region must be among its backends (from the flag, else from the
            # region files it reads), or that replica would serve no traffic.
            for region, replicas in region_services.items():
                if flag_backends is not None:
                    hosts, origin = flag_backends.get(region, []), "--region-backends"
                else:
                    path = os.path.join(regions_dir, region + ".json")
                    origin = f"docker/{os.path.relpath(regions_dir, docker)}/{region}.json"
                    try:
                        with open(path) as f:
                            cfg = json.load(f)
                    except (OSError, ValueError):
                        problem(f"{name}: {origin} missing or not JSON")
                        continue
                    urls = [cfg.get("backendURL") or ""] + list(cfg.get("backendURLs") or [])
                    hosts = [m.group(1) for m in (re.match(r"https?://([^:/]+)", u) for u in urls) if m]
                missing = sorted(set(replicas) - set(hosts))
                if missing:
                    problem(f"{name}: region {region}'s backends ({origin}) leave out {', '.join(missing)}")
        if "--region" in cmd:
            region = cmd[cmd.index("--region") + 1]
            rel = os.path.relpath(regions_dir, docker)
            path = os.path.join(regions_dir, region + ".json")
            if not os.path.isfile(path):
                problem(f"{name}: docker/{rel}/{region}.json missing")
                continue
            with open(path) as f:
                cfg = json.load(f)
            if cfg.get("id") != region:
                problem(f"docker/{rel}/{region}.json: id {cfg.get('id')} does not match the file name")
            replicas = region_services[region]
            backend = re.match(r"http://([^:/]+):(\d+)", cfg.get("backendURL", ""))
            if not backend or backend.group(1) not in replicas:
                problem(f"docker/{rel}/{region}.json: backendURL host should be the service name "
                        f"{' or '.join(replicas)}")
            if "backendURLs" in cfg:
                listed = [re.match(r"https?://([^:/]+)", u or "") for u in cfg["backendURLs"]]
                hosts = {m.group(1) for m in listed if m}
                if hosts != set(replicas) or len(listed) != len(hosts):
                    problem(f"docker/{rel}/{region}.json: backendURLs should list each of {', '.join(replicas)} once")
            listen_port = cfg.get("listen", ":").rsplit(":", 1)[1]
            health = " ".join(svc.get("healthcheck", {}).get("test", []))
            if f":{listen_port}/" not in health:
                problem(f"{name}: healthcheck does not probe the listen port {listen_port}")
            if backend and backend.group(2) != listen_port:
                problem(f"docker/{rel}/{region}.json: backendURL port differs from listen port")
            hosts = db_hosts(cfg.get("database", {}).get("url", ""))
            if not hosts or any(h not in services for h in hosts):
                problem(f"docker/{rel}/{region}.json: database host is not a compose service")

    for name, spec in (compose.get("secrets") or {}).items():
        rel = spec.get("file", "")
        if not rel.startswith("./secrets/"):
            problem(f"secret {name}: keep secret files under docker/secrets/ (git-ignored)")
    return services, declared_secrets, dockerfiles


services, declared_secrets, dockerfiles = check_compose("compose.yaml", problems.append)
ha_services, ha_secrets, ha_dockerfiles = check_compose(
    "compose.ha.yaml", lambda p: problems.append(f"compose.ha.yaml: {p}"))

ignore = open(os.path.join(docker, ".gitignore")).read() if os.path.exists(os.path.join(docker, ".gitignore")) else ""
if "secrets/" not in ignore:
    problems.append("docker/.gitignore must ignore secrets/")

# The application image: multi-stage, COPY paths relative to the repository root (its build context).
app_dockerfile = os.path.join(docker, "Dockerfile")
with open(app_dockerfile) as f:
    dockerfile = f.read()
if len(re.findall(r"^FROM ", dockerfile, re.M)) < 2:
    problems.append("Dockerfile: expected a multi-stage build")
check_dockerfile("Dockerfile", app_dockerfile, root, problems.append)
# Every other Dockerfile a compose file builds (docker/patroni/Dockerfile): same COPY and USER checks.
for path, ctx in sorted({**dockerfiles, **ha_dockerfiles}.items()):
    if os.path.realpath(path) != os.path.realpath(app_dockerfile):
        check_dockerfile(os.path.relpath(path, docker), path, ctx, problems.append)

for p in problems:
    print("check-docker:", p, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-docker: ok ({len(services)} services, {len(declared_secrets)} secrets, Dockerfile stages: "
      f"{len(re.findall(r'^FROM ', dockerfile, re.M))}; compose.ha.yaml: {len(ha_services)} services, "
      f"{len(ha_secrets)} secrets)")
