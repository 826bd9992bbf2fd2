//! gzip, the one compression Connect clients are required to speak, both ways; bounded on
//! the way in, so a small compressed body cannot grow past the request limit.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::error::ConnectError;

/// Responses shorter than this go uncompressed: gzip's header and trailer cost more than it
/// saves, and the CPU is better spent elsewhere.
pub const MIN_COMPRESS_BYTES: usize = 1024;

/// A compression named by `content-encoding`, `connect-content-encoding` or the
/// `compression` query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

impl Encoding {
    /// None for a compression the server does not speak (answered UNIMPLEMENTED).
    pub fn parse(name: Option<&str>) -> Result<Encoding, ConnectError> {
        match name.map(str::trim) {
            None | Some("") | Some("identity") => Ok(Encoding::Identity),
            Some(n) if n.eq_ignore_ascii_case("gzip") => Ok(Encoding::Gzip),
            Some(other) => Err(ConnectError::new(
                tonic::Code::Unimplemented,
                format!("unknown compression {other:?}: supported are gzip and identity"),
            )),
        }
    }
}

/// Whether an `accept-encoding`-style list names gzip (with a q-value above zero).
pub fn accepts_gzip(list: Option<&http::HeaderValue>) -> bool {
    let Some(list) = list.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    list.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        name.eq_ignore_ascii_case("gzip") && !refused
    })
}

/// The bytes `data` decompresses to, refused once they would exceed `max`.
pub fn gunzip(data: &[u8], max: usize) -> Result<Bytes, ConnectError> {
    let mut out = Vec::new();
    GzDecoder::new(data)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ConnectError::invalid(format!("the gzip data does not decompress: {e}")))?;
    if out.len() > max {
        return Err(too_large(max));
    }
    Ok(out.into())
}

pub fn gzip(data: &[u8]) -> Bytes {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::fast());
    encoder.write_all(data).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec").into()
}

/// The same status and code as gRPC's own limit on a request message.
pub fn too_large(max: usize) -> ConnectError {
    ConnectError::new(
        tonic::Code::OutOfRange,
        format!("a request message may have at most {max} bytes"),
    )
}
