#!/usr/bin/python3
"""Generate docs/schema.md, the model-file reference, from proto/phaseless.proto.

    /usr/bin/python3 tools/gen_schema_doc.py           # rewrite docs/schema.md
    /usr/bin/python3 tools/gen_schema_doc.py --check   # exit 1 if docs/schema.md is stale

Reads the .proto text directly (no protoc needed): every message and enum with the
comment above it, every field with its type, default, range and unit as its comment
states them, and the comment itself. Comments in the .proto are the single source;
the test `schema_doc_is_current` runs --check so the page cannot fall behind.
"""
import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto" / "phaseless.proto"
DOC = ROOT / "docs" / "schema.md"

SCALARS = {"double": "0", "float": "0", "uint32": "0", "uint64": "0", "int32": "0", "int64": "0",
           "bool": "false", "string": '""'}
FIELD = re.compile(r"^(optional |repeated )?([\w.]+) (\w+) = (\d+);\s*(?://\s?(.*))?$")
ENUM_VALUE = re.compile(r"^(\w+) = (-?\d+);\s*(?://\s?(.*))?$")
RESERVED = re.compile(r"^reserved ([\d, ]+);\s*(?://\s?(.*))?$")


class Block:
    def __init__(self, kind, name, doc, parent=None):
        self.kind, self.name, self.doc, self.parent = kind, name, doc, parent
        self.items = []      # fields / enum values: dicts
        self.children = []   # nested blocks
        self.oneof = None

    @property
    def full(self):
        return f"{self.parent.full}.{self.name}" if self.parent and self.parent.kind != "file" else self.name


def parse(text):
    root = Block("file", "", "")
    stack, pending, last = [root], [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            pending, last = [], None
            continue
        if line.startswith("//"):
            body = line[2:].strip()
            # A comment line indented under a field's trailing comment continues it.
            if last is not None and raw.index("//") > 20:
                last["comment"] += " " + body
            else:
                pending.append(body)
                last = None
            continue
        cur = stack[-1]
        m = re.match(r"^(message|enum) (\w+) \{(\})?$", line)
        if m:
            block = Block(m.group(1), m.group(2), " ".join(pending), cur)
            cur.children.append(block)
            if not m.group(3):
                stack.append(block)
            pending, last = [], None
            continue
        m = re.match(r"^oneof (\w+) \{$", line)
        if m:
            cur.oneof = m.group(1)
            stack.append(Block("oneof", m.group(1), "", cur))
            pending, last = [], None
            continue
        if line.startswith("}"):
            closed = stack.pop()
            if closed.kind == "oneof":
                closed.parent.oneof = None
            pending, last = [], None
            continue
        owner = cur.parent if cur.kind == "oneof" else cur
        m = FIELD.match(line)
        if m and owner.kind == "message":
            last = {"label": (m.group(1) or "").strip(), "type": m.group(2), "name": m.group(3),
                    "number": m.group(4), "comment": " ".join(pending + [m.group(5) or ""]).strip(),
                    "oneof": cur.name if cur.kind == "oneof" else ""}
            owner.items.append(last)
            pending = []
            continue
        m = ENUM_VALUE.match(line)
        if m and owner.kind == "enum":
            last = {"name": m.group(1), "number": m.group(2), "comment": " ".join(pending + [m.group(3) or ""]).strip()}
            owner.items.append(last)
            pending = []
            continue
        m = RESERVED.match(line)
        if m:
            last = {"label": "reserved", "type": "", "name": f"(number {m.group(1)})", "number": m.group(1),
                    "comment": m.group(2) or "", "oneof": ""}
            owner.items.append(last)
            pending = []
            continue
        pending, last = [], None   # syntax, package, ...
    return root


def all_blocks(block):
    for c in block.children:
        yield c
        yield from all_blocks(c)


def anchor(name):
    return name.lower().replace(".", "")


def default_of(f, enums, messages, owner=None):
    c = f["comment"]
    m = re.search(r"(?:^|[;(,.] ?|\b)(?:0|unset|unspecified|empty)\s*(?:->|:)\s*[^;]+", c)
    if m:
        d = re.split(r"\. ", m.group(0).strip(" ;,(."))[0].rstrip(".")
        return d + ")" * (d.count("(") - d.count(")"))
    if f["label"] == "repeated":
        return "empty list"
    t = f["type"]
    if t in SCALARS:
        return SCALARS[t]
    if t in enums:
        return f"`{enums[t]}`"
    if owner and f"{owner}.{t}" in enums:
        return f"`{enums[owner + '.' + t]}`"
    return "unset"


# A range is stated at the start of a comment or of one of its clauses: ">= 1", "in (0, 1]",
# "1..100000", "alpha > 0" (a bound after a word inside a sentence is not taken).
RANGE = re.compile(r"(?:^|[,;:(] ?|\bin |\w+ (?=[<>]))((?<!-)>= ?-?[\d.e]*\d|(?<!-)> ?-?[\d.e]*\d|<= ?[\d.e]*\d|"
                   r"(?<!-)< ?[\d.e]*\d|[\[(][^\])]*[\])]|\d[\d.e]*\.\.\d[\d.e]*|must be \d+)")
UNITS = ("ticks", "samples", "neurons")


def range_of(f):
    found = [r for r in RANGE.findall(f["comment"])
             if r[0] not in "([" or re.match(r"^[\[(][-\d.e]+, [-\d.e]+[\])]$", r)]
    return ", ".join(dict.fromkeys(s.strip() for s in found)) if found else ""


def unit_of(f):
    c = f["comment"].lower()[:50]   # the unit is stated up front, not in a later aside
    for u in UNITS:
        if re.search(rf"\b{u}\b", c) and f["type"] in ("uint32", "uint64", "int32", "int64"):
            return u
    return ""


def cell(s):
    return s.replace("|", "\\|").strip()


def render(root):
    blocks = list(all_blocks(root))
    enums = {b.name: (b.items[0]["name"] if b.items else "") for b in blocks if b.kind == "enum"}
    enums.update({b.full: (b.items[0]["name"] if b.items else "") for b in blocks if b.kind == "enum"})
    names = {b.name for b in blocks} | {b.full for b in blocks}
    out = ["# Model file reference", "",
           "<!-- Generated by tools/gen_schema_doc.py from proto/phaseless.proto. Do not edit: edit the",
           "     .proto comments and rerun `/usr/bin/python3 tools/gen_schema_doc.py`. -->", "",
           "A model file is a `phaseless.v1.Model` written in protobuf text format (`.textproto`).",
           "This page lists every message, field and enum of the schema `proto/phaseless.proto`, with",
           "the field's type, its default (what an absent or zero field means), the range and unit",
           "its comment states, and the comment itself. proto3 has no required fields: an absent",
           "field reads as 0, false, \"\" or the first enum value, and the loader replaces such",
           "zeros by the documented defaults. `phaseless validate MODEL` checks every range and",
           "names the field path (`rule.zil.optimizer.lr`, `populations[1].size`) on error.", "",
           "Messages: " + ", ".join(f"[{b.full}](#{anchor(b.full)})" for b in blocks if b.kind == "message"), "",
           "Enums: " + ", ".join(f"[{b.full}](#{anchor(b.full)})" for b in blocks if b.kind == "enum"), ""]
    for b in blocks:
        out += [f"## {b.full}", ""]
        if b.doc:
            out += [b.doc, ""]
        if b.kind == "enum":
            out += ["| value | number | meaning |", "|---|---|---|"]
            for v in b.items:
                out.append(f"| `{v['name']}` | {v['number']} | {cell(v['comment'])} |")
        elif b.items:
            out += ["| field | type | default | range | unit | description |", "|---|---|---|---|---|---|"]
            for f in b.items:
                t = f["type"]
                nested = f"{b.full}.{t}"   # a type declared inside this message wins
                target = nested if nested in names else t if t in names else None
                tt = f"[{t}](#{anchor(target)})" if target else f"`{t}`"
                if f["label"] in ("repeated", "optional"):
                    tt = f"{f['label']} {tt}"
                if f["label"] == "reserved":
                    out.append(f"| reserved {f['name']} | | | | | {cell(f['comment'])} |")
                    continue
                one = f" (one of `{f['oneof']}`)" if f["oneof"] else ""
                out.append(f"| `{f['name']}` | {tt}{one} | {cell(default_of(f, enums, names, b.full))} | "
                           f"{cell(range_of(f))} | {unit_of(f)} | {cell(f['comment'])} |")
        else:
            out.append("No fields: its presence is the setting.")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="fail if docs/schema.md differs from what would be generated")
    args = p.parse_args()
    text = render(parse(PROTO.read_text(encoding="utf-8")))
    if args.check:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC.relative_to(ROOT)} is stale (proto/phaseless.proto changed): "
                  "run /usr/bin/python3 tools/gen_schema_doc.py and commit the result", file=sys.stderr)
            return 1
        print(f"{DOC.relative_to(ROOT)} is current")
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
