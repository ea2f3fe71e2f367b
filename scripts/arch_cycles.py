#!/usr/bin/env python3
"""Import-cycle check at module granularity for one crate's `src` directory.

Every `.rs` file is one module (`lib.rs`/`main.rs` is the crate root,
`a/mod.rs` and `a.rs` are `a`); modules written inline in a file (`mod
tests { ... }`) count as part of that file's module. An edge A -> B is any
path in A's code (in a `use` tree or an expression) that names B or an item
inside B: `crate::...`, `super::...`, `self::...`, or a child module's name.
`mod b;` declarations are ownership, not use, and make no edge.

Prints every cycle (strongly connected component of more than one module)
with the edges inside it and their lines, and exits 1 if there is one.

Optionally, `--layers a,b|c,d` checks a layering rule over the crate's
top-level modules: layers are listed top first (`|` separates modules of one
layer); an edge from a module to a module of a higher layer is refused.
Modules not listed (and the crate root) may use any layer.

`--known-cycle a,b::c` reports a cycle of exactly those modules without
failing (a cycle being removed by other work); any other cycle still fails.

Usage: arch_cycles.py SRC_DIR [--layers SPEC] [--known-cycle MODULES]
"""

import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_code(text):
    """Blanks comments, string and char literals, keeping line numbers."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif re.match(r'b?r(#*)"', text[i:i + 80]) and (i == 0 or not re.match(r"[A-Za-z0-9_]", text[i - 1])):
            m = re.match(r'b?r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_files(src):
    """Maps module path tuples to file paths."""
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            full = os.path.join(root, f)
            rel = os.path.relpath(full, src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            if tuple(rel) in mods and rel == []:
                # lib.rs and main.rs: two crate roots; keep both apart.
                continue
            mods[tuple(rel)] = full
    return mods


def expand_use(tree):
    """Expands a use tree (`a::{b, c::{d, e}}`) into flat paths."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)
    tree = re.sub(r"\s+", "", tree)

    def parse(s, i):
        # Returns (list of paths, next index) for a tree starting at s[i].
        prefix = []
        paths = []
        while i < len(s):
            if s[i] == "{":
                i += 1
                while True:
                    sub, i = parse(s, i)
                    paths += [prefix + p for p in sub]
                    if i < len(s) and s[i] == ",":
                        i += 1
                        if i < len(s) and s[i] == "}":
                            i += 1
                            return paths, i
                        continue
                    if i < len(s) and s[i] == "}":
                        i += 1
                    return paths, i
            m = re.compile(IDENT + r"(?:@" + IDENT + r")?|\*").match(s, i)
            if not m:
                break
            prefix.append(m.group(0))
            i = m.end()
            if s.startswith("::", i):
                i += 2
                continue
            break
        if prefix:
            paths.append(prefix)
        return paths, i

    out, i = [], 0
    while i < len(tree):
        paths, j = parse(tree, i)
        out += paths
        i = j + 1 if j < len(tree) and tree[j] == "," else max(j, i + 1)
    return out


def expand_use_named(tree):
    """Like expand_use, with the name each path is bound to (`as` aliases
    kept)."""
    out = []
    for part in expand_use(re.sub(r"\s+as\s+(" + IDENT + ")", r"@\1", tree)):
        last = part[-1] if part else ""
        if "@" in last:
            name_, alias = last.split("@", 1)
            out.append((part[:-1] + [name_], alias))
        elif part:
            out.append((part, part[-1] if part[-1] != "self" else part[-2] if len(part) > 1 else "self"))
    return out


def analyse(src):
    mods = module_files(src)
    children = {}
    for m in mods:
        if m:
            children.setdefault(m[:-1], set()).add(m[-1])
    edges = {}  # (from, to) -> [line, ...]

    # Re-exports (`pub use a::B;`, `pub use a::B as C;`): a path naming a
    # re-exported item depends on where the item lives, not on the module
    # re-exporting it. A re-export of something outside the crate is no edge.
    reexports = {}  # module -> {name: (path, inline depth 0)}
    reexport_re = re.compile(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]*);")
    for here, file in mods.items():
        code = strip_code(open(file, encoding="utf-8").read())
        for m in reexport_re.finditer(code):
            tree = m.group(1)
            for path, alias in expand_use_named(tree):
                if path and path[-1] != "*":
                    reexports.setdefault(here, {})[alias] = path

    def resolve(here, path, depth=0):
        """The module a path names (longest known module prefix, following
        re-exports), or None when it leaves the crate."""
        if not path or depth > 16:
            return None
        if path[0] == "crate":
            base, rest = (), path[1:]
        elif path[0] in ("super", "self"):
            base, rest = here, path
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    base = base[:-1]
                rest = rest[1:]
        elif path[0] in children.get(here, ()):
            base, rest = here, path
        else:
            return None
        target = base
        i = 0
        while i < len(rest) and target + (rest[i],) in mods:
            target = target + (rest[i],)
            i += 1
        if i < len(rest) and rest[i] in reexports.get(target, {}):
            via = reexports[target][rest[i]]
            return resolve(target, list(via) + list(rest[i + 1:]), depth + 1)
        return target

    for here, file in sorted(mods.items()):
        raw = open(file, encoding="utf-8").read()
        code = strip_code(raw)
        # Inline modules: `super` inside them first climbs out of the
        # inline module, staying in this file's module.
        inline = []  # brace depths at which inline modules opened
        depth = 0
        pos = 0
        token = re.compile(
            r"\bmod\s+" + IDENT + r"\s*\{"
            r"|\buse\s+([^;]*);"
            r"|(?<![A-Za-z0-9_:])((?:" + IDENT + r"::)+" + IDENT + r")"
            r"|[{}]"
        )
        for m in token.finditer(code):
            text = m.group(0)
            line = code.count("\n", 0, m.start()) + 1
            if text == "{":
                depth += 1
                continue
            if text == "}":
                depth -= 1
                while inline and inline[-1] > depth:
                    inline.pop()
                continue
            if text.startswith("mod") and text.endswith("{"):
                depth += 1
                inline.append(depth)
                continue
            if m.group(1) is not None:
                paths = expand_use(m.group(1))
            else:
                paths = [m.group(2).split("::")]
            for path in paths:
                # `super` inside inline modules stays in the file.
                path = list(path)
                for k in range(min(len(inline), len(path))):
                    if path[k] != "super":
                        break
                    path[k] = "self"
                target = resolve(here, path)
                if target is None or target == here:
                    continue
                # A path through an ancestor to a descendant names only the
                # descendant; naming an ancestor itself is an edge to it.
                edges.setdefault((here, target), []).append(line)
    return mods, edges


def sccs(nodes, edges):
    graph = {n: [] for n in nodes}
    for (a, b) in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def name(m):
    return "crate::" + "::".join(m) if m else "crate"


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    src = args[0]
    layers = None
    if "--layers" in args:
        spec = args[args.index("--layers") + 1]
        layers = {}
        for rank, group in enumerate(spec.split(",")):
            for m in group.split("|"):
                layers[m] = rank
    known = set()
    if "--known-cycle" in args:
        known = {
            tuple(m.split("::")) for m in args[args.index("--known-cycle") + 1].split(",")
        }
    mods, edges = analyse(src)
    failed = False
    seen_known = False
    for comp in sccs(mods.keys(), edges):
        members = set(comp)
        if members == known:
            seen_known = True
            print(f"known cycle in {src} (still to be removed): "
                  + " , ".join(sorted(name(m) for m in comp)))
        else:
            failed = True
            print(f"cycle in {src}: " + " , ".join(sorted(name(m) for m in comp)))
        for (a, b), lines in sorted(edges.items()):
            if a in members and b in members:
                print(f"  {name(a)} -> {name(b)}  ({os.path.relpath(mods[a])}:{lines[0]})")
    if layers:
        for (a, b), lines in sorted(edges.items()):
            if a and b and a[0] in layers and b[0] in layers and layers[b[0]] < layers[a[0]]:
                failed = True
                print(
                    f"layering in {src}: {name(a)} (layer {a[0]}) uses {name(b)} "
                    f"(higher layer {b[0]})  ({os.path.relpath(mods[a])}:{lines[0]})"
                )
    if not failed:
        other = " other" if seen_known else ""
        print(f"{src}: {len(mods)} modules, {len(edges)} edges, no{other} cycle")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
