//! The message of each thread's last failed `otp_link_recover` or
//! `otp_link_verify`, for `otp_link_last_error`.
//!
//! Per thread, as `errno` is, so that threads calling the library at once
//! each read their own. Messages name paths at most, never a secret (the
//! rule of otp-core's errors), so they need no wiping.

use std::cell::RefCell;

thread_local! {
    static LAST: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `message` as this thread's last error.
pub(crate) fn set(message: String) {
    // A thread that is exiting has no slot left; there is no one to tell.
    let _ = LAST.try_with(|last| *last.borrow_mut() = message);
}

/// Records that this thread's last call succeeded.
pub(crate) fn clear() {
    let _ = LAST.try_with(|last| last.borrow_mut().clear());
}

/// This thread's last error ("" when there is none).
pub(crate) fn get() -> String {
    LAST.try_with(|last| last.borrow().clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_reads_its_own_last_error() {
        set("store /a does not exist".into());
        std::thread::spawn(|| {
            assert_eq!(get(), "");
            set("other".into());
        })
        .join()
        .unwrap();
        assert_eq!(get(), "store /a does not exist");
        clear();
        assert_eq!(get(), "");
    }
}
