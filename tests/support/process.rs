//! A `chartpilot` child process as tests start it. Small on purpose: test
//! binaries that do not need the rest of `support` include this file alone
//! (`#[path = "support/process.rs"]`).

use std::process::Child;
use std::time::{Duration, Instant};

/// Waits until the child answers `GET /healthz` with 200 on `port`; fails
/// when it exits first or after `within`.
pub fn wait_healthy(port: u16, child: &mut Child, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "chartpilot exited early"
        );
        assert!(Instant::now() < deadline, "/healthz never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
}
