//! Stops the per-invocation leak of `_X_AMZN_TRACE_ID` (glibc only).
//!
//! lambda_runtime (1.5, sequential mode) calls `std::env::set_var("_X_AMZN_TRACE_ID", id)`
//! before every invocation, and every invocation has a new trace id. glibc's `setenv` never
//! frees a value it has put in the environment (getenv pointers may still refer to it), so
//! each invocation leaked ~150 bytes: a function's memory grew without bound under load.
//!
//! Each function's `main.rs` says `keygate::keep_trace_id_env_bounded!();`, which defines
//! `setenv` in the binary so that this one variable lives in a single static buffer,
//! rewritten in place and handed to `putenv` (which stores the pointer, no copy). Every
//! other variable goes to the C library's `setenv` as before. Rust code reads and writes the
//! environment under std's lock, so no Rust reader sees a value half-written.
//!
//! Only for glibc (`target_os = "linux"`, `target_env = "gnu"`: Lambda's own Linux, arm64 or
//! x86_64, and local Linux builds). The leak is glibc's, and so are the tricks used here
//! (`RTLD_NEXT`, a binary's own `setenv` winning over libc's): on any other target the macro
//! expands to nothing and none of the unsafe code below is compiled.
//!
//! Tests keep this honest: `shared/tests/trace_env.rs` fails if lambda_runtime stops setting
//! the variable (this would then be dead code), and `functions/*/tests/trace_env.rs` run each
//! real function binary against a fake Runtime API and fail if its `set_var` no longer comes
//! here (the variable's old values then pile up in the process's memory).
//!
//! Delete it all when lambda_runtime stops setting the variable or offers a way not to (today
//! only its `run_concurrent` skips it, and only with `AWS_LAMBDA_MAX_CONCURRENCY` above 1, on
//! Lambda Managed Instances): this file, `pub mod trace_env;` in `lib.rs`, the macro's line in
//! each `functions/*/src/main.rs`, `shared/tests/trace_env.rs`,
//! `shared/tests/support/fake_runtime_api.rs` and `functions/*/tests/trace_env.rs`.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub use glibc::setenv;

/// Defines `setenv` in the calling binary crate (a binary's own definition is the one
/// std's `set_var` links to). Use once, in each function's `main.rs`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[macro_export]
macro_rules! keep_trace_id_env_bounded {
    () => {
        /// See `keygate::trace_env`.
        ///
        /// # Safety
        /// The C `setenv` contract.
        #[no_mangle]
        pub unsafe extern "C" fn setenv(
            name: *const ::std::ffi::c_char,
            value: *const ::std::ffi::c_char,
            overwrite: ::std::ffi::c_int,
        ) -> ::std::ffi::c_int {
            $crate::trace_env::setenv(name, value, overwrite)
        }
    };
}

/// Not glibc: nothing leaks this way, so nothing to define (see `keygate::trace_env`).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
#[macro_export]
macro_rules! keep_trace_id_env_bounded {
    () => {};
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::{c_char, c_int, c_void, CStr};
    use std::ptr::{addr_of_mut, copy_nonoverlapping};
    use std::sync::OnceLock;

    const NAME: &[u8] = b"_X_AMZN_TRACE_ID";
    /// Room for `NAME=value\0`; Lambda's trace ids are well under 256 bytes. A longer value
    /// takes the C library's path (and leaks as before).
    const SLOT_LEN: usize = 512;
    static mut SLOT: [u8; SLOT_LEN] = [0; SLOT_LEN];

    type SetEnv = unsafe extern "C" fn(*const c_char, *const c_char, c_int) -> c_int;
    /// glibc's `RTLD_NEXT`: the next definition after the calling object's, i.e. libc's.
    const RTLD_NEXT: *mut c_void = -1isize as *mut c_void;

    extern "C" {
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
        fn putenv(string: *mut c_char) -> c_int;
    }

    /// `setenv` that keeps `_X_AMZN_TRACE_ID` in one reused buffer.
    ///
    /// # Safety
    /// The C `setenv` contract; callers must not read the environment concurrently, which
    /// std's `set_var` (its only caller here) guarantees for Rust code.
    pub unsafe fn setenv(name: *const c_char, value: *const c_char, overwrite: c_int) -> c_int {
        if !name.is_null()
            && !value.is_null()
            && overwrite != 0
            && CStr::from_ptr(name).to_bytes() == NAME
        {
            let value = CStr::from_ptr(value).to_bytes();
            let len = NAME.len() + 1 + value.len();
            if len < SLOT_LEN {
                let slot = addr_of_mut!(SLOT).cast::<u8>();
                copy_nonoverlapping(NAME.as_ptr(), slot, NAME.len());
                *slot.add(NAME.len()) = b'=';
                copy_nonoverlapping(value.as_ptr(), slot.add(NAME.len() + 1), value.len());
                *slot.add(len) = 0;
                return putenv(slot.cast());
            }
        }
        libc_setenv()(name, value, overwrite)
    }

    fn libc_setenv() -> SetEnv {
        static REAL: OnceLock<SetEnv> = OnceLock::new();
        *REAL.get_or_init(|| {
            // SAFETY: dlsym with a NUL-terminated name; the symbol has setenv's C signature.
            let found = unsafe { dlsym(RTLD_NEXT, c"setenv".as_ptr()) };
            assert!(!found.is_null(), "the C library's setenv not found");
            unsafe { std::mem::transmute::<*mut c_void, SetEnv>(found) }
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        extern "C" {
            fn getenv(name: *const c_char) -> *const c_char;
        }

        #[test]
        fn the_trace_id_is_rewritten_in_one_buffer_and_other_variables_go_to_libc() {
            for i in 0..10_000 {
                let value =
                    std::ffi::CString::new(format!("Root=1-{i:08x}-{i:024x};Sampled=1")).unwrap();
                // SAFETY: NUL-terminated strings; no other test touches these variables.
                assert_eq!(
                    unsafe { setenv(c"_X_AMZN_TRACE_ID".as_ptr(), value.as_ptr(), 1) },
                    0
                );
                assert_eq!(
                    std::env::var("_X_AMZN_TRACE_ID").unwrap(),
                    value.to_str().unwrap()
                );
            }
            // The environment points into the one buffer: nothing was allocated per call.
            let found = unsafe { getenv(c"_X_AMZN_TRACE_ID".as_ptr()) };
            assert_eq!(found.cast::<u8>(), unsafe {
                addr_of_mut!(SLOT).cast::<u8>().add(NAME.len() + 1)
            });

            assert_eq!(
                unsafe { setenv(c"KEYGATE_TRACE_ENV_TEST".as_ptr(), c"x".as_ptr(), 1) },
                0
            );
            assert_eq!(std::env::var("KEYGATE_TRACE_ENV_TEST").unwrap(), "x");
            assert_eq!(
                unsafe { setenv(c"KEYGATE_TRACE_ENV_TEST".as_ptr(), c"y".as_ptr(), 0) },
                0
            );
            assert_eq!(std::env::var("KEYGATE_TRACE_ENV_TEST").unwrap(), "x");
        }
    }
}
