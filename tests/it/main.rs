//! The one integration test binary: every test starts its own server on port 0.

mod harness;
mod locations;
mod lua;
mod orgs;
mod robots;
