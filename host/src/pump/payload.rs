//! Bodies the pump holds for the engine (`respond-with-payload`): files
//! served over HTTP/2. The engine frames them (DATA headers, padding, flow
//! control) and hands back references; their octets go from the file to
//! the socket without entering the engine's memory and coming out again.

use crate::bindings::Transmit;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// A connection's host bodies, by the id given to the engine (the stream
/// id). Each is an open file and where its body starts; one per stream
/// answered with a file, released when the engine says so.
#[derive(Default)]
pub(crate) struct HostBodies {
    files: HashMap<u64, (File, u64)>,
}

impl HostBodies {
    pub fn insert(&mut self, id: u64, file: File, start: u64) {
        self.files.insert(id, (file, start));
    }

    /// The body was never given to the engine after all.
    pub fn remove(&mut self, id: u64) {
        self.files.remove(&id);
    }

    /// The octets to write for `t`: its own, with the referenced file
    /// ranges read in between; then the bodies it releases are closed. A
    /// file that cannot be read as far as promised fails the connection:
    /// the frame headers around that payload are already decided.
    pub fn assemble(&mut self, t: Transmit) -> std::io::Result<Vec<u8>> {
        let out = if t.payload.is_empty() {
            t.octets
        } else {
            let payload: usize = t.payload.iter().map(|r| r.length as usize).sum();
            let mut out = Vec::with_capacity(t.octets.len() + payload);
            let mut from = 0;
            for r in &t.payload {
                let at = r.at as usize;
                let inline = t.octets.get(from..at).ok_or_else(bad_ref)?;
                out.extend_from_slice(inline);
                from = at;
                let (file, start) = self.files.get(&r.body).ok_or_else(bad_ref)?;
                let dest = out.len();
                out.resize(dest + r.length as usize, 0);
                file.read_exact_at(&mut out[dest..], start + r.offset)?;
            }
            out.extend_from_slice(t.octets.get(from..).ok_or_else(bad_ref)?);
            out
        };
        for id in t.released {
            self.files.remove(&id);
        }
        Ok(out)
    }
}

fn bad_ref() -> std::io::Error {
    std::io::Error::other("the engine referred to payload the host does not hold")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::PayloadRef;
    use std::io::Write;

    #[test]
    fn splices_file_ranges_between_octets_and_releases() {
        let path = std::env::temp_dir().join(format!("h2wasm-payload-{}", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(b"0123456789")
            .unwrap();
        let mut bodies = HostBodies::default();
        bodies.insert(5, File::open(&path).unwrap(), 2);
        let t = Transmit {
            octets: b"[]<>".to_vec(),
            payload: vec![
                PayloadRef {
                    at: 1,
                    body: 5,
                    offset: 0,
                    length: 3,
                },
                PayloadRef {
                    at: 3,
                    body: 5,
                    offset: 3,
                    length: 2,
                },
            ],
            released: vec![5],
        };
        assert_eq!(bodies.assemble(t).unwrap(), b"[234]<56>");
        assert!(bodies.files.is_empty());
        // A reference to a body it does not hold is an error, not a panic.
        let t = Transmit {
            octets: vec![],
            payload: vec![PayloadRef {
                at: 0,
                body: 5,
                offset: 0,
                length: 1,
            }],
            released: vec![],
        };
        assert!(bodies.assemble(t).is_err());
        // So is a range past the end of the file.
        bodies.insert(6, File::open(&path).unwrap(), 8);
        let t = Transmit {
            octets: vec![],
            payload: vec![PayloadRef {
                at: 0,
                body: 6,
                offset: 0,
                length: 5,
            }],
            released: vec![],
        };
        assert!(bodies.assemble(t).is_err());
        let _ = std::fs::remove_file(&path);
    }
}
