//! fleetsh: script a Viam robot fleet in Lua.
pub mod proto;
