//! Reply bytes -> Lua tables (src/lua/decode.rs), the path every server reply takes. The first
//! input byte picks the reply type of one RPC, the rest are the wire bytes. Properties: decoding
//! never panics, and bytes that prost-reflect accepts as that message decode without error too
//! (the two disagree only past the nesting limit, which these short inputs cannot reach).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mlua::Lua;
use prost_reflect::{DynamicMessage, MessageDescriptor};

use fleetsh::lua::decode::from_bytes;
use fleetsh::proto::POOL;

/// The reply type of every method of every service.
static REPLY_TYPES: LazyLock<Vec<MessageDescriptor>> = LazyLock::new(|| {
    POOL.services()
        .flat_map(|s| s.methods().map(|m| m.output()).collect::<Vec<_>>())
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let Some((pick, bytes)) = data.split_first() else { return };
    let desc = &REPLY_TYPES[*pick as usize % REPLY_TYPES.len()];
    // A fresh state per input, as a script's would be (and nothing outlives the run).
    let lua = Lua::new();
    let ours = from_bytes(&lua, desc, bytes);
    if DynamicMessage::decode(desc.clone(), bytes).is_ok() {
        assert!(
            ours.is_ok(),
            "{}: prost-reflect decodes it, from_bytes says {:?}",
            desc.full_name(),
            ours.err()
        );
    }
});
