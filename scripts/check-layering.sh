#!/usr/bin/env bash
# Checks that dependencies point one way (STYLE.md, "Layout"): base <- audio, proto <- engine <-
# core <- server. Exit 0 when clean, 1 with one line per problem, 2 on a usage error.
#
#   scripts/check-layering.sh                 # the checkout this script is in
#   scripts/check-layering.sh --root DIR      # another tree (a copy, a fixture)
#   scripts/check-layering.sh --no-symbols    # (c) from #include lines alone (see below)
#   scripts/check-layering.sh --self-test     # plants each kind of violation in a temp tree and
#                                             # asserts that each one is caught
#
# (a) libwebsockets stays in src/server: no file of a lower layer (src/core, src/engine,
#     src/audio, src/proto, src/base, and include/stt/NAME.h of those layers) includes
#     libwebsockets.h or one of its lws_*.h / lws-*.h / libwebsockets/... headers, directly or
#     through a header of no known layer.
# (b) No file includes a header of a higher layer: src/core never includes src/server headers;
#     src/audio, src/proto, src/engine and src/base never include src/server or src/core headers;
#     base includes base only; engine includes no core header. A header's layer is its folder
#     under src/; a public header include/stt/NAME.h has the layer of src/*/NAME.c (the module it
#     is the interface of: stt/stream.h is core's when src/core/stream.c exists). audio and proto
#     are one level: they may include each other.
# (c) No dependency cycle between the modules of src/server (subfolders included: adapters/x and
#     sinks/y are modules of their own). The check is module-level, not file-level, on purpose:
#     foo.c and foo.h are one node "foo", so session.c -> server.h plus server.c -> session.h is a
#     cycle although no file includes itself again, and a 3-module circle session -> server ->
#     session through a third file is found the same way. A file-level include graph never has a
#     cycle once every header has a guard, so it would miss exactly what this is for.
#     A module depends on another when one of its files
#       - includes one of the other's files (quoted includes, resolved relative to the including
#         file, then to src/server/); or
#       - uses (calls, takes the address of, reads) a function or variable that the other
#         module's .c defines (non-static), whatever header declared it. This is what finds the
#         cycles hidden in one header shared by several modules (redis' server.h, STYLE.md): a
#         declaration alone is no use; comments and strings are not looked at.
#     --no-symbols leaves out the second kind (#include lines only).
#
# Include lines are read with comments removed; #if/#ifdef are not evaluated (an include under
# any branch counts). Quoted includes resolve relative to the including file, then src/server/
# (for files there), include/, src/; angle includes against include/ and src/ only (anything else
# is a system header). Function and variable definitions are found by a small C reader (brace
# depth, file-scope statements): enough for this codebase's clang-format'ed C, not a compiler.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STT_LAYERING_ROOT="$(dirname "$here")" STT_LAYERING_SCRIPT="$here/$(basename "${BASH_SOURCE[0]}")" \
    exec python3 - "$@" <<'PY'
import os
import re
import shutil
import subprocess
import sys
import tempfile

LAYERS = {"base": 0, "audio": 1, "proto": 1, "engine": 2, "core": 3, "server": 4}
LOWER = [name for name in LAYERS if name != "server"]
ME = "check-layering"


def is_lws_header(name):
    base = name.rsplit("/", 1)[-1]
    return (base == "libwebsockets.h" or re.match(r"lws[_-].*\.h$", base) is not None or
            name.startswith("libwebsockets/"))


# ---- reading C ----

def strip_comments_strings(text):
    """Comments and string/char literal contents become spaces; newlines stay (line numbers)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + (c if j - 1 > i else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]', re.M)


def includes_of(raw):
    """[(line, kind, name)] of a file's #include lines, commented-out ones left out. The file
    name is a string literal, so it is read from the raw text at the lines that survive."""
    code = strip_comments_strings(raw)
    raw_lines, code_lines = raw.split("\n"), code.split("\n")
    res = []
    for ln, line in enumerate(code_lines):
        if re.match(r"[ \t]*#[ \t]*include\b", line):
            m = INCLUDE_RE.match(raw_lines[ln])
            if m:
                res.append((ln + 1, m.group(1), m.group(2).strip()))
    return res


IDENT_RE = re.compile(r"\b[A-Za-z_]\w*\b")
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else", "case"}


def split_preprocessor(code):
    """(code without preprocessor lines, the preprocessor lines' text) of a stripped file."""
    keep, pp, cont = [], [], False
    for line in code.split("\n"):
        if cont or re.match(r"[ \t]*#", line):
            pp.append(line)
            keep.append("")
            cont = line.rstrip().endswith("\\")
        else:
            keep.append(line)
    return "\n".join(keep), "\n".join(pp)


def defs_and_uses(raw):
    """(non-static functions and variables the file defines, identifiers it uses). Uses are the
    identifiers in function bodies, file-scope initializers and macro bodies: prototypes, extern
    declarations, typedefs and function heads are declarations, not uses."""
    code, pp = split_preprocessor(strip_comments_strings(raw))
    defs, uses = set(), set(IDENT_RE.findall(pp))
    stmt, inner, depth, i, n = [], [], 0, 0, len(code)
    func_body = False
    while i < n:
        c = code[i]
        if depth == 0:
            if c == "{":
                head = "".join(stmt).strip()
                if head.endswith(")") and "=" not in head:
                    func_body = True
                    m = next((m for m in re.finditer(r"([A-Za-z_]\w*)\s*\(", head)
                              if not m.group(1).startswith("__")), None)
                    if m and m.group(1) not in KEYWORDS and \
                            not re.search(r"\bstatic\b", head[:m.start()]):
                        defs.add(m.group(1))
                else:
                    func_body = False
                    stmt.append("{}")
                depth = 1
            elif c == ";":
                text = "".join(stmt).strip()
                stmt = []
                init = "".join(inner)
                inner = []
                name = file_scope_variable(text)
                if name is not None:
                    defs.add(name)
                # An initializer uses what it names (a static table of another module's
                # functions is a dependency too); a struct's members are no uses.
                if "=" in text and not re.match(r"(typedef|extern)\b", text):
                    uses.update(IDENT_RE.findall(text.split("=", 1)[1]))
                    uses.update(IDENT_RE.findall(init))
            elif c == "}":
                pass  # unbalanced: ignore
            else:
                stmt.append(c)
        else:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if depth == 0:
                if func_body:
                    uses.update(IDENT_RE.findall("".join(inner)))
                    inner, stmt, func_body = [], [], False
            else:
                inner.append(c)
        i += 1
    return defs, uses


def file_scope_variable(text):
    """The name a file-scope statement defines as a non-static variable, or None (prototype,
    typedef, extern, static, a struct/enum definition without a variable)."""
    if not text or re.match(r"(typedef|extern|static)\b", text) or \
            re.search(r"\b(static|extern|typedef)\b", text.split("=", 1)[0]):
        return None
    before = text.split("=", 1)[0]
    if "(" in before:
        # A function pointer "T (*name)(...)" or a table of them; anything else with a
        # parenthesis is a prototype "T name(...)".
        m = re.match(r"[^(]*\(\s*\*\s*(?:const\s+)?([A-Za-z_]\w*)", before)
        return m.group(1) if m else None
    if "{}" in before:
        before = before.rsplit("{}", 1)[1]
    before = re.sub(r"\[[^\]]*\]", " ", before)
    names = IDENT_RE.findall(before)
    if not names or (len(names) == 2 and names[0] in ("struct", "union", "enum")):
        return None
    if len(names) == 1 and "=" not in text:
        return None  # "foo;" alone: not a definition this reader trusts
    return names[-1]


# ---- the tree ----

class Tree:
    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.files = []  # repo-relative paths of every .c/.h under src/ and include/
        for top in ("src", "include"):
            for d, _, names in os.walk(os.path.join(self.root, top)):
                for f in sorted(names):
                    if f.endswith((".c", ".h")):
                        self.files.append(os.path.relpath(os.path.join(d, f), self.root))
        self.files.sort()
        self.fileset = set(self.files)
        self.raw = {}
        for f in self.files:
            with open(os.path.join(self.root, f), encoding="utf-8", errors="replace") as fh:
                self.raw[f] = fh.read()
        self.incs = {f: includes_of(self.raw[f]) for f in self.files}
        self.unknown = set()
        self.layer = {f: self.layer_of(f) for f in self.files}

    def layer_of(self, f):
        parts = f.split(os.sep)
        if parts[0] == "src" and len(parts) > 2:
            if parts[1] not in LAYERS:
                self.unknown.add("src/" + parts[1])
                return None
            return parts[1]
        if parts[0] == "include" and f.endswith(".h"):
            stem = os.path.splitext(parts[-1])[0]
            owners = {g.split(os.sep)[1] for g in self.files
                      if g.startswith("src" + os.sep) and g.count(os.sep) >= 2 and
                      os.path.basename(g) == stem + ".c" and g.split(os.sep)[1] in LAYERS}
            if len(owners) == 1:
                return owners.pop()
        return None

    def resolve(self, f, kind, name):
        """The repo-relative project file an include names, or None (system/external)."""
        cands = []
        if kind == '"':
            cands.append(os.path.join(os.path.dirname(f), name))
            if f.startswith(os.path.join("src", "server") + os.sep):
                cands.append(os.path.join("src", "server", name))
        cands += [os.path.join("include", name), os.path.join("src", name)]
        for c in cands:
            c = os.path.normpath(c)
            if not c.startswith(".." + os.sep) and c in self.fileset:
                return c
        return None


def show(kind, name):
    return f"<{name}>" if kind == "<" else f'"{name}"'


def check_layers(t, problems):
    for d in sorted(t.unknown):
        print(f"{ME}: note: {d}/ is no layer of STYLE.md's; its files are not checked",
              file=sys.stderr)
    for f in t.files:
        lay = t.layer[f]
        if lay is None or lay == "server":
            continue
        for ln, kind, name in t.incs[f]:
            target = t.resolve(f, kind, name)
            if target is None and is_lws_header(name):
                problems.append(
                    f"{f}:{ln}: includes {show(kind, name)}: libwebsockets belongs to src/server "
                    f"alone; {lay} code reports through callbacks (STYLE.md, Layout)")
                continue
            if target is None:
                continue
            tl = t.layer[target]
            if tl is not None and LAYERS[tl] > LAYERS[lay]:
                problems.append(
                    f"{f}:{ln}: includes {show(kind, name)} ({target}, layer {tl}): {lay} may "
                    f"not depend on {tl} (base <- audio, proto <- engine <- core <- server)")
            elif tl is None:
                chain = lws_through(t, target, [f, target], set())
                if chain:
                    problems.append(
                        f"{f}:{ln}: includes {show(kind, name)}, which reaches libwebsockets: "
                        f"{' -> '.join(chain)}; libwebsockets belongs to src/server alone")


def lws_through(t, f, path, seen):
    """A chain of includes from header f (of no known layer) to a libwebsockets header."""
    if f in seen:
        return None
    seen.add(f)
    for _, kind, name in t.incs[f]:
        target = t.resolve(f, kind, name)
        if target is None and is_lws_header(name):
            return path + [show(kind, name)]
        if target is not None and t.layer[target] is None:
            chain = lws_through(t, target, path + [target], seen)
            if chain:
                return chain
    return None


# ---- (c) module cycles in src/server ----

def server_module(f):
    pre = os.path.join("src", "server") + os.sep
    if not f.startswith(pre):
        return None
    return os.path.splitext(f[len(pre):])[0].replace(os.sep, "/")


def module_graph(t, symbols):
    edges = {}  # (a, b) -> [evidence]
    mods = sorted({server_module(f) for f in t.files if server_module(f)})

    def add(a, b, why):
        if a != b:
            edges.setdefault((a, b), []).append(why)

    for f in t.files:
        a = server_module(f)
        if a is None:
            continue
        for ln, kind, name in t.incs[f]:
            if kind != '"':
                continue
            target = t.resolve(f, kind, name)
            b = server_module(target) if target else None
            if b:
                rel = os.path.relpath(f, "src/server")
                add(a, b, f"{rel}:{ln} includes {os.path.relpath(target, 'src/server')}")
    if symbols:
        owner, du = {}, {}
        for f in t.files:
            if server_module(f):
                du[f] = defs_and_uses(t.raw[f])
                if f.endswith(".c"):
                    for s in du[f][0]:
                        owner.setdefault(s, f)
        for f, (_, uses) in du.items():
            a = server_module(f)
            for s in sorted(uses & set(owner)):
                g = owner[s]
                if server_module(g) != a:
                    add(a, server_module(g),
                        f"{os.path.relpath(f, 'src/server')} uses {s} "
                        f"(defined in {os.path.relpath(g, 'src/server')})")
    return mods, edges


def sccs(nodes, adj):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(adj.get(root, ())))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(adj.get(nxt, ()))))
                elif nxt in on:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def shortest_cycle(start, adj, allowed):
    prev, queue = {start: None}, [start]
    for v in queue:
        for w in sorted(adj.get(v, ())):
            if w not in allowed:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return [start] + path[::-1][1:] + [start] if path[-1] == start else None
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return None


def check_cycles(t, symbols, problems):
    mods, edges = module_graph(t, symbols)
    adj = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
    for comp in sccs(mods, adj):
        if len(comp) < 2:
            continue
        members = set(comp)
        lines = []
        seen_cycles = set()
        for m in comp:
            cyc = shortest_cycle(m, adj, members)
            if cyc:
                key = frozenset(zip(cyc, cyc[1:]))
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    lines.append("      cycle: " + " -> ".join(cyc))
        for a, b in sorted(edges):
            if a in members and b in members:
                ev = edges[(a, b)]
                more = f" (+{len(ev) - 3} more)" if len(ev) > 3 else ""
                lines.append(f"      {a} -> {b}: " + "; ".join(ev[:3]) + more)
        problems.append(
            f"src/server: module cycle among {', '.join(comp)} (foo.c + foo.h are one module; "
            f"break it with a callback or a narrower header)\n" + "\n".join(lines))


def run_checks(root, symbols):
    t = Tree(root)
    problems = []
    check_layers(t, problems)
    check_cycles(t, symbols, problems)
    for p in problems:
        print(f"{ME}: {p}")
    if problems:
        print(f"{ME}: FAILED: {len(problems)} problem(s) in {len(t.files)} files under {root}")
        return 1
    nmods = len({server_module(f) for f in t.files if server_module(f)})
    print(f"{ME}: ok: {len(t.files)} files, {nmods} src/server modules, no layering problem")
    return 0


# ---- --self-test ----

BASE_TREE = {
    "include/stt/log.h": "#ifndef STT_LOG_H\n#define STT_LOG_H\nvoid stt_log(const char *m);\n"
                         "#endif\n",
    "include/stt/stream.h": "#ifndef STT_STREAM_H\n#define STT_STREAM_H\n#include \"stt/log.h\"\n"
                            "int stt_stream_feed(int n);\n#endif\n",
    "src/base/log.c": "#include \"stt/log.h\"\n#include <stdio.h>\n"
                      "void stt_log(const char *m)\n{\n    puts(m);\n}\n",
    "src/audio/vad.c": "#include \"stt/log.h\"\nint stt_vad(void)\n{\n    return 0;\n}\n",
    "src/proto/frame.c": "#include \"stt/log.h\"\nint stt_frame(void)\n{\n    return 0;\n}\n",
    "src/engine/engine.c": "#include \"stt/log.h\"\n#include <pocketsphinx.h>\n"
                           "int stt_engine(void)\n{\n    return 0;\n}\n",
    "src/core/stream.c": "#include \"stt/stream.h\"\n/* not <libwebsockets.h>: callbacks */\n"
                         "int stt_stream_feed(int n)\n{\n    stt_log(\"feed\");\n"
                         "    return n;\n}\n",
    # loop -> session (include and use); session -> nothing of loop's. session.h declares one
    # of loop's functions that session never uses: a declaration alone is no dependency.
    "src/server/loop.h": "#ifndef L_H\n#define L_H\nint stt_loop_run(void);\n#endif\n",
    "src/server/loop.c": "#include \"loop.h\"\n#include \"session.h\"\n#include <libwebsockets.h>\n"
                         "static int ticks;\nint stt_loop_run(void)\n{\n"
                         "    return stt_session_open(ticks);\n}\n"
                         "int stt_loop_stop(void)\n{\n    return 0;\n}\n",
    "src/server/session.h": "#ifndef S_H\n#define S_H\nint stt_session_open(int n);\n"
                            "int stt_loop_stop(void); /* loop.c */\n#endif\n",
    "src/server/session.c": "#include \"session.h\"\n#include \"stt/stream.h\"\n"
                            "/* stt_loop_run() calls this; see loop.c */\n"
                            "int stt_session_open(int n)\n{\n"
                            "    const char *s = \"stt_loop_run\";\n"
                            "    return stt_stream_feed(n) + (s != 0);\n}\n",
    "src/server/adapters/twilio.h": "#ifndef T_H\n#define T_H\nint stt_twilio(void);\n#endif\n",
    "src/server/adapters/twilio.c": "#include \"twilio.h\"\n#include \"../session.h\"\n"
                                    "int stt_twilio(void)\n{\n    return stt_session_open(1);\n}\n",
    "src/server/sinks/webhook.c": "#include \"stt/log.h\"\n"
                                  "int stt_webhook_send(void)\n{\n    return 0;\n}\n",
    "src/server/main.c": "#include \"loop.h\"\nint main(void)\n{\n    return stt_loop_run();\n}\n",
}

# name -> (files to add or replace (None: delete), what the output must say)
CASES = {
    "a: core includes libwebsockets.h": (
        {"src/core/bad.c": "#include <libwebsockets.h>\n"},
        ["src/core/bad.c:1: includes <libwebsockets.h>"]),
    "a: core includes an lws_*.h header": (
        {"src/core/bad.c": "#include <stdio.h>\n#include \"lws_config.h\"\n"},
        ["src/core/bad.c:2: includes \"lws_config.h\""]),
    "a: core includes libwebsockets through an include/ header of no layer": (
        {"include/stt/leaky.h": "#include <libwebsockets.h>\n",
         "src/core/bad.c": "#include \"stt/leaky.h\"\n"},
        ["src/core/bad.c:1: includes \"stt/leaky.h\", which reaches libwebsockets"]),
    "a: core includes a src/server header": (
        {"src/core/bad.c": "#include \"../server/session.h\"\n"},
        ["src/core/bad.c:1: includes \"../server/session.h\" (src/server/session.h, layer "
         "server): core may not depend on server"]),
    "b: audio includes a src/server header": (
        {"src/audio/vad.c": "#include \"stt/log.h\"\n#include \"../server/loop.h\"\n"},
        ["src/audio/vad.c:2: includes \"../server/loop.h\"", "audio may not depend on server"]),
    "b: proto includes a src/core header": (
        {"src/core/metrics.h": "int stt_metric(void);\n",
         "src/proto/frame.c": "#include \"core/metrics.h\"\n"},
        ["src/proto/frame.c:1:", "proto may not depend on core"]),
    "b: engine includes core's public header include/stt/stream.h": (
        {"src/engine/engine.c": "#include \"stt/stream.h\"\n"},
        ["src/engine/engine.c:1: includes \"stt/stream.h\" (include/stt/stream.h, layer core)"]),
    "b: base includes engine code (not only server/core: the whole direction)": (
        {"src/engine/pool.h": "int stt_pool(void);\n",
         "src/base/log.c": "#include \"../engine/pool.h\"\n"},
        ["src/base/log.c:1:", "base may not depend on engine"]),
    "c: 2-module include cycle, no file-level cycle (session.c -> loop.h, loop.c -> session.h)": (
        {"src/server/session.c": "#include \"session.h\"\n#include \"loop.h\"\n"},
        ["module cycle among loop, session", "session.c:2 includes loop.h",
         "loop.c:2 includes session.h"]),
    "c: 3-module include cycle through a subfolder": (
        {"src/server/session.c": "#include \"session.h\"\n#include \"adapters/twilio.h\"\n",
         "src/server/adapters/twilio.c": "#include \"twilio.h\"\n#include \"../loop.h\"\n"},
        ["module cycle among adapters/twilio, loop, session",
         "cycle: adapters/twilio -> loop -> session -> adapters/twilio"]),
    "c: cycle hidden in one shared header (session uses loop's function declared in session.h)": (
        {"src/server/session.c": "#include \"session.h\"\nint stt_session_open(int n)\n{\n"
                                 "    return stt_loop_stop() + n;\n}\n"},
        ["module cycle among loop, session",
         "session.c uses stt_loop_stop (defined in loop.c)"]),
    "c: cycle with sinks/ through a function pointer in an initializer": (
        {"src/server/sinks/webhook.c": "#include \"../loop.h\"\n"
                                       "int stt_webhook_send(void)\n{\n    return 0;\n}\n",
         "src/server/loop.c": "#include \"loop.h\"\n#include \"session.h\"\n"
                              "int (*const sinks[])(void) = {stt_webhook_send};\n"
                              "int stt_loop_run(void)\n{\n    return stt_session_open(0);\n}\n"
                              "int stt_loop_stop(void)\n{\n    return 0;\n}\n"},
        ["module cycle among loop, sinks/webhook", "loop.c uses stt_webhook_send"]),
}


def write_tree(root, files):
    for rel, text in files.items():
        p = os.path.join(root, rel)
        if text is None:
            if os.path.exists(p):
                os.remove(p)
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as fh:
            fh.write(text)


def self_test():
    script = os.environ["STT_LAYERING_SCRIPT"]
    failures = []

    def run(root, *args):
        r = subprocess.run(["bash", script, "--root", root, *args], capture_output=True,
                           text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def case(name, files, want_rc, want, args=()):
        d = tempfile.mkdtemp(prefix="stt-layering-")
        try:
            write_tree(d, BASE_TREE)
            write_tree(d, files)
            rc, out = run(d, *args)
            missing = [w for w in want if w not in out]
            ok = rc == want_rc and not missing
            print(f"{ME} self-test: {'ok  ' if ok else 'FAIL'} {name} (exit {rc})")
            if not ok:
                failures.append(name)
                print(f"    want exit {want_rc} and {missing}; got:\n" +
                      "\n".join("    | " + l for l in out.splitlines()))
        finally:
            shutil.rmtree(d)

    case("clean tree passes", {}, 0, ["ok:"])
    no_core = {"src/core/stream.c": None, "include/stt/stream.h": None,
               "src/server/session.c": "#include \"session.h\"\n"
                                       "int stt_session_open(int n)\n{\n    return n;\n}\n"}
    case("a tree without src/core passes", no_core, 0, ["ok:"])
    for name, (files, want) in CASES.items():
        case(name, files, 1, want + ["FAILED"])
    hidden = CASES["c: cycle hidden in one shared header (session uses loop's function "
                   "declared in session.h)"][0]
    case("--no-symbols: that cycle is not an include cycle", hidden, 0, ["ok:"],
         ("--no-symbols",))
    if failures:
        print(f"{ME} self-test: FAILED: {len(failures)} case(s): {failures}")
        return 1
    print(f"{ME} self-test: ok: {len(CASES)} planted violations caught, clean trees pass")
    return 0


def main(argv):
    root, symbols, selftest = os.environ["STT_LAYERING_ROOT"], True, False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--root" and args:
            root = args.pop(0)
        elif a == "--no-symbols":
            symbols = False
        elif a == "--self-test":
            selftest = True
        else:
            print(f"usage: check-layering.sh [--root DIR] [--no-symbols] [--self-test]",
                  file=sys.stderr)
            return 2
    if selftest:
        return self_test()
    if not os.path.isdir(os.path.join(root, "src")):
        print(f"{ME}: {root}/src: no such folder", file=sys.stderr)
        return 2
    return run_checks(root, symbols)


sys.exit(main(sys.argv[1:]))
PY
