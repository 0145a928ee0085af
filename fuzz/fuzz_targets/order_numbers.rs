#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| billbot::fuzzing::order_numbers(data));
