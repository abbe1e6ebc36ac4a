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

#[test]
fn varints_take_what_their_values_need_and_refuse_the_rest() {
    let mut w = Writer::new();
    let version = w.0.len();
    for v in [0, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
        w.u64(v);
    }
    for v in [0, -1, 1, i64::MIN, i64::MAX] {
        w.i64(v);
    }
    let buf = w.finish();
    // 1 + 1 + 2 + 2 + 3 + 5 + 10 octets, then zigzag 1 + 1 + 1 + 10 + 10.
    assert_eq!(buf.len() - version, 24 + 23);
    let mut r = Reader::new(&buf).unwrap();
    for v in [0, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
        assert_eq!(r.u64(), Ok(v));
    }
    for v in [0, -1, 1, i64::MIN, i64::MAX] {
        assert_eq!(r.i64(), Ok(v));
    }
    assert_eq!(r.finish(), Ok(()));

    let read = |tail: &[u8]| {
        let mut buf = Writer::new().finish();
        buf.extend_from_slice(tail);
        let mut r = Reader::new(&buf).unwrap();
        (r.u64(), Reader::new(&buf).unwrap().u32())
    };
    // Eleven octets, or a tenth with more than bit 64: past 64 bits.
    let mut overlong = vec![0x80; 10];
    overlong.push(0);
    assert_eq!(read(&overlong).0, Err(Corrupt));
    let mut too_big = vec![0xff; 9];
    too_big.push(0x02);
    assert_eq!(read(&too_big).0, Err(Corrupt));
    // A u64 that a u32 field cannot hold.
    assert_eq!(read(&[0x80, 0x80, 0x80, 0x80, 0x10]).1, Err(Corrupt));
    assert_eq!(read(&[0xff, 0xff, 0xff, 0xff, 0x0f]).1, Ok(u32::MAX));
}
