//! The Amazon States Language, pure: definitions and their validation, JSONPath,
//! payload templates, intrinsic functions, Choice rules, Retry/Catch decisions and the
//! AWS-shaped history events.
//!
//! Nothing here performs IO, reads a clock or draws randomness: time and entropy are
//! passed in by the runtime (`sfnlite-engine`), so every function is deterministic. (One
//! exception, a bound and not a semantics: JSONata evaluation stops a runaway expression
//! after [`jsonata::TIME_LIMIT_MS`].) `tests/purity.rs` keeps it so.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod base64;
pub mod choice;
pub mod definition;
pub mod diagnostic;
pub mod duplicates;
pub mod entropy;
pub mod error;
pub mod eval;
pub mod graph;
pub mod history;
pub mod intrinsics;
pub mod io;
pub mod json;
pub mod jsonata;
pub mod path;
pub mod payload;
pub mod references;
pub mod resource;
pub mod template;
pub mod timestamp;
pub mod validate;

pub use definition::{StateMachine, parse_definition};
pub use diagnostic::{Diagnostic, DiagnosticCode, Severity};
pub use error::{ErrorMatcher, ErrorName, EvalError, StatesError};
pub mod retry;
