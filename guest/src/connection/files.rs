//! Bodies read from files (Node's `respondWithFile`), and bodies the host
//! holds (`respond_with_payload`). In the component the engine reads files
//! through wasi:filesystem, so only directories the host pre-opened are
//! reachable at all; paths with `..` are refused here too.

use super::Connection;
use super::commands::RespondOptions;
use crate::error::CommandError;
use crate::headers::HeaderField;
use crate::stream::{BodyReader, FileBody};
use std::io::{Seek, SeekFrom};
use std::time::UNIX_EPOCH;

/// What `stat_file` and `respond_with_file` report (Node's `statCheck`
/// input): enough to answer 304 or compute validators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// Octets.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: Option<u64>,
}

fn check_path(path: &str) -> Result<(), CommandError> {
    if path.is_empty() || path.contains('\0') || path.split(['/', '\\']).any(|p| p == "..") {
        return Err(CommandError::InvalidArgument(
            "file paths must be non-empty, without NUL or '..'",
        ));
    }
    Ok(())
}

fn file_error(path: &str, e: std::io::Error) -> CommandError {
    CommandError::File(format!("{path}: {e}"))
}

fn stat_of(meta: &std::fs::Metadata) -> FileStat {
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_nanos()).ok());
    FileStat {
        size: meta.len(),
        modified_ns,
    }
}

/// Facts about a regular file, for deciding how to answer before
/// `respond_with_file` (Node's `statCheck`).
pub fn stat_file(path: &str) -> Result<FileStat, CommandError> {
    check_path(path)?;
    let meta = std::fs::metadata(path).map_err(|e| file_error(path, e))?;
    if !meta.is_file() {
        return Err(CommandError::File(format!("{path}: not a regular file")));
    }
    Ok(stat_of(&meta))
}

impl Connection {
    /// Server: responds with `fields` (`:status` defaults to 200) and the
    /// file at `path` from `offset`, `length` octets at most, as the body.
    /// `content-length` is set to what will be sent. The file is read as
    /// flow control allows; a read failure resets the stream with
    /// INTERNAL_ERROR. Returns the file's size and modification time.
    pub fn respond_with_file(
        &mut self,
        stream_id: u32,
        fields: Vec<HeaderField>,
        path: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<FileStat, CommandError> {
        self.check_server()?;
        check_path(path)?;
        let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
        self.respond_with_fd(stream_id, file, fields, offset, length)
            .map_err(|e| match e {
                CommandError::File(why) => CommandError::File(format!("{path}: {why}")),
                other => other,
            })
    }

    /// `respond_with_file` from a file already open (Node's
    /// `respondWithFD`); the engine keeps it until the body is sent.
    pub fn respond_with_fd(
        &mut self,
        stream_id: u32,
        mut file: std::fs::File,
        fields: Vec<HeaderField>,
        offset: u64,
        length: Option<u64>,
    ) -> Result<FileStat, CommandError> {
        self.check_server()?;
        let meta = file
            .metadata()
            .map_err(|e| CommandError::File(e.to_string()))?;
        if !meta.is_file() {
            return Err(CommandError::File("not a regular file".into()));
        }
        let stat = stat_of(&meta);
        let len = body_length(stat, offset, length)?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| CommandError::File(e.to_string()))?;
        }
        self.respond_with_reader(stream_id, fields, Box::new(file), len)?;
        Ok(stat)
    }

    /// `respond_with_reader` for a body the host holds: DATA frames carry
    /// references to `length` octets of the host's body `body` (see
    /// [`Transmit`](crate::Transmit)), never its octets. Once no reference
    /// will name it again (it was sent, or the stream ended first) it is
    /// listed in a transmit's `released`.
    pub fn respond_with_payload(
        &mut self,
        stream_id: u32,
        fields: Vec<HeaderField>,
        body: u64,
        length: u64,
    ) -> Result<(), CommandError> {
        self.check_server()?;
        self.respond_with_length(stream_id, fields, length)?;
        let queued = match self.streams.live.get_mut(&stream_id) {
            Some(s) if length > 0 => {
                s.send.end_requested = true;
                s.send.push_host(body, length)
            }
            _ => false,
        };
        if queued {
            self.schedule(stream_id);
        } else {
            self.payload.finish(body);
        }
        Ok(())
    }

    /// The common end of the file responses: `body` yields the `len`
    /// octets to send, read as flow control allows.
    pub fn respond_with_reader(
        &mut self,
        stream_id: u32,
        fields: Vec<HeaderField>,
        body: Box<dyn BodyReader>,
        len: u64,
    ) -> Result<(), CommandError> {
        self.respond_with_length(stream_id, fields, len)?;
        if len > 0
            && let Some(s) = self.streams.live.get_mut(&stream_id)
        {
            s.send.set_file(FileBody {
                file: body,
                remaining: len,
                ahead: Default::default(),
            });
            s.send.end_requested = true;
            self.schedule(stream_id);
        }
        Ok(())
    }

    /// Response headers for a body of `len` octets: `:status` defaults to
    /// 200 and `content-length` is what will be sent. An empty body ends
    /// the stream with the headers.
    fn respond_with_length(
        &mut self,
        stream_id: u32,
        fields: Vec<HeaderField>,
        len: u64,
    ) -> Result<(), CommandError> {
        let mut fields: Vec<HeaderField> = fields
            .into_iter()
            .filter(|f| !f.name.eq_ignore_ascii_case(b"content-length"))
            .collect();
        if !fields.iter().any(|f| f.name == ":status") {
            fields.insert(0, HeaderField::new(":status", "200"));
        }
        fields.push(HeaderField::new("content-length", len.to_string()));
        self.respond(
            stream_id,
            fields,
            RespondOptions {
                end_stream: len == 0,
                wait_for_trailers: false,
            },
        )
    }
}

/// Octets a file response sends: from `offset`, at most `length`.
pub fn body_length(stat: FileStat, offset: u64, length: Option<u64>) -> Result<u64, CommandError> {
    let Some(available) = stat.size.checked_sub(offset) else {
        return Err(CommandError::InvalidArgument(
            "offset beyond the end of the file",
        ));
    };
    Ok(length.map_or(available, |l| l.min(available)))
}
