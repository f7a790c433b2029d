#!/usr/bin/env python3
"""Writes proto/ from the compiled descriptors that the pinned viam-sdk ships in its *_pb2
modules, so our schema has upstream's names, numbers, types, labels, oneofs, maps, streaming,
packages and file paths. Only facts are taken: the one comment per RPC is ours, from
proto/rpc_docs.toml.

Run it with the interop venv's python (the SDK pin is tests/interop/requirements.txt):
    target/interop-venv/bin/python proto/generate.py          # rewrite proto/
    target/interop-venv/bin/python proto/generate.py --check  # exit 1 if proto/ is stale

Dropped on purpose: options only Go or grpc-gateway read (go_package and other per-language
file options, google.api.http, tagger's Go struct tags) and so the files that only define them.
"""

import argparse
import importlib
import pkgutil
import sys
import tomllib
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool

import viam
import viam.gen

HERE = Path(__file__).resolve().parent

# The services issues 11 and 12 ask for, and the RPC framework's auth that every call uses.
SERVICES = [
    "viam.app.v1.AppService",
    "viam.app.v1.RobotService",
    "viam.app.v1.BillingService",
    "viam.app.data.v1.DataService",
    "viam.app.datasync.v1.DataSyncService",
    "viam.app.dataset.v1.DatasetService",
    "viam.app.datapipelines.v1.DataPipelinesService",
    "viam.app.mltraining.v1.MLTrainingService",
    "viam.app.packages.v1.PackageService",
    "proto.rpc.v1.AuthService",
]

# Files that only carry options we drop; an import of one is dropped with them.
DROPPED_FILES = {
    "google/api/annotations.proto",
    "google/api/http.proto",
    "tagger/v1/tagger.proto",
}
DROPPED_OPTIONS = {
    "google.api.http",
    "tagger.v1.tags",
    "tagger.v1.oneof_tags",
    "google.protobuf.FileOptions.go_package",
    "google.protobuf.FileOptions.java_package",
    "google.protobuf.FileOptions.java_multiple_files",
    "google.protobuf.FileOptions.java_outer_classname",
    "google.protobuf.FileOptions.objc_class_prefix",
    "google.protobuf.MessageOptions.map_entry",  # written as map<K, V>
}
# Standard options kept, as `name = value`.
KEPT_OPTIONS = {"deprecated"}

# Import root (a directory of proto/, passed to protox) by upstream file-name prefix, as the
# upstream repositories lay them out: the RPC framework, googleapis, and the api repo.
ROOTS = [("proto/rpc/", "goutils"), ("google/", "googleapis"), ("", "viam")]

SCALARS = {
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: "double",
    descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT: "float",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: "uint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64: "fixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED32: "fixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: "bytes",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT32: "uint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED32: "sfixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED64: "sfixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT32: "sint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT64: "sint64",
}
LABEL_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED


def is_well_known(name: str) -> bool:
    return name.startswith("google/protobuf/")


def load_sdk_files() -> tuple[dict, dict]:
    """Every file reachable from SERVICES by name: those to write, and the well-known ones."""
    for mod in pkgutil.walk_packages(viam.gen.__path__, "viam.gen."):
        if mod.name.endswith("_pb2"):
            importlib.import_module(mod.name)
    pool = descriptor_pool.Default()
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    well_known: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def walk(fd) -> None:
        if fd.name in files or fd.name in well_known or fd.name in DROPPED_FILES:
            return
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        (well_known if is_well_known(fd.name) else files)[fd.name] = proto
        for dep in fd.dependencies:
            walk(dep)

    for service in SERVICES:
        walk(pool.FindServiceByName(service).file)
    return files, well_known


def out_path(file_name: str) -> Path:
    for prefix, root in ROOTS:
        if file_name.startswith(prefix):
            return HERE / root / file_name
    raise AssertionError(file_name)


class Symbols:
    """Full names of every type and package, to write the shortest type name that protobuf's
    scope rules resolve to the intended type."""

    def __init__(self, files):
        self.names: set[str] = set()
        for f in files:
            parts = f.package.split(".") if f.package else []
            for i in range(1, len(parts) + 1):
                self.names.add(".".join(parts[:i]))
            self._add(f.package, f.message_type, f.enum_type)

    def _add(self, scope, messages, enums):
        for e in enums:
            self.names.add(join(scope, e.name))
        for m in messages:
            full = join(scope, m.name)
            self.names.add(full)
            self._add(full, m.nested_type, m.enum_type)

    def resolve(self, name: str, scope: str) -> str | None:
        first, _, rest = name.partition(".")
        s = scope
        while True:
            cand = join(s, first)
            if cand in self.names:
                return join(cand, rest) if rest else cand
            if not s:
                return None
            s = s.rpartition(".")[0]

    def shortest(self, type_name: str, scope: str, package: str) -> str:
        """Within the package the shortest name that resolves; other packages' types by full name."""
        full = type_name.lstrip(".")
        if package and full.startswith(package + "."):
            parts = full[len(package) + 1 :].split(".")
            for i in range(len(parts) - 1, -1, -1):
                cand = ".".join(parts[i:])
                if self.resolve(cand, scope) == full:
                    return cand
        return full if self.resolve(full, scope) == full else "." + full


def join(a: str, b: str) -> str:
    return f"{a}.{b}" if a else b


def option_list(options, where: str) -> list[str]:
    """`name = value` for the kept options; fails on one this script does not know."""
    out = []
    for field, value in options.ListFields():
        if field.full_name in DROPPED_OPTIONS:
            continue
        if field.is_extension or field.name not in KEPT_OPTIONS:
            sys.exit(f"{where}: option {field.full_name} is neither kept nor dropped; decide in generate.py")
        out.append(f"{field.name} = {str(value).lower() if isinstance(value, bool) else value}")
    return out


def ranges(rs, inclusive_end: bool) -> str:
    parts = []
    for r in rs:
        end = r.end if inclusive_end else r.end - 1
        parts.append(str(r.start) if r.start == end else f"{r.start} to {'max' if end >= 536870911 else end}")
    return ", ".join(parts)


class Writer:
    def __init__(self, f: descriptor_pb2.FileDescriptorProto, symbols: Symbols, docs: dict):
        self.f = f
        self.sym = symbols
        self.docs = docs
        self.lines: list[str] = []

    def w(self, depth: int, text: str = "") -> None:
        self.lines.append(("  " * depth + text) if text else "")

    def type_of(self, field, scope: str, maps: dict) -> str:
        if field.type_name:
            if field.type_name in maps:
                key, value = maps[field.type_name]
                return f"map<{self.type_of(key, scope, {})}, {self.type_of(value, scope, {})}>"
            return self.sym.shortest(field.type_name, scope, self.f.package)
        return SCALARS[field.type]

    def field(self, depth: int, field, scope: str, maps: dict, in_oneof: bool) -> None:
        label = ""
        if field.proto3_optional:
            label = "optional "
        elif field.label == LABEL_REPEATED and field.type_name not in maps:
            label = "repeated "
        assert not (in_oneof and label), field.name
        opts = option_list(field.options, f"{scope}.{field.name}")
        suffix = f" [{', '.join(opts)}]" if opts else ""
        self.w(depth, f"{label}{self.type_of(field, scope, maps)} {field.name} = {field.number}{suffix};")

    def enum(self, depth: int, e, scope: str) -> None:
        full = join(scope, e.name)
        self.w(depth, f"enum {e.name} {{")
        for opt in option_list(e.options, full):
            self.w(depth + 1, f"option {opt};")
        if e.reserved_range:
            self.w(depth + 1, f"reserved {ranges(e.reserved_range, True)};")
        if e.reserved_name:
            self.w(depth + 1, "reserved " + ", ".join(f'"{n}"' for n in e.reserved_name) + ";")
        for v in e.value:
            opts = option_list(v.options, f"{full}.{v.name}")
            suffix = f" [{', '.join(opts)}]" if opts else ""
            self.w(depth + 1, f"{v.name} = {v.number}{suffix};")
        self.w(depth, "}")

    def message(self, depth: int, m, scope: str) -> None:
        full = join(scope, m.name)
        maps = {}
        for n in m.nested_type:
            if n.options.map_entry:
                maps["." + join(full, n.name)] = (n.field[0], n.field[1])
        self.w(depth, f"message {m.name} {{")
        for opt in option_list(m.options, full):
            self.w(depth + 1, f"option {opt};")
        assert not m.extension and not m.extension_range, f"{full}: extensions are not written"
        if m.reserved_range:
            self.w(depth + 1, f"reserved {ranges(m.reserved_range, False)};")
        if m.reserved_name:
            self.w(depth + 1, "reserved " + ", ".join(f'"{n}"' for n in m.reserved_name) + ";")
        written_oneofs = set()
        for field in m.field:
            if field.HasField("oneof_index") and not field.proto3_optional:
                idx = field.oneof_index
                if idx in written_oneofs:
                    continue
                written_oneofs.add(idx)
                decl = m.oneof_decl[idx]
                self.w(depth + 1, f"oneof {decl.name} {{")
                for opt in option_list(decl.options, f"{full}.{decl.name}"):
                    self.w(depth + 2, f"option {opt};")
                for member in m.field:
                    if member.HasField("oneof_index") and member.oneof_index == idx:
                        self.field(depth + 2, member, full, maps, True)
                self.w(depth + 1, "}")
            else:
                self.field(depth + 1, field, full, maps, False)
        for n in m.nested_type:
            if not n.options.map_entry:
                self.message(depth + 1, n, full)
        for e in m.enum_type:
            self.enum(depth + 1, e, full)
        self.w(depth, "}")

    def service(self, s) -> None:
        full = join(self.f.package, s.name)
        docs = self.docs.get(full, {})
        self.w(0, f"service {s.name} {{")
        for opt in option_list(s.options, full):
            self.w(1, f"option {opt};")
        for m in s.method:
            doc = docs.get(m.name)
            if not doc:
                sys.exit(f"proto/rpc_docs.toml has no line for {full}.{m.name}: write one ([\"{full}\"] {m.name} = \"...\")")
            self.w(1, f"// {doc}")
            sig = "rpc {}({}{}) returns ({}{})".format(
                m.name,
                "stream " if m.client_streaming else "",
                self.sym.shortest(m.input_type, self.f.package, self.f.package),
                "stream " if m.server_streaming else "",
                self.sym.shortest(m.output_type, self.f.package, self.f.package),
            )
            opts = option_list(m.options, f"{full}.{m.name}")
            if opts:
                self.w(1, sig + " {")
                for opt in opts:
                    self.w(2, f"option {opt};")
                self.w(1, "}")
            else:
                self.w(1, sig + ";")
        self.w(0, "}")

    def extensions(self) -> None:
        by_extendee: dict[str, list] = {}
        for x in self.f.extension:
            by_extendee.setdefault(x.extendee, []).append(x)
        for extendee, fields in by_extendee.items():
            self.w(0)
            self.w(0, f"extend {self.sym.shortest(extendee, self.f.package, self.f.package)} {{")
            for x in fields:
                self.field(1, x, self.f.package, {}, False)
            self.w(0, "}")

    def render(self, sdk_version: str) -> str:
        f = self.f
        assert f.syntax == "proto3", f.name
        self.w(0, f"// Generated by proto/generate.py from viam-sdk {sdk_version}'s descriptors: do not edit.")
        self.w(0, "// Names and numbers are upstream's; each RPC's comment is ours (proto/rpc_docs.toml).")
        self.w(0, 'syntax = "proto3";')
        self.w(0)
        self.w(0, f"package {f.package};")
        imports = [d for d in f.dependency if d not in DROPPED_FILES]
        if imports:
            self.w(0)
            for d in imports:
                self.w(0, f'import "{d}";')
        option_list(f.options, f.name)  # only checks that nothing unknown is lost
        for s in f.service:
            self.w(0)
            self.service(s)
        for m in f.message_type:
            self.w(0)
            self.message(0, m, f.package)
        for e in f.enum_type:
            self.w(0)
            self.enum(0, e, f.package)
        self.extensions()
        return "\n".join(self.lines) + "\n"


def check_references(files, well_known) -> None:
    """Every type a kept file uses is defined by a kept or well-known file."""
    defined = Symbols([*files.values(), *well_known.values()]).names
    for f in files.values():
        def refs(messages):
            for m in messages:
                for fld in list(m.field) + list(m.extension):
                    yield fld.type_name
                yield from refs(m.nested_type)
        names = list(refs(f.message_type)) + [x.type_name for x in f.extension]
        names += [t for s in f.service for m in s.method for t in (m.input_type, m.output_type)]
        for n in names:
            if n and n.lstrip(".") not in defined:
                sys.exit(f"{f.name} uses {n}, defined in a dropped file")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with proto/ instead of writing")
    args = ap.parse_args()

    docs = tomllib.loads((HERE / "rpc_docs.toml").read_text())
    files, well_known = load_sdk_files()
    check_references(files, well_known)
    # All files' names, a superset of what each file sees: at worst a name is longer than needed.
    symbols = Symbols([*files.values(), *well_known.values()])
    wanted = {out_path(name): Writer(f, symbols, docs).render(viam.__version__) for name, f in sorted(files.items())}

    services = {join(f.package, s.name): {m.name for m in s.method} for f in files.values() for s in f.service}
    stale = [
        f"{svc}.{rpc}" for svc, rpcs in docs.items() for rpc in rpcs if rpc not in services.get(svc, set())
    ]
    if stale:
        sys.exit("proto/rpc_docs.toml names RPCs the SDK does not have: " + ", ".join(sorted(stale)))

    # proto/fleetsh/ holds fleetsh's own services (its admin API), written by hand, not generated.
    present = {p for p in HERE.rglob("*.proto") if not p.is_relative_to(HERE / "fleetsh")}
    differ = sorted(str(p.relative_to(HERE)) for p, text in wanted.items() if not p.exists() or p.read_text() != text)
    extra = sorted(str(p.relative_to(HERE)) for p in present - wanted.keys())
    if args.check:
        if differ or extra:
            sys.exit(f"proto/ is stale (run proto/generate.py): differs {differ}, not generated {extra}")
        return
    for p, text in wanted.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for rel in extra:
        (HERE / rel).unlink()
    print(f"wrote {len(wanted)} files ({len(differ)} changed, {len(extra)} removed)")


if __name__ == "__main__":
    main()
