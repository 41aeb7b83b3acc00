#![no_main]
//! Arbitrary requests against the webhook receivers (see `src/http.rs`).

use libfuzzer_sys::fuzz_target;

thread_local! {
    /// One runtime for the whole run: building one per input would cost
    /// more than the request.
    static RUNTIME: actix_web::rt::Runtime =
        actix_web::rt::Runtime::new().unwrap_or_else(|e| panic!("no runtime: {e}"));
}

fuzz_target!(|data: &[u8]| {
    RUNTIME.with(|rt| rt.block_on(chartpilot_fuzz::http::check(data)));
});
