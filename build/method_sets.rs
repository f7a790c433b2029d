//! Per RPC, a descriptor set of only what that RPC reaches: its service with that one method,
//! and the top-level messages and enums its request and reply refer to, transitively, in their
//! files. Decoding the whole set was two thirds of a start plus one call (18.4 M of 27.7 M
//! instructions for GetRobot); a call decodes only its own small set.
//!
//! A set keeps only the options that change what a message is (a map's entry, an unpacked
//! repeated field, an enum's aliases). File, service, method and other options (go_package,
//! google.api.http, tags) are read by nothing at run time. prost-reflect interprets every
//! option it meets against descriptor.proto's option messages, and takes them from its global
//! pool of every well-known type (built at first use) when the set lacks them: a set that keeps
//! an option (nearly all do: google.protobuf.Struct is a map) carries those three messages,
//! with only the fields kept, instead.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumOptions, FieldDescriptorProto, FieldOptions,
    FileDescriptorProto, FileDescriptorSet, MessageOptions,
};

const DESCRIPTOR_PROTO: &str = "google/protobuf/descriptor.proto";

/// The options a set may keep: descriptor.proto's option message and the one field of it.
const SHAPE_OPTIONS: [(&str, &str); 3] = [
    ("MessageOptions", "map_entry"),
    ("FieldOptions", "packed"),
    ("EnumOptions", "allow_alias"),
];

/// A top-level type: (file index, is a message, index in the file's messages or enums).
type Top = (usize, bool, usize);

/// Every full name (nested included, with its leading dot) -> the top-level type holding it.
fn owners(fds: &FileDescriptorSet) -> HashMap<String, Top> {
    fn nested(prefix: &str, m: &DescriptorProto, top: Top, out: &mut HashMap<String, Top>) {
        let name = format!("{prefix}.{}", m.name());
        for e in &m.enum_type {
            out.insert(format!("{name}.{}", e.name()), top);
        }
        for n in &m.nested_type {
            nested(&name, n, top, out);
        }
        out.insert(name, top);
    }
    let mut out = HashMap::new();
    for (fi, f) in fds.file.iter().enumerate() {
        let pkg = match f.package() {
            "" => String::new(),
            p => format!(".{p}"),
        };
        for (i, m) in f.message_type.iter().enumerate() {
            nested(&pkg, m, (fi, true, i), &mut out);
        }
        for (i, e) in f.enum_type.iter().enumerate() {
            out.insert(format!("{pkg}.{}", e.name()), (fi, false, i));
        }
    }
    out
}

/// The type names the fields of `m` and its nested messages refer to.
fn references(m: &DescriptorProto, out: &mut Vec<String>) {
    out.extend(
        m.field
            .iter()
            .filter_map(|f| f.type_name.clone())
            .filter(|t| !t.is_empty()),
    );
    for n in &m.nested_type {
        references(n, out);
    }
}

/// The set of one method: `service` (index in file `fi`) reduced to method `mi`.
fn method_set(
    fds: &FileDescriptorSet,
    owners: &HashMap<String, Top>,
    fi: usize,
    si: usize,
    mi: usize,
    option_messages: &FileDescriptorProto,
) -> anyhow::Result<FileDescriptorSet> {
    let method = &fds.file[fi].service[si].method[mi];
    let mut todo = vec![
        method.input_type().to_string(),
        method.output_type().to_string(),
    ];
    let mut kept: BTreeSet<Top> = BTreeSet::new();
    while let Some(name) = todo.pop() {
        let top = *owners
            .get(&name)
            .ok_or_else(|| anyhow::anyhow!("type {name} is not in the descriptor set"))?;
        if !kept.insert(top) {
            continue;
        }
        if let (f, true, i) = top {
            references(&fds.file[f].message_type[i], &mut todo);
        }
    }
    let files: BTreeSet<usize> = kept.iter().map(|t| t.0).chain([fi]).collect();
    let mut out = FileDescriptorSet::default();
    for &f in &files {
        let src = &fds.file[f];
        let mut file = FileDescriptorProto {
            message_type: Vec::new(),
            enum_type: Vec::new(),
            service: Vec::new(),
            extension: Vec::new(),
            dependency: Vec::new(),
            public_dependency: Vec::new(),
            weak_dependency: Vec::new(),
            source_code_info: None,
            ..src.clone()
        };
        for (i, m) in src.message_type.iter().enumerate() {
            if kept.contains(&(f, true, i)) {
                file.message_type.push(m.clone());
            }
        }
        for (i, e) in src.enum_type.iter().enumerate() {
            if kept.contains(&(f, false, i)) {
                file.enum_type.push(e.clone());
            }
        }
        if f == fi {
            let mut svc = src.service[si].clone();
            svc.method = vec![method.clone()];
            file.service.push(svc);
        }
        // Imports of files kept, public ones still public.
        for (di, dep) in src.dependency.iter().enumerate() {
            if files.iter().any(|&k| fds.file[k].name() == dep) {
                if src.public_dependency.contains(&(di as i32)) {
                    file.public_dependency.push(file.dependency.len() as i32);
                }
                file.dependency.push(dep.clone());
            }
        }
        file.options = None;
        file.message_type
            .iter_mut()
            .for_each(message_shape_options_only);
        file.enum_type.iter_mut().for_each(enum_shape_options_only);
        for svc in &mut file.service {
            svc.options = None;
            svc.method.iter_mut().for_each(|m| m.options = None);
        }
        out.file.push(file);
    }
    if out.file.iter().any(keeps_options)
        && !files
            .iter()
            .any(|&f| fds.file[f].name() == DESCRIPTOR_PROTO)
    {
        out.file.push(option_messages.clone());
    }
    Ok(out)
}

/// descriptor.proto with only `SHAPE_OPTIONS`: what prost-reflect reads a kept option with.
fn option_messages(fds: &FileDescriptorSet) -> anyhow::Result<FileDescriptorProto> {
    let src = fds
        .file
        .iter()
        .find(|f| f.name() == DESCRIPTOR_PROTO)
        .ok_or_else(|| anyhow::anyhow!("{DESCRIPTOR_PROTO} is not in the descriptor set"))?;
    let mut message_type = Vec::new();
    for (message, field) in SHAPE_OPTIONS {
        let m = src
            .message_type
            .iter()
            .find(|m| m.name() == message)
            .ok_or_else(|| anyhow::anyhow!("{DESCRIPTOR_PROTO} lacks {message}"))?;
        let f = m
            .field
            .iter()
            .find(|f| f.name() == field)
            .ok_or_else(|| anyhow::anyhow!("{DESCRIPTOR_PROTO} lacks {message}.{field}"))?;
        message_type.push(DescriptorProto {
            name: m.name.clone(),
            field: vec![f.clone()],
            ..Default::default()
        });
    }
    Ok(FileDescriptorProto {
        name: src.name.clone(),
        package: src.package.clone(),
        syntax: src.syntax.clone(),
        message_type,
        ..Default::default()
    })
}

/// Whether `file` still holds an option after the trimming above.
fn keeps_options(file: &FileDescriptorProto) -> bool {
    fn message(m: &DescriptorProto) -> bool {
        m.options.is_some()
            || m.field.iter().any(|f| f.options.is_some())
            || m.nested_type.iter().any(message)
            || m.enum_type.iter().any(|e| e.options.is_some())
    }
    file.message_type.iter().any(message) || file.enum_type.iter().any(|e| e.options.is_some())
}

/// `m` and its nested types with only the options that shape their values (module comment).
fn message_shape_options_only(m: &mut DescriptorProto) {
    m.options = m
        .options
        .as_ref()
        .filter(|o| o.map_entry.is_some())
        .map(|o| MessageOptions {
            map_entry: o.map_entry,
            ..Default::default()
        });
    m.field.iter_mut().for_each(field_shape_options_only);
    m.nested_type
        .iter_mut()
        .for_each(message_shape_options_only);
    m.enum_type.iter_mut().for_each(enum_shape_options_only);
    m.oneof_decl.iter_mut().for_each(|o| o.options = None);
}

fn field_shape_options_only(f: &mut FieldDescriptorProto) {
    f.options = f
        .options
        .as_ref()
        .filter(|o| o.packed.is_some())
        .map(|o| FieldOptions {
            packed: o.packed,
            ..Default::default()
        });
}

fn enum_shape_options_only(e: &mut EnumDescriptorProto) {
    e.options = e
        .options
        .as_ref()
        .filter(|o| o.allow_alias.is_some())
        .map(|o| EnumOptions {
            allow_alias: o.allow_alias,
            ..Default::default()
        });
    e.value.iter_mut().for_each(|v| v.options = None);
}

/// Writes `fleetsh_methods.bin` (the sets, one after another) and `fleetsh_methods.rs`
/// (`METHOD_SETS`: `("pkg.Service/Method", start, end)` sorted by name) into `out`.
pub fn write_all(fds: &FileDescriptorSet, out: &Path) -> anyhow::Result<()> {
    let owners = owners(fds);
    let option_messages = option_messages(fds)?;
    let mut index = Vec::new();
    let mut blob = Vec::new();
    for (fi, f) in fds.file.iter().enumerate() {
        for (si, s) in f.service.iter().enumerate() {
            for (mi, m) in s.method.iter().enumerate() {
                let set = method_set(fds, &owners, fi, si, mi, &option_messages)?;
                let start = blob.len();
                prost::Message::encode(&set, &mut blob)?;
                let service = match f.package() {
                    "" => s.name().to_string(),
                    p => format!("{p}.{}", s.name()),
                };
                index.push((format!("{service}/{}", m.name()), start, blob.len()));
            }
        }
    }
    index.sort();
    let mut rs = String::from("pub const METHOD_SETS: &[(&str, usize, usize)] = &[\n");
    for (name, start, end) in &index {
        writeln!(rs, "    ({name:?}, {start}, {end}),")?;
    }
    rs.push_str("];\n");
    std::fs::write(out.join("fleetsh_methods.bin"), blob)?;
    std::fs::write(out.join("fleetsh_methods.rs"), rs)?;
    Ok(())
}
