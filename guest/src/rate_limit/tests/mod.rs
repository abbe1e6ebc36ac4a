use super::TokenBucket;

const MS: u64 = 1_000_000;

#[test]
fn burst_then_refill_at_rate() {
    let mut b = TokenBucket::new(3, 10, 0);
    assert!(b.take(0) && b.take(0) && b.take(0));
    assert!(!b.take(0), "burst spent");
    // 10 per second: one token every 100 ms, none before.
    assert!(!b.take(99 * MS));
    assert!(b.take(100 * MS));
    assert!(!b.take(100 * MS));
    // A long pause refills only up to the burst.
    let later = 100_000 * MS;
    assert!(b.take(later) && b.take(later) && b.take(later));
    assert!(!b.take(later));
}

#[test]
fn zero_burst_means_unlimited_and_time_going_back_is_harmless() {
    let mut b = TokenBucket::new(0, 0, 0);
    assert!((0..10_000).all(|_| b.take(0)));
    let mut b = TokenBucket::new(1, 1, 5_000 * MS);
    assert!(b.take(5_000 * MS));
    assert!(!b.take(0));
    assert!(b.take(6_000 * MS));
}
