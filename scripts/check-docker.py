#!/usr/bin/env python3
"""Validates docker/ without a Docker engine: the compose file parses, every path it references exists,
services reference each other consistently, region configs match their services, and the Dockerfile copies
what exists and runs as a non-root user. Exit 1 with one line per problem."""
import json, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
docker = os.path.join(root, "docker")
problems = []

try:
    import yaml
except ImportError:
    print("check-docker: PyYAML is missing (apt-get install python3-yaml or pip install pyyaml)", file=sys.stderr)
    sys.exit(2)

compose_path = os.path.join(docker, "compose.yaml")
with open(compose_path) as f:
    compose = yaml.safe_load(f)
services = compose.get("services", {})
declared_secrets = set((compose.get("secrets") or {}).keys())
declared_volumes = set((compose.get("volumes") or {}).keys())

for name, svc in services.items():
    build = svc.get("build")
    if build:
        ctx = os.path.normpath(os.path.join(docker, build["context"]))
        if not os.path.isdir(ctx):
            problems.append(f"{name}: build context {build['context']} does not exist")
        elif not os.path.isfile(os.path.join(ctx, build.get("dockerfile", "Dockerfile"))):
            problems.append(f"{name}: dockerfile {build.get('dockerfile')} does not exist")
    for s in svc.get("secrets", []):
        if s not in declared_secrets:
            problems.append(f"{name}: secret {s} is not declared")
    for v in svc.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith("."):
            if not os.path.exists(os.path.join(docker, src)):
                problems.append(f"{name}: bind mount {src} does not exist")
        elif src not in declared_volumes:
            problems.append(f"{name}: volume {src} is not declared")
    for dep in (svc.get("depends_on") or {}):
        if dep not in services:
            problems.append(f"{name}: depends on unknown service {dep}")
    env = svc.get("environment") or {}
    for key, value in env.items():
        m = re.match(r"postgresql://[^@]*@([^:/]+)", str(value))
        if m and m.group(1) not in services:
            problems.append(f"{name}: {key} points at unknown host {m.group(1)}")
        if re.match(r"postgresql://[^@/]*:[^@/]*@", str(value)):
            problems.append(f"{name}: {key} carries a password; use SCIM_DATABASE_PASSWORD_FILE")
    cmd = svc.get("command") or []
    if "--region" in cmd:
        region = cmd[cmd.index("--region") + 1]
        path = os.path.join(docker, "regions", region + ".json")
        if not os.path.isfile(path):
            problems.append(f"{name}: docker/regions/{region}.json missing")
            continue
        with open(path) as f:
            cfg = json.load(f)
        if cfg.get("id") != region:
            problems.append(f"docker/regions/{region}.json: id {cfg.get('id')} does not match the file name")
        backend = re.match(r"http://([^:/]+):(\d+)", cfg.get("backendURL", ""))
        if not backend or backend.group(1) != name:
            problems.append(f"docker/regions/{region}.json: backendURL host should be the service name {name}")
        listen_port = cfg.get("listen", ":").rsplit(":", 1)[1]
        health = " ".join(svc.get("healthcheck", {}).get("test", []))
        if f":{listen_port}/" not in health:
            problems.append(f"{name}: healthcheck does not probe the listen port {listen_port}")
        if backend and backend.group(2) != listen_port:
            problems.append(f"docker/regions/{region}.json: backendURL port differs from listen port")
        dbhost = re.match(r"postgresql://[^@]*@([^:/]+)", cfg.get("database", {}).get("url", ""))
        if not dbhost or dbhost.group(1) not in services:
            problems.append(f"docker/regions/{region}.json: database host is not a compose service")

for name, spec in (compose.get("secrets") or {}).items():
    rel = spec.get("file", "")
    if not rel.startswith("./secrets/"):
        problems.append(f"secret {name}: keep secret files under docker/secrets/ (git-ignored)")
ignore = open(os.path.join(docker, ".gitignore")).read() if os.path.exists(os.path.join(docker, ".gitignore")) else ""
if "secrets/" not in ignore:
    problems.append("docker/.gitignore must ignore secrets/")

with open(os.path.join(docker, "Dockerfile")) as f:
    dockerfile = f.read()
if len(re.findall(r"^FROM ", dockerfile, re.M)) < 2:
    problems.append("Dockerfile: expected a multi-stage build")
for src in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M):
    if not os.path.exists(os.path.join(root, src)):
        problems.append(f"Dockerfile: COPY source {src} does not exist")
users = re.findall(r"^USER (\S+)", dockerfile, re.M)
if not users or users[-1].split(":")[0] in ("root", "0"):
    problems.append("Dockerfile: the runtime stage must run as a non-root USER")

for p in problems:
    print("check-docker:", p, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-docker: ok ({len(services)} services, {len(declared_secrets)} secrets, Dockerfile stages: "
      f"{len(re.findall(r'^FROM ', dockerfile, re.M))})")
