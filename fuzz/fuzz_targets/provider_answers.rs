#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| billbot::fuzzing::provider_answers(data));
