//! One module per command.

pub(crate) mod check_config;
pub(crate) mod compile_engine;
pub(crate) mod config_reference;
pub(crate) mod get;
pub(crate) mod info;
pub(crate) mod serve;
