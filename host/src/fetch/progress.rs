//! The progress meter `h2wasm get -o FILE` shows on a terminal, as curl
//! does: octets so far, the rate, and the time left when the length is
//! known. Redrawn at most five times a second, on one line.

use std::io::Write;
use std::time::{Duration, Instant};

const REDRAW: Duration = Duration::from_millis(200);

pub(crate) struct Progress {
    started: Instant,
    drawn: Option<Instant>,
    done: u64,
    /// The sum of the announced lengths; `None` once a body has none.
    total: Option<u64>,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            started: Instant::now(),
            drawn: None,
            done: 0,
            total: Some(0),
        }
    }

    /// A response that goes to a file announced `length` (content-length).
    pub(crate) fn expect(&mut self, length: Option<u64>) {
        self.total = self.total.zip(length).map(|(t, l)| t + l);
    }

    pub(crate) fn add(&mut self, n: u64) {
        self.done += n;
        if self.drawn.is_none_or(|t| t.elapsed() >= REDRAW) {
            self.draw(false);
        }
    }

    /// The last line, kept.
    pub(crate) fn finish(&mut self) {
        if self.drawn.is_some() || self.done > 0 {
            self.draw(true);
        }
    }

    fn draw(&mut self, last: bool) {
        self.drawn = Some(Instant::now());
        let line = self.line(self.started.elapsed());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line:<60}");
        if last {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }

    /// `1.5 MiB / 10.0 MiB  3.0 MiB/s  0:03 left`, or without the total
    /// and time left when the length is unknown.
    pub(crate) fn line(&self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64().max(1e-3);
        let rate = self.done as f64 / secs;
        match self.total {
            Some(total) if total > 0 => {
                let left = total.saturating_sub(self.done) as f64 / rate.max(1.0);
                format!(
                    "{} / {}  {}/s  {} left",
                    size(self.done),
                    size(total),
                    size(rate as u64),
                    clock(left as u64)
                )
            }
            _ => format!("{}  {}/s", size(self.done), size(rate as u64)),
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

fn size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn clock(secs: u64) -> String {
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_size_rate_and_time_left() {
        let mut p = Progress::new();
        p.expect(Some(10 << 20));
        p.done = 5 << 20;
        assert_eq!(
            p.line(Duration::from_secs(5)),
            "5.0 MiB / 10.0 MiB  1.0 MiB/s  0:05 left"
        );
        p.expect(None);
        assert_eq!(p.line(Duration::from_secs(5)), "5.0 MiB  1.0 MiB/s");
        assert_eq!(size(512), "512 B");
        assert_eq!(clock(3725), "1:02:05");
    }
}
