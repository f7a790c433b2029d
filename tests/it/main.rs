//! The one integration test binary: every test starts its own server on port 0.

mod chores;
mod durability;
mod fragments;
mod harness;
mod interop;
mod invites;
mod keys;
mod locations;
mod logs;
mod lua;
mod lua_connect;
mod lua_profiles;
mod modules;
mod orgs;
mod parts;
mod permissions;
mod repl;
mod robots;
mod roles;
mod scripts;
mod tls;
