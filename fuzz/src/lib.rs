//! sfnlite's fuzz targets; the bodies are in [`targets`].

pub mod services;
pub mod targets;
