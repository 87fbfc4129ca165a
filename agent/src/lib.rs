//! `vtcq`: the media-quality agent for Teams Cloud Video Interop, as a library.
//!
//! The binary (`src/main.rs`) is a thin shell over these modules: argument parsing, files,
//! terminal output. The measurement lives in `vtcq-collector`, the Graph body in
//! `vtcq-reporter`. The library target exists so that the fuzz targets (`fuzz/`) can drive
//! the control API's router and the configuration loading exactly as the daemon does.
#![forbid(unsafe_code)]

pub mod analyze;
pub mod api;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod generate;
pub mod logging;
pub mod post;
pub mod table;
