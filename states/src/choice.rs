//! Choice rules (in progress).
