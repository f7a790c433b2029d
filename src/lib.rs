//! fleetsh: script a Viam robot fleet in Lua.
pub mod cli;
pub mod logging;
pub mod proto;
pub mod repl;
pub mod serve;
pub mod server;
