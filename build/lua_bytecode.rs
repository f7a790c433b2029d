//! The Lua files every state loads (src/lua/*.lua), precompiled to bytecode
//! by the same Lua 5.4 that mlua vendors, so that a start undumps them instead of parsing ~90 KB
//! of source. Debug info is kept: errors still say `prelude.lua:LINE:`. src/lua/mod.rs falls
//! back to the source when the bytecode does not load (a cross build's other word sizes).

use std::ffi::{CStr, CString, c_int, c_void};
use std::path::Path;

use mlua_sys as lua;

/// The files, by the name src/lua/mod.rs includes them as (`OUT_DIR/NAME.luac`).
const FILES: &[&str] = &["prelude", "data", "billing", "packages"];

pub fn compile_all(out: &Path) -> anyhow::Result<()> {
    for name in FILES {
        let path = format!("src/lua/{name}.lua");
        println!("cargo:rerun-if-changed={path}");
        let source = std::fs::read(&path)?;
        let bytecode = compile(&source, &format!("@{name}.lua"))
            .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        std::fs::write(out.join(format!("{name}.luac")), bytecode)?;
    }
    Ok(())
}

/// `source` loaded as the chunk `chunk_name`, dumped with its debug info.
fn compile(source: &[u8], chunk_name: &str) -> Result<Vec<u8>, String> {
    unsafe extern "C-unwind" fn write(
        _: *mut lua::lua_State,
        data: *const c_void,
        len: usize,
        out: *mut c_void,
    ) -> c_int {
        // SAFETY: `out` is the Vec handed to lua_dump below; Lua passes `len` readable bytes.
        unsafe {
            let out = &mut *out.cast::<Vec<u8>>();
            out.extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), len));
        }
        0
    }
    let name = CString::new(chunk_name).map_err(|e| e.to_string())?;
    // SAFETY: one fresh state, used on this thread only and closed before returning; every
    // pointer passed lives until the call it is passed to returns.
    unsafe {
        let state = lua::luaL_newstate();
        if state.is_null() {
            return Err("cannot create a Lua state".into());
        }
        let loaded = lua::luaL_loadbufferx(
            state,
            source.as_ptr().cast(),
            source.len(),
            name.as_ptr(),
            c"t".as_ptr(),
        );
        let result = if loaded == lua::LUA_OK {
            let mut out = Vec::new();
            match lua::lua_dump(state, write, (&raw mut out).cast(), 0) {
                0 => Ok(out),
                n => Err(format!("lua_dump failed ({n})")),
            }
        } else {
            let msg = lua::lua_tolstring(state, -1, std::ptr::null_mut());
            Err(if msg.is_null() {
                "does not compile".into()
            } else {
                CStr::from_ptr(msg).to_string_lossy().into_owned()
            })
        };
        lua::lua_close(state);
        result
    }
}
