#!/usr/bin/env python3
"""Refuses a cycle among the modules of a crate (decision 0027).

Reads every `.rs` file under each given `src` directory and draws an edge
from a module to each module whose items it names through `crate::`,
`super::`, `self::` or (in a `mod.rs`/`lib.rs`) a child's name. A name
reached through a re-export (`pub use child::Item`) counts as the module
that defines it, so a facade such as `auth` re-exporting `Permission` does
not tie its users to everything else it re-exports. Test modules
(`#[cfg(test)]` and after) and comments are left out.

Prints every cycle with its edges and exits 1 if there is one.

    python3 .ci/module_cycles.py crates/platform/src crates/wms/src
"""

import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def read_modules(root):
    """Module path (`auth::roles`, '' for the crate root) -> (source, is_dir)."""
    mods = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)[:-3]
            is_dir = name in ("mod.rs", "lib.rs", "main.rs")
            if rel.endswith("/mod"):
                rel = rel[:-4]
            if rel in ("lib", "main"):
                rel = ""
            with open(path, encoding="utf-8") as f:
                source = f.read()
            source = source.split("#[cfg(test)]")[0]
            source = re.sub(r"//[^\n]*", "", source)
            mods[rel.replace("/", "::")] = (source, is_dir)
    return mods


def expand(prefix, rest):
    """The paths `prefix::rest` names, `rest` possibly a `{a, b::{c}}` group."""
    if rest.startswith("{"):
        parts, depth, cur = [], 0, ""
        for ch in rest[1:]:
            if ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0:
                    parts.append(cur)
                    break
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            cur += ch
        out = []
        for part in parts:
            m = re.match(rf"\s*({IDENT})(::)?(.*)", part, re.S)
            if not m:
                continue
            if m.group(2):
                out += expand(prefix + [m.group(1)], m.group(3).strip())
            else:
                out.append(prefix + [m.group(1)])
        return out
    m = re.match(rf"({IDENT})(::)?", rest)
    if not m:
        return [prefix]
    if m.group(2):
        return expand(prefix + [m.group(1)], rest[m.end():])
    return [prefix + [m.group(1)]]


def graph(root):
    mods = read_modules(root)
    names = set(mods)

    def module_of(path):
        for i in range(len(path), 0, -1):
            candidate = "::".join(path[:i])
            if candidate in names:
                return candidate
        return None

    def paths_at(here, is_dir, text):
        """Absolute paths named by `text` (a `use` tree or an inline path)."""
        for keyword, base in (("crate::", []), ("super::", here[:-1]), ("self::", here)):
            if text.startswith(keyword):
                return expand(base, text[len(keyword):])
        first = re.match(IDENT, text)
        if is_dir and first and "::".join(here + [first.group(0)]) in names:
            return expand(here, text)
        return []

    # (module, item) -> module that defines the item it re-exports.
    reexports = {}
    for module, (source, is_dir) in mods.items():
        here = module.split("::") if module else []
        for m in re.finditer(r"pub use ([^;]+);", source):
            for path in paths_at(here, is_dir, m.group(1).strip()):
                owner = module_of(path[:-1]) if len(path) > 1 else None
                if owner is not None:
                    reexports[(module, path[-1])] = owner

    def target(path):
        owner = module_of(path)
        if owner is None:
            return None
        depth = len(owner.split("::")) if owner else 0
        for _ in range(10):
            if depth < len(path) and (owner, path[depth]) in reexports:
                owner = reexports[(owner, path[depth])]
            else:
                break
        return owner

    edges = {m: set() for m in mods}
    for module, (source, is_dir) in mods.items():
        here = module.split("::") if module else []
        body = re.sub(r"(pub(\([a-z]+\))? )?mod [a-z_]+;", "", source)
        starts = [m.start() for m in re.finditer(r"\b(crate|super|self)::", body)]
        if is_dir:
            for m in re.finditer(rf"(?<![:\w])({IDENT})::", body):
                if "::".join(here + [m.group(1)]) in names:
                    starts.append(m.start())
        for start in starts:
            for path in paths_at(here, is_dir, body[start:]):
                t = target(path)
                if t is not None and t != module and t != "" and not module.startswith(t + "::"):
                    edges[module].add(t)
    return edges


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def main(roots):
    failed = False
    for root in roots:
        edges = graph(root)
        found = cycles(edges)
        print(f"{root}: {len(edges)} modules, {sum(len(e) for e in edges.values())} edges, "
              f"{len(found)} cycles")
        for component in found:
            failed = True
            print(f"  cycle of {len(component)}:")
            for m in component:
                print(f"    {m} -> {', '.join(sorted(edges[m] & set(component)))}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
