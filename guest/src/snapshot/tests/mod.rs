use super::*;

#[test]
fn round_trip_and_refusals() {
    let mut w = Writer::new();
    w.u8(7);
    w.bool(true);
    w.u16(0xbeef);
    w.u32(1 << 31);
    w.u64(u64::MAX);
    w.i64(-5);
    w.opt_u32(None);
    w.opt_u64(Some(9));
    w.bytes(b"abc");
    w.len(2);
    let buf = w.finish();
    let mut r = Reader::new(&buf).unwrap();
    assert_eq!(r.u8(), Ok(7));
    assert_eq!(r.bool(), Ok(true));
    assert_eq!(r.u16(), Ok(0xbeef));
    assert_eq!(r.u32(), Ok(1 << 31));
    assert_eq!(r.u64(), Ok(u64::MAX));
    assert_eq!(r.i64(), Ok(-5));
    assert_eq!(r.opt_u32(), Ok(None));
    assert_eq!(r.opt_u64(), Ok(Some(9)));
    assert_eq!(r.bytes(), Ok(&b"abc"[..]));
    // Two items of at least one octet cannot fit in nothing.
    assert_eq!(r.len(1), Err(Corrupt));
    // Every prefix of a snapshot is refused, never misread.
    for cut in 0..buf.len() {
        let mut r = match Reader::new(&buf[..cut]) {
            Ok(r) => r,
            Err(_) => continue,
        };
        let all = (|| -> Result<(), Corrupt> {
            r.u8()?;
            r.bool()?;
            r.u16()?;
            r.u32()?;
            r.u64()?;
            r.i64()?;
            r.opt_u32()?;
            r.opt_u64()?;
            r.bytes()?;
            r.u32()?;
            Ok(())
        })();
        assert_eq!(all, Err(Corrupt), "cut at {cut}");
    }
    assert_eq!(Reader::new(&[9, 9, 9, 9]).err(), Some(Corrupt));
}
