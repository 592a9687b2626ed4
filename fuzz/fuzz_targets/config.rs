#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sfnlite_fuzz::services::config(data));
