//! The store file is untrusted input. Decoding any bytes must end in a count
//! of accounts or a reason, never a panic, unbounded allocation, deep
//! recursion or a hang; and a valid store is self-delimiting, so no proper
//! prefix of it is valid too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_core::vectors::parse_store;

fuzz_target!(|data: &[u8]| {
    match parse_store(data) {
        Ok(_) => {
            if let Some((_, prefix)) = data.split_last() {
                assert!(
                    parse_store(prefix).is_err(),
                    "a proper prefix of a store parsed"
                );
            }
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
});
