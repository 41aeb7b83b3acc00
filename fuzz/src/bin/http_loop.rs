//! The `http` fuzz check without libFuzzer: random inputs from a seeded
//! generator, a bounded number of them, so any machine can run it.
//! Usage: http_loop [SEED] [ITERATIONS]   (defaults 1 and 100000)

/// Largest generated input: past the 64 KiB route limits is not needed to
/// reach every branch, and small inputs keep the loop fast.
const MAX_INPUT: usize = 2048;

fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let iterations: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut state = seed.max(1);
    // xorshift64: reproducible from the seed alone.
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let rt = actix_web::rt::Runtime::new().unwrap_or_else(|e| panic!("no runtime: {e}"));
    let start = std::time::Instant::now();
    for i in 0..iterations {
        let len = (next() as usize) % MAX_INPUT;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the inputs get a JSON-looking body so the parsers see more
        // than noise.
        if i % 2 == 0 && input.len() > 8 {
            let at = 4 + input[1] as usize % 16;
            let json =
                br#"{"user":"u","text":"/chartpilot help","ref":"r","version":"4","alerts":[]}"#;
            input.truncate(at.min(input.len()));
            input.extend_from_slice(json);
        }
        rt.block_on(chartpilot_fuzz::http::check(&input));
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "http_loop: seed {seed}, {iterations} inputs, no failure, {:.0} exec/s",
        iterations as f64 / secs
    );
}
