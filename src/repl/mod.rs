//! The interactive session.
pub mod printer;
