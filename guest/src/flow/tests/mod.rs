use super::*;

#[test]
fn send_window_overflow_is_detected() {
    let mut w = SendWindow::new(MAX_WINDOW_SIZE);
    assert_eq!(w.adjust(1), Err(WindowOverflow));
    let mut w = SendWindow::new(0);
    assert_eq!(w.adjust(i64::from(MAX_WINDOW_SIZE)), Ok(()));
    assert_eq!(w.adjust(1), Err(WindowOverflow));
}

#[test]
fn send_window_can_go_negative_and_recover() {
    let mut w = SendWindow::new(100);
    w.consume(100);
    w.adjust(-50).unwrap();
    assert_eq!(w.value(), -50);
    assert_eq!(w.available(), 0);
    w.adjust(80).unwrap();
    assert_eq!(w.available(), 30);
}

#[test]
fn recv_window_rejects_overrun() {
    let mut w = RecvWindow::new(10);
    assert_eq!(w.receive(10), Ok(()));
    assert_eq!(w.receive(1), Err(WindowExceeded));
}

#[test]
fn updates_are_batched_to_half_the_window() {
    let mut w = RecvWindow::new(100);
    w.receive(60).unwrap();
    assert_eq!(w.consume(30), None);
    assert_eq!(w.consume(30), Some(60));
    assert_eq!(w.window(), 100);
}

#[test]
fn growing_target_announces_difference() {
    let mut w = RecvWindow::new(65_535);
    assert_eq!(w.set_target(1 << 20), Some((1 << 20) - 65_535));
    assert_eq!(w.window(), 1 << 20);
    // Shrinking keeps the credit the peer holds (§6.9) and withholds the
    // difference from later updates instead.
    assert_eq!(w.set_target(1000), None);
    assert_eq!(w.window(), 1 << 20);
    w.receive(1 << 20).unwrap();
    assert_eq!(w.consume((1 << 20) - 1000), None);
    assert_eq!(w.consume(1000), Some(1000));
    assert_eq!(w.window(), 1000);
}

#[test]
fn consumption_is_capped_at_what_was_received() {
    let mut w = RecvWindow::new(100);
    w.receive(60).unwrap();
    assert_eq!(w.consume(1000), Some(60));
    assert_eq!(w.window(), 100);
    assert_eq!(w.consume(10), None);
}

#[test]
fn unconsumed_octets_are_taken_once() {
    let mut w = RecvWindow::new(100);
    w.receive(70).unwrap();
    assert_eq!(w.consume(20), None);
    assert_eq!(w.take_unconsumed(), 50);
    assert_eq!(w.take_unconsumed(), 0);
    assert_eq!(w.received_unannounced(), 20);
}
