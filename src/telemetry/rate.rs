//! A budget of log lines per window, so that whoever can make chartpilot
//! log (a malformed request, a bad signature) cannot flood the log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines of one kind written per window; the rest are counted.
pub const LINES_PER_WINDOW: u32 = 10;

/// Length of the window the budget refills over.
pub const WINDOW: Duration = Duration::from_secs(10);

/// What to do with one more line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Write it; `suppressed` lines were dropped in the windows before.
    Log { suppressed: u64 },
    /// Over budget: counted, not written.
    Drop,
}

#[derive(Debug)]
struct State {
    start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

#[derive(Debug)]
pub struct LineBudget {
    per_window: u32,
    window: Duration,
    state: Mutex<State>,
}

impl LineBudget {
    pub const fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            state: Mutex::new(State {
                start: None,
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    pub fn admit(&self, now: Instant) -> Admit {
        // A poisoned lock only means another thread panicked mid-count;
        // the counters are still usable.
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.start
            .is_none_or(|start| now.duration_since(start) >= self.window)
        {
            s.start = Some(now);
            s.logged = 0;
        }
        if s.logged < self.per_window {
            s.logged += 1;
            Admit::Log {
                suppressed: std::mem::take(&mut s.suppressed),
            }
        } else {
            s.suppressed += 1;
            Admit::Drop
        }
    }

    /// Lines dropped in a window that has ended, for a summary line.
    pub fn take_finished(&self, now: Instant) -> u64 {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.start {
            Some(start) if now.duration_since(start) >= self.window => {
                std::mem::take(&mut s.suppressed)
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_n_per_window_then_counts() {
        let b = LineBudget::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(b.admit(t0), Admit::Log { suppressed: 0 });
        assert_eq!(b.admit(t0), Admit::Log { suppressed: 0 });
        assert_eq!(b.admit(t0), Admit::Drop);
        assert_eq!(b.admit(t0 + Duration::from_secs(9)), Admit::Drop);
        assert_eq!(b.take_finished(t0 + Duration::from_secs(5)), 0);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(b.admit(later), Admit::Log { suppressed: 2 });
        assert_eq!(b.admit(later), Admit::Log { suppressed: 0 });
        assert_eq!(b.admit(later), Admit::Drop);
        assert_eq!(b.take_finished(later + Duration::from_secs(10)), 1);
        assert_eq!(b.take_finished(later + Duration::from_secs(10)), 0);
    }
}
