//! The one integration test binary: every test starts its own server on port 0.

mod bad_input;
mod durability;
mod dynamic;
mod fixture;
mod fragments;
mod harness;
mod interop;
mod invites;
mod keys;
mod load;
mod locations;
mod logs;
mod lua;
mod lua_types;
mod modules;
mod orgs;
mod parts;
mod robots;
mod roles;
mod secrets;
mod security;
mod serve_proc;
mod tls;
