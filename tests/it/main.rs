//! The one integration test binary: every test starts its own server on port 0.

mod durability;
mod harness;
mod locations;
mod orgs;
mod repl;
mod robots;
