//! The one integration test binary: every test starts its own server on port 0.
// Tests read and seed the database directly; the statement cache clippy.toml insists on is
// for the server's hot paths.
#![allow(clippy::disallowed_methods)]

mod bad_input;
mod chores;
mod data_api;
mod devices_api;
mod durability;
mod dynamic;
mod fixture;
mod fixture_data;
mod fixture_machines;
mod fixture_oauth;
mod fixture_orgs;
mod fixture_registry;
mod fleetsh_test;
mod fragments;
mod harness;
mod interop;
mod invites;
mod keys;
mod load;
mod locations;
mod logs;
mod lua;
mod lua_connect;
mod lua_helpers;
mod lua_profiles;
mod lua_types;
mod machines_api;
mod modules;
mod oauth_api;
mod orgs;
mod orgs_api;
mod parts;
mod readme;
mod registry_api;
mod repl;
mod robots;
mod roles;
mod runner;
mod scripts;
mod secrets;
mod security;
mod serve_proc;
mod targets;
mod tls;
mod unimplemented;
mod white_label_api;
