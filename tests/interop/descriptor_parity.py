"""Compares fleetsh's compiled schema with the one the pinned viam-sdk ships, message by message
and field by field, and fails naming every difference.

    python descriptor_parity.py FLEETSH_DESCRIPTOR_SET.bin

The set is fleetsh::proto::DESCRIPTOR_SET (tests/it/interop.rs writes it to a file). Compared:
every service below and every service of Viam's fleetsh defines (not its own fleetsh.* admin API; methods, their types and streaming), and
every message and enum of the files they reach (fields: name, number, type, type_name, label,
proto3 optional, oneof; enum values). Well-known types are not compared (protox ships its own),
nor the files that only define options fleetsh drops. A self-test runs first so that the
comparison cannot pass by comparing nothing.

Not collected by pytest (its name does not start with test_): the interop suite needs a server,
this does not.
"""

import importlib
import pkgutil
import sys

from google.protobuf import descriptor_pb2, descriptor_pool

import viam.gen

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
]
# Files that only carry Go and grpc-gateway options, which fleetsh's proto/ leaves out.
OPTION_ONLY_FILES = {"google/api/annotations.proto", "google/api/http.proto", "tagger/v1/tagger.proto"}

FDP = descriptor_pb2.FieldDescriptorProto
TYPE_NAMES = {v: k for k, v in FDP.Type.items()}
LABEL_NAMES = {v: k for k, v in FDP.Label.items()}


def compared(name: str) -> bool:
    return not name.startswith("google/protobuf/") and name not in OPTION_ONLY_FILES


def sdk_files(services) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """The SDK's files that define `services` and all they import, by name."""
    for mod in pkgutil.walk_packages(viam.gen.__path__, "viam.gen."):
        if mod.name.endswith("_pb2"):
            importlib.import_module(mod.name)
    pool = descriptor_pool.Default()
    out: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def walk(fd) -> None:
        if fd.name in out:
            return
        p = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(p)
        out[fd.name] = p
        for d in fd.dependencies:
            walk(d)

    for s in services:
        try:
            walk(pool.FindServiceByName(s).file)
        except KeyError:
            pass  # a service fleetsh defines that the SDK lacks: reported by the comparison
    return {n: f for n, f in out.items() if compared(n)}


def index(files):
    """Full name -> (file name, descriptor) for messages (nested too), enums and services."""
    messages, enums, services = {}, {}, {}

    def add(scope, file, ms, es):
        for e in es:
            enums[f"{scope}.{e.name}"] = (file, e)
        for m in ms:
            full = f"{scope}.{m.name}"
            messages[full] = (file, m)
            add(full, file, m.nested_type, m.enum_type)

    for f in files:
        if not compared(f.name):
            continue
        add(f.package, f.name, f.message_type, f.enum_type)
        for s in f.service:
            services[f"{f.package}.{s.name}"] = (f.name, s)
    return messages, enums, services


def field_facts(m, f) -> dict:
    real = f.HasField("oneof_index")
    return {
        "number": f.number,
        "type": TYPE_NAMES[f.type],
        "type_name": f.type_name,
        "label": LABEL_NAMES[f.label],
        "proto3_optional": f.proto3_optional,
        "oneof": m.oneof_decl[f.oneof_index].name if real else None,
        "oneof_index": f.oneof_index if real else None,
    }


def method_facts(m) -> dict:
    return {
        "input_type": m.input_type,
        "output_type": m.output_type,
        "client_streaming": m.client_streaming,
        "server_streaming": m.server_streaming,
    }


def diff_facts(where: str, ours: dict, sdk: dict) -> list[str]:
    return [f"{where}: {k} {ours[k]!r} != {sdk[k]!r}" for k in sdk if ours[k] != sdk[k]]


def diff_named(where: str, ours: dict, sdk: dict, what: str) -> tuple[list[str], list[str]]:
    """Differences in which names exist; returns (differences, names in both)."""
    out = [f"{where}{n}: {what} missing from fleetsh" for n in sorted(sdk.keys() - ours.keys())]
    out += [f"{where}{n}: {what} not in the SDK" for n in sorted(ours.keys() - sdk.keys())]
    return out, sorted(ours.keys() & sdk.keys())


def differences(ours_files, sdk_files_, required_services) -> list[str]:
    """Every difference, as `full.name: what ours != the SDK's`."""
    om, oe, os_ = index(ours_files)
    sm, se, ss = index(sdk_files_)
    out: list[str] = []

    wanted = set(required_services) | os_.keys()
    out += [f"{s}: service missing from fleetsh" for s in sorted(wanted - os_.keys())]
    out += [f"{s}: service not in the SDK" for s in sorted(wanted - ss.keys()) if s in os_]
    for s in sorted(wanted & os_.keys() & ss.keys()):
        (ofile, osvc), (sfile, ssvc) = os_[s], ss[s]
        if ofile != sfile:
            out.append(f"{s}: file {ofile!r} != {sfile!r}")
        omethods = {m.name: m for m in osvc.method}
        smethods = {m.name: m for m in ssvc.method}
        d, both = diff_named(f"{s}.", omethods, smethods, "RPC")
        out += d
        for n in both:
            out += diff_facts(f"{s}.{n}", method_facts(omethods[n]), method_facts(smethods[n]))

    d, both = diff_named("", om, sm, "message")
    out += d
    for n in both:
        (ofile, om_), (sfile, sm_) = om[n], sm[n]
        if ofile != sfile:
            out.append(f"{n}: file {ofile!r} != {sfile!r}")
        ofields = {f.name: f for f in om_.field}
        sfields = {f.name: f for f in sm_.field}
        d, fboth = diff_named(f"{n}.", ofields, sfields, "field")
        out += d
        for f in fboth:
            out += diff_facts(f"{n}.{f}", field_facts(om_, ofields[f]), field_facts(sm_, sfields[f]))

    d, both = diff_named("", oe, se, "enum")
    out += d
    for n in both:
        (ofile, oe_), (sfile, se_) = oe[n], se[n]
        if ofile != sfile:
            out.append(f"{n}: file {ofile!r} != {sfile!r}")
        ovalues = {v.name: v.number for v in oe_.value}
        svalues = {v.name: v.number for v in se_.value}
        d, vboth = diff_named(f"{n}.", ovalues, svalues, "enum value")
        out += d
        out += [f"{n}.{v}: number {ovalues[v]} != {svalues[v]}" for v in vboth if ovalues[v] != svalues[v]]
    return out


def self_test(sdk) -> None:
    """The comparer sees a changed field number and a missing RPC in an otherwise equal copy."""
    assert differences(sdk.values(), sdk.values(), SERVICES) == [], "the SDK differs from itself"
    changed = {n: descriptor_pb2.FileDescriptorProto.FromString(f.SerializeToString()) for n, f in sdk.items()}
    app = changed["app/v1/app.proto"]
    part = next(m for m in app.message_type if m.name == "RobotPart")
    field = next(f for f in part.field if f.name == "robot_config_json")
    field.number += 1
    svc = next(s for s in app.service if s.name == "AppService")
    del svc.method[-1]
    lost = sdk["app/v1/app.proto"].service[0].method[-1].name
    got = differences(changed.values(), sdk.values(), SERVICES)
    want = [
        f"viam.app.v1.AppService.{lost}: RPC missing from fleetsh",
        f"viam.app.v1.RobotPart.robot_config_json: number {field.number} != {field.number - 1}",
    ]
    assert got == want, f"self-test: the comparer reported {got}, expected {want}"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        ours = descriptor_pb2.FileDescriptorSet.FromString(f.read()).file
    # fleetsh's own services (package fleetsh.*, the local fleet's admin API) are not Viam's.
    ours = [f for f in ours if not f.package.startswith("fleetsh.")]
    _, _, our_services = index(ours)
    sdk = sdk_files(SERVICES + sorted(our_services))
    self_test(sdk_files(SERVICES))
    diffs = differences(ours, sdk.values(), SERVICES)
    if diffs:
        print(f"fleetsh's schema differs from viam-sdk's in {len(diffs)} places (fleetsh != SDK):")
        for d in diffs:
            print(f"  {d}")
        print("Regenerate proto/ with proto/generate.py (see its header), or fix the generator.")
        return 1
    sm, se, ss = index(sdk.values())
    rpcs = sum(len(s.method) for _, s in ss.values())
    print(f"descriptor parity: {len(ss)} services, {rpcs} RPCs, {len(sm)} messages, {len(se)} enums identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
