//! One-line renderings of Node's performance entries, for `get -v` and
//! the server's session log.

fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

/// Node's stream performance entry in one line.
pub fn stream_summary(m: &crate::bindings::StreamMetrics) -> String {
    let opt = |t: Option<u64>| t.map_or_else(|| "-".to_string(), ms);
    format!(
        "closed after {}, {} B read, {} B written, first header {}, first byte {}, first byte sent {}",
        ms(m.duration_ns),
        m.bytes_read,
        m.bytes_written,
        opt(m.time_to_first_header_ns),
        opt(m.time_to_first_byte_ns),
        opt(m.time_to_first_byte_sent_ns)
    )
}

/// Node's session performance entry in one line.
pub fn session_summary(m: &crate::bindings::Metrics) -> String {
    format!(
        "{} streams (at most {} at once, {} on average), {} B / {} frames in, {} B / {} frames out, ping RTT {}, open {}",
        m.stream_count,
        m.max_concurrent_streams,
        ms(m.stream_average_duration_ns),
        m.bytes_read,
        m.frames_received,
        m.bytes_written,
        m.frames_sent,
        m.ping_rtt_ns.map_or_else(|| "-".to_string(), ms),
        ms(m.duration_ns)
    )
}
