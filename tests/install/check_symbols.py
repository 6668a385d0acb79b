# SPDX-License-Identifier: MIT
"""Symbol versions of the shared library, against abi/nano_wal.map, the
header and the changelog:

  - the library defines exactly the version nodes of the map that have a
    function (plus its soname's base definition), each inheriting the node
    the map says (`readelf -V`);
  - every symbol it exports is an nwal_* function carrying the version of
    its node in the map (`nwal_x@@NWAL_a.b`); nothing else is exported;
  - every function of the header says `@since a.b (symbol version NWAL_a.b)`
    with its node's version, and the changelog names it in the section of
    release a.b.0 (or, while a.b.0 is the version in Cargo.toml and not
    released, in [Unreleased]).

Names of the map that no export defines yet are listed, not failed: GNU ld
gives them no version.

usage: python3 check_symbols.py LIBRARY SOURCE_DIR [EXTRA_SYMBOL...]
  EXTRA_SYMBOL: a test-only export and its node, as NAME=NODE.
"""
import pathlib
import re
import subprocess
import sys

lib, root = sys.argv[1], pathlib.Path(sys.argv[2])
extra = dict(arg.split("=", 1) for arg in sys.argv[3:])
problems = []

# The map: node -> parent, function -> node.
text = re.sub(r"/\*.*?\*/", "", (root / "abi/nano_wal.map").read_text(), flags=re.S)
parents, node_of = {}, {}
for m in re.finditer(r"(NWAL_[0-9.]+)\s*\{(.*?)\}\s*(NWAL_[0-9.]+)?\s*;", text, re.S):
    node, body, parent = m.groups()
    parents[node] = parent
    glob = re.search(r"global:(.*?)(local:|$)", body, re.S)
    for name in re.findall(r"(nwal_[a-z0-9_]+)\s*;", glob.group(1) if glob else body):
        if name in node_of:
            problems.append(f"abi/nano_wal.map: {name} is in {node_of[name]} and {node}")
        node_of[name] = node
for name, node in extra.items():
    node_of[name] = node
    parents.setdefault(node, None)

# What the library exports, with versions.
dyn = subprocess.run(["readelf", "-W", "--dyn-syms", lib], check=True,
                     capture_output=True, text=True).stdout
exported = {}
for line in dyn.splitlines():
    f = line.split()
    if len(f) < 8 or not f[0][:-1].isdigit() or f[6] == "UND":
        continue
    name, _, version = f[7].partition("@@")
    if f[6] == "ABS" and f[3] == "OBJECT" and name in parents:
        continue  # the symbol of a version definition
    if not name.startswith("nwal_"):
        problems.append(f"{lib}: exports {f[7]}, which is not a C API function")
        continue
    if not version:
        problems.append(f"{lib}: {f[7]} has no default version")
    exported[name] = version
for name, version in sorted(exported.items()):
    want = node_of.get(name)
    if want is None:
        problems.append(f"{lib}: {name} is exported but not in abi/nano_wal.map")
    elif version != want:
        problems.append(f"{lib}: {name}@@{version}, the map says {want}")
pending = sorted(n for n in node_of if n not in exported and n not in extra)
if pending:
    problems.append("in abi/nano_wal.map but not exported: " + ", ".join(pending))

# Version definitions (readelf -V): the nodes in use, with their parents.
verdefs = subprocess.run(["readelf", "-W", "-V", lib], check=True,
                         capture_output=True, text=True).stdout
section = verdefs.split("Version definition section", 1)
if len(section) < 2:
    problems.append(f"{lib}: no version definitions (.gnu.version_d)")
else:
    body = section[1].split("Version needs section", 1)[0]
    defined = {}
    last = None
    for line in body.splitlines():
        m = re.search(r"Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)", line)
        if m:
            last = m.group(2)
            defined[last] = None if m.group(1) == "BASE" else []
            continue
        m = re.search(r"Parent \d+: (\S+)", line)
        if m and last and defined.get(last) is not None:
            defined[last].append(m.group(1))
    used = {node_of[n] for n in exported if n in node_of}
    nodes = {n: p for n, p in defined.items() if p is not None}
    if set(nodes) != used:
        problems.append(f"{lib}: version nodes {sorted(nodes)}, expected {sorted(used)}")
    for node, plist in nodes.items():
        want = [parents[node]] if parents.get(node) else []
        if plist != want:
            problems.append(f"{lib}: {node} inherits {plist}, the map says {want}")

# The header: @since per function.
header = (root / "include/nano_wal.h").read_text()
for m in re.finditer(r"/\*\*((?:(?!\*/).)*)\*/\n[^;{]*?[ *](nwal_[a-z0-9_]+)\(", header, re.S):
    doc, name = m.groups()
    node = node_of.get(name)
    since = re.search(r"@since (\d+\.\d+) \(symbol version (NWAL_[0-9.]+)\)", doc)
    if node is None:
        problems.append(f"include/nano_wal.h: {name} is not in abi/nano_wal.map")
    elif not since:
        problems.append(f"include/nano_wal.h: {name} has no '@since X.Y (symbol version NWAL_X.Y)'")
    elif since.group(2) != node or "NWAL_" + since.group(1) != node:
        problems.append(f"include/nano_wal.h: {name} says {since.group(0)}, the map says {node}")
    elif name not in exported:
        problems.append(f"{lib}: {name} is declared in the header but not exported")

# The changelog: each function in the section of its release.
changelog = (root / "CHANGELOG.md").read_text()
sections = dict(re.findall(r"^## \[([^\]]+)\][^\n]*\n(.*?)(?=^## \[|\Z)", changelog, re.S | re.M))
crate_version = re.search(r'^version = "([^"]+)"', (root / "Cargo.toml").read_text(), re.M).group(1)
for name, node in sorted(node_of.items()):
    if name not in exported or name in extra:
        continue
    release = node[len("NWAL_"):] + ".0"
    body = sections.get(release)
    if body is None and release == crate_version:
        body = sections.get("Unreleased")
    if body is None:
        problems.append(f"CHANGELOG.md: no section for {release} (where {name} appeared)")
    elif f"`{name}`" not in body:
        problems.append(f"CHANGELOG.md: the {release} section does not name `{name}`")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"check_symbols: OK ({len(exported)} exports, nodes {', '.join(sorted(set(exported.values())))})")
