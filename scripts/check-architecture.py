#!/usr/bin/env python3
"""Checks the module structure against Package.swift and docs/ARCHITECTURE.md (run by `make test`):
- every module a source file imports is a declared dependency of its target, and every declared dependency is
  imported somewhere in the target (no undeclared or unused dependencies);
- the module graph written in docs/ARCHITECTURE.md (the `module-graph` block) is exactly Package.swift's;
- the pure modules import no C library and no I/O module, and nothing pure imports Glibc;
- scimctl's transitive dependencies hold no database driver (libpq) and no gateway or region code.
Exits 1 with every problem listed."""
import os, re, sys
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pkg = open(os.path.join(root, "Package.swift")).read()
targets = {}  # name -> (kind, deps, path)
for m in re.finditer(r"\.(target|executableTarget|testTarget|systemLibrary)\(name: \"([^\"]+)\"(.*?)\)(?=,\n\s*(?:\.|//|\]))", pkg, re.S):
    kind, name, rest = m.group(1), m.group(2), m.group(3)
    deps = re.findall(r"\"([^\"]+)\"", (re.search(r"dependencies: \[(.*?)\]", rest, re.S) or [None, ""])[1]) if "dependencies:" in rest else []
    path = re.search(r"path: \"([^\"]+)\"", rest)
    default = {"testTarget": "Tests/" + name}.get(kind, "Sources/" + name)
    targets[name] = (kind, deps, path.group(1) if path else default)
problems = []
system = {"Glibc", "Synchronization", "Testing", "XCTest", "Foundation", "Dispatch", "_Concurrency"}
for name, (kind, deps, path) in targets.items():
    if kind == "systemLibrary": continue
    imported = set()
    for d, _, files in os.walk(os.path.join(root, path)):
        for f in files:
            if f.endswith(".swift"):
                for m in re.finditer(r"(?m)^(?:@testable |public |package )?import (\w+)", open(os.path.join(d, f)).read()):
                    imported.add(m.group(1))
    imported -= system
    for mod in sorted(imported - set(deps)):
        if mod in targets: problems.append(f"{name}: imports {mod} without declaring it in Package.swift")
    for mod in sorted(set(deps) - imported):
        problems.append(f"{name}: declares {mod} in Package.swift but never imports it")
# The documented graph.
doc = open(os.path.join(root, "docs/ARCHITECTURE.md")).read()
block = re.search(r"```module-graph\n(.*?)```", doc, re.S)
if not block:
    problems.append("docs/ARCHITECTURE.md: no ```module-graph block")
else:
    documented = {}
    for line in block.group(1).strip().splitlines():
        if ":" not in line: continue
        mod, deps = line.split(":", 1)
        documented[mod.strip()] = set(filter(None, (d.strip() for d in deps.split(","))))
    actual = {n: set(d) for n, (k, d, _) in targets.items() if k in ("target", "executableTarget") and not n.endswith("-bench")}
    for mod in sorted(set(actual) | set(documented)):
        if actual.get(mod) != documented.get(mod):
            problems.append(f"docs/ARCHITECTURE.md module graph for {mod}: documented {sorted(documented.get(mod, []))}, Package.swift {sorted(actual.get(mod, []))}")
# Purity.
pure = ["CivilTime", "JSON", "HTTPCore", "SCIMCore"]
io = {"NetIO", "Postgres", "Crypto", "CLibPQ", "COpenSSL", "CLinuxIO", "Telemetry", "Lifecycle", "Locking"}
for mod in pure:
    for d, _, files in os.walk(os.path.join(root, "Sources", mod)):
        for f in files:
            text = open(os.path.join(d, f)).read()
            for m in re.finditer(r"(?m)^(?:public |package )?import (\w+)", text):
                if m.group(1) in io or m.group(1) == "Glibc":
                    problems.append(f"{mod} is pure but {f} imports {m.group(1)}")
# scimctl's closure.
def closure(name, seen=None):
    seen = seen if seen is not None else set()
    for d in targets.get(name, (None, [], None))[1]:
        if d not in seen:
            seen.add(d)
            closure(d, seen)
    return seen
for forbidden in ["Postgres", "CLibPQ", "GatewayApp", "RegionApp", "RegionSCIM", "RegionEvents"]:
    if forbidden in closure("scimctl"):
        problems.append(f"scimctl depends (transitively) on {forbidden}")
if problems:
    print("check-architecture: " + str(len(problems)) + " problem(s)\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"check-architecture: ok ({sum(1 for t in targets.values() if t[0] != 'systemLibrary')} targets; graph matches docs/ARCHITECTURE.md; "
      f"pure modules pure; scimctl without libpq)")
