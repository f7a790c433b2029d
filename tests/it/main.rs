//! The one integration test binary: every test starts its own server on port 0.

mod fragments;
mod harness;
mod locations;
mod modules;
mod orgs;
mod robots;
