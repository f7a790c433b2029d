//! fleetsh: script a Viam robot fleet in Lua.
pub mod chores;
pub mod cli;
pub mod client;
pub mod codec;
pub mod config;
pub mod exit;
pub mod logging;
pub mod lua;
pub mod private_file;
pub mod proto;
pub mod repl;
pub mod run;
pub mod serve;
pub mod server;
pub mod sim;
pub mod testing;
