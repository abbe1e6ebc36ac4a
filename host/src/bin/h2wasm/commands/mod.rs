//! One module per command.

pub(crate) mod compile_engine;
pub(crate) mod get;
pub(crate) mod info;
pub(crate) mod serve;
