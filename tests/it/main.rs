//! The one integration test binary: every test starts its own server on port 0.
// Tests read and seed the database directly; the statement cache clippy.toml insists on is
// for the server's hot paths.
#![allow(clippy::disallowed_methods)]

mod admin_api;
mod bad_input;
mod billing_api;
mod chores;
mod data_api;
mod data_datasets;
mod data_export_stream;
mod data_pipelines_api;
mod data_sequence_exports; // seqexport room
mod data_sequences;
mod data_upload_stream;
// issue 12, queries
mod data_queries;
mod devices_api;
mod durability;
mod dynamic;
mod fixture;
mod fixture_billing;
mod fixture_data;
mod fixture_datasets;
mod fixture_machines;
mod fixture_oauth;
mod fixture_orgs;
// issue 12, queries
mod fixture_pipelines;
mod fixture_queries;
mod fixture_registry;
mod fixture_sequences;
mod fleetsh_test;
mod fragments;
mod harness;
mod interop;
mod invites;
mod keys;
mod load;
mod locations;
mod logs;
mod logs_resume;
mod lua;
mod lua_connect;
mod lua_helpers;
mod lua_profiles;
mod lua_types;
mod machines_api;
mod ml_training_api;
mod modules;
mod oauth_api;
mod oauth_users;
mod orgs;
mod orgs_api;
mod packages_api;
mod parts;
mod rate_limit;
mod readme;
mod registry_api;
mod repl;
mod robot_service_api;
mod robots;
mod roles;
mod runner;
mod scripts;
mod secrets;
mod security;
mod serve_faults;
mod serve_proc;
mod serve_seed;
mod setup;
mod simulate;
mod targets;
mod tls;
mod unimplemented;
mod web;
mod web_client;
mod white_label_api;
