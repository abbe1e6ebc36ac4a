//! WIT types to the native engine's and back: each pair once. Records
//! whose fields match are converted both ways from one list of their
//! fields ([`both_ways!`]), enums from one list of their cases.

use super::exports::h2wasm::http2::session::{
    PreparedResponse, RequestOptions as WitRequestOptions, RespondOptions as WitRespondOptions,
};
use super::exports::h2wasm::http2::types::{
    AltsvcTarget, CommandError, ConnectionError, FileStat, HeaderField, Metrics, Options, Origin,
    PaddingStrategy, Priority, SessionState, Settings, StreamMetrics, StreamState,
};
use crate::connection::{
    AltSvcTarget as NativeAltSvcTarget, BatchedResponse, FileStat as NativeFileStat,
    Metrics as NativeMetrics, RequestOptions, RespondOptions, SessionState as NativeSessionState,
    StreamStateInfo,
};
use crate::error::{CommandError as NativeCommandError, ConnectionError as NativeConnError};
use crate::events::Origin as NativeOrigin;
use crate::frame::PrioritySpec;
use crate::headers::HeaderField as NativeField;
use crate::options::{Options as NativeOptions, PaddingStrategy as NativePadding};
use crate::settings::Settings as NativeSettings;
use crate::stream::StreamMetrics as NativeStreamMetrics;
use bytes::Bytes;

/// `From` both ways between two records, field for field (each converted
/// with `into`); fields one side has and the other lacks are given per
/// direction.
macro_rules! both_ways {
    ($a:ty, $b:ty, [$($field:ident),* $(,)?]
     $(, to_b { $($bf:ident: $bv:expr),* $(,)? })?
     $(, to_a { $($af:ident: $av:expr),* $(,)? })?) => {
        impl From<$a> for $b {
            fn from(x: $a) -> Self {
                Self { $($field: x.$field.into(),)* $($($bf: $bv,)*)? }
            }
        }
        impl From<$b> for $a {
            fn from(x: $b) -> Self {
                Self { $($field: x.$field.into(),)* $($($af: $av,)*)? }
            }
        }
    };
}

/// `From` one way between two records, field for field (each converted
/// with `into`), for what only ever crosses in one direction.
macro_rules! one_way {
    ($a:ty, $b:ty, [$($field:ident),* $(,)?]) => {
        impl From<$a> for $b {
            fn from(x: $a) -> Self {
                Self { $($field: x.$field.into(),)* }
            }
        }
    };
}

/// `From` both ways between two enums with the same cases.
macro_rules! both_ways_enum {
    ($a:ident, $b:ident, [$($case:ident),* $(,)?]) => {
        impl From<$a> for $b {
            fn from(x: $a) -> $b {
                match x { $($a::$case => $b::$case,)* }
            }
        }
        impl From<$b> for $a {
            fn from(x: $b) -> $a {
                match x { $($b::$case => $a::$case,)* }
            }
        }
    };
}

both_ways!(
    Settings,
    NativeSettings,
    [
        header_table_size,
        enable_push,
        max_concurrent_streams,
        initial_window_size,
        max_frame_size,
        max_header_list_size,
        enable_connect_protocol,
        no_rfc7540_priorities,
        custom,
    ]
);

both_ways_enum!(PaddingStrategy, NativePadding, [None, Aligned, Max]);
both_ways_enum!(Origin, NativeOrigin, [Local, Remote]);

both_ways!(
    Options,
    NativeOptions,
    [
        settings,
        scheme,
        authority,
        max_deflate_dynamic_table_size,
        max_header_list_pairs,
        max_settings,
        max_outstanding_pings,
        peer_max_concurrent_streams,
        max_session_invalid_frames,
        max_session_rejected_streams,
        connection_window_size,
        stream_high_water_mark,
        max_continuation_frames,
        manual_consume,
        stream_reset_burst,
        stream_reset_rate,
        padding_strategy,
        max_session_memory,
        max_send_header_block_length,
        origins,
        max_reserved_remote_streams,
        auto_continue,
        frame_timeout_ns,
        half_closed_timeout_ns,
        remote_custom_settings,
    ],
    // Not in WIT: the engine's defaults.
    to_b {
        max_outbound_control: NativeOptions::default().max_outbound_control,
        max_closed_streams: NativeOptions::default().max_closed_streams,
    },
    // How events are reported is the glue's concern, not the engine's.
    to_a {
        header_blocks: false,
        input_data: false,
    }
);

impl From<NativeFileStat> for FileStat {
    fn from(s: NativeFileStat) -> FileStat {
        FileStat {
            size: s.size,
            modified_ns: s.modified_ns,
        }
    }
}

impl From<NativeConnError> for ConnectionError {
    fn from(e: NativeConnError) -> ConnectionError {
        ConnectionError {
            code: e.code.0,
            reason: e.reason.to_string(),
        }
    }
}

impl From<NativeCommandError> for CommandError {
    fn from(e: NativeCommandError) -> CommandError {
        match e {
            NativeCommandError::UnknownStream => CommandError::UnknownStream,
            NativeCommandError::InvalidState(s) => CommandError::InvalidState(s.to_string()),
            NativeCommandError::WrongRole => CommandError::WrongRole,
            NativeCommandError::InvalidHeader(s) => CommandError::InvalidHeader(s),
            NativeCommandError::InvalidArgument(s) => CommandError::InvalidArgument(s.to_string()),
            NativeCommandError::SessionClosed => CommandError::SessionClosed,
            NativeCommandError::StreamIdsExhausted => CommandError::StreamIdsExhausted,
            NativeCommandError::ConcurrencyLimit => CommandError::ConcurrencyLimit,
            NativeCommandError::File(s) => CommandError::File(s),
            NativeCommandError::SessionMemory => CommandError::SessionMemory,
        }
    }
}

impl From<Priority> for PrioritySpec {
    fn from(p: Priority) -> PrioritySpec {
        PrioritySpec {
            dependency: p.parent,
            exclusive: p.exclusive,
            weight: p.weight,
        }
    }
}

impl From<NativeStreamMetrics> for StreamMetrics {
    fn from(m: NativeStreamMetrics) -> StreamMetrics {
        StreamMetrics {
            bytes_read: m.bytes_read,
            bytes_written: m.bytes_written,
            duration_ns: m.duration_ns,
            time_to_first_header_ns: m.time_to_first_header_ns,
            time_to_first_byte_ns: m.time_to_first_byte_ns,
            time_to_first_byte_sent_ns: m.time_to_first_byte_sent_ns,
        }
    }
}

impl From<HeaderField> for NativeField {
    fn from(f: HeaderField) -> NativeField {
        NativeField {
            name: Bytes::from(f.name.into_bytes()),
            value: Bytes::from(f.value),
            sensitive: f.sensitive,
        }
    }
}

impl From<&NativeField> for HeaderField {
    fn from(f: &NativeField) -> HeaderField {
        HeaderField {
            // Received names passed token validation, so they are ASCII.
            name: String::from_utf8_lossy(&f.name).into_owned(),
            value: f.value.to_vec(),
            sensitive: f.sensitive,
        }
    }
}

pub(super) fn fields_from_wit(fields: Vec<HeaderField>) -> Vec<NativeField> {
    fields.into_iter().map(NativeField::from).collect()
}

pub(super) fn fields_to_wit(fields: &[NativeField]) -> Vec<HeaderField> {
    fields.iter().map(HeaderField::from).collect()
}

one_way!(
    NativeSessionState,
    SessionState,
    [
        effective_local_window_size,
        effective_recv_data_length,
        next_stream_id,
        local_window_size,
        last_proc_stream_id,
        remote_window_size,
        outbound_queue_size,
        deflate_dynamic_table_size,
        inflate_dynamic_table_size,
    ]
);

one_way!(
    NativeMetrics,
    Metrics,
    [
        bytes_read,
        bytes_written,
        frames_received,
        frames_sent,
        stream_count,
        max_concurrent_streams,
        ping_rtt_ns,
        stream_average_duration_ns,
        duration_ns,
    ]
);

one_way!(
    WitRespondOptions,
    RespondOptions,
    [end_stream, wait_for_trailers]
);

one_way!(
    PreparedResponse,
    BatchedResponse,
    [stream_id, headers, body_length]
);

impl From<WitRequestOptions> for RequestOptions {
    fn from(o: WitRequestOptions) -> Self {
        RequestOptions {
            end_stream: o.end_stream,
            wait_for_trailers: o.wait_for_trailers,
            priority: o.priority.map(PrioritySpec::from),
            manual_consume: o.manual_consume,
        }
    }
}

impl From<AltsvcTarget> for NativeAltSvcTarget {
    fn from(t: AltsvcTarget) -> Self {
        match t {
            AltsvcTarget::Origin(o) => NativeAltSvcTarget::Origin(o),
            AltsvcTarget::Stream(id) => NativeAltSvcTarget::Stream(id),
        }
    }
}

impl From<StreamStateInfo> for StreamState {
    fn from(s: StreamStateInfo) -> Self {
        StreamState {
            state: s.state,
            local_window_size: s.local_window_size,
            remote_window_size: s.remote_window_size,
            local_close: s.local_close,
            remote_close: s.remote_close,
            buffer_size: s.buffer_size,
            headers_sent: s.headers_sent,
            closed: s.closed,
            rst_code: s.rst_code,
            aborted: s.aborted,
            pending: s.pending,
            end_after_headers: s.end_after_headers,
            sent_headers: fields_to_wit(&s.sent_headers),
            sent_info_headers: s
                .sent_info_headers
                .iter()
                .map(|h| fields_to_wit(h))
                .collect(),
            sent_trailers: fields_to_wit(&s.sent_trailers),
            weight: s.weight,
            sum_dependency_weight: s.sum_dependency_weight,
            parent: s.parent,
            urgency: s.urgency,
            incremental: s.incremental,
        }
    }
}
