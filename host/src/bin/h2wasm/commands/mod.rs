//! One module per command.

pub mod compile_engine;
pub mod get;
pub mod info;
pub mod serve;
