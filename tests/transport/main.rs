//! One port, many protocols: grpc-web (HTTP/1.1 and h2, binary and text), CORS, health,
//! reflection (v1 and v1alpha), REST over h2c, all of it over TLS, and 404 / 405 for unknown
//! paths (plain, or in the error body of the surface whose prefix they are under).

#[path = "../common/mod.rs"]
mod common;

mod cors;
mod framing;
mod grpc_web;
mod health_and_reflection;
mod tls;
mod unknown_paths;

use base64::Engine;
use common::*;
use orgd::proto::v1::*;
use prost::Message;
use reqwest::Method;
use serde_json::json;

const GRPC_WEB: &str = "application/grpc-web+proto";

fn frame(message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(0u8);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

/// A parsed grpc-web response.
#[derive(Debug)]
struct WebReply {
    http_status: u16,
    headers: reqwest::header::HeaderMap,
    /// Payloads of the data frames (flag 0).
    data: Vec<Vec<u8>>,
    /// Text of the trailer frame (flag 0x80), if any.
    trailer_text: Option<String>,
}

impl WebReply {
    /// grpc-status from the trailer frame, or from the headers for a trailers-only reply.
    fn grpc_status(&self) -> Option<i32> {
        if let Some(t) = &self.trailer_text {
            for line in t.split("\r\n").flat_map(|l| l.split('\n')) {
                if let Some((k, v)) = line.split_once(':')
                    && k.trim().eq_ignore_ascii_case("grpc-status")
                {
                    return v.trim().parse().ok();
                }
            }
        }
        self.headers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    }

    fn decode<M: Message + Default>(&self) -> M {
        assert_eq!(
            self.data.len(),
            1,
            "exactly one data frame expected: {self:?}"
        );
        M::decode(self.data[0].as_slice()).expect("decode the data frame")
    }

    #[track_caller]
    fn assert_ok(&self) {
        assert_eq!(self.http_status, 200, "grpc-web HTTP status: {self:?}");
        let trailer = self
            .trailer_text
            .as_deref()
            .unwrap_or_else(|| panic!("a successful reply ends with a trailer frame: {self:?}"));
        assert!(
            trailer.to_ascii_lowercase().contains("grpc-status:0")
                || trailer.to_ascii_lowercase().contains("grpc-status: 0"),
            "trailer frame carries grpc-status:0: {trailer:?}"
        );
        assert_eq!(self.grpc_status(), Some(0));
    }
}

fn parse_frames(body: &[u8]) -> (Vec<Vec<u8>>, Option<String>) {
    let mut data = Vec::new();
    let mut trailer = None;
    let mut rest = body;
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "truncated grpc-web frame header: {rest:?}");
        let flag = rest[0];
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        assert!(rest.len() >= 5 + len, "truncated grpc-web frame");
        let payload = rest[5..5 + len].to_vec();
        rest = &rest[5 + len..];
        if flag & 0x80 != 0 {
            assert!(trailer.is_none(), "at most one trailer frame");
            trailer = Some(String::from_utf8(payload).expect("trailers are text"));
        } else {
            assert!(trailer.is_none(), "no data frame after the trailer frame");
            data.push(payload);
        }
    }
    (data, trailer)
}

/// POSTs one grpc-web (binary) call.
async fn grpc_web(
    client: &reqwest::Client,
    app: &App,
    method: &str,
    message: &impl Message,
    token: Option<&str>,
    origin: Option<&str>,
) -> WebReply {
    grpc_web_at(client, &app.url(method), message, token, origin).await
}

/// POSTs one grpc-web (binary) call to a full URL.
async fn grpc_web_at(
    client: &reqwest::Client,
    url: &str,
    message: &impl Message,
    token: Option<&str>,
    origin: Option<&str>,
) -> WebReply {
    let mut req = client
        .post(url)
        .header("content-type", GRPC_WEB)
        .header("accept", GRPC_WEB)
        .header("x-grpc-web", "1")
        .body(frame(message));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let resp = req.send().await.expect("grpc-web request");
    let http_status = resp.status().as_u16();
    let headers = resp.headers().clone();
    if http_status == 200 {
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            ct.starts_with("application/grpc-web"),
            "grpc-web reply content-type: {ct:?}"
        );
    }
    let body = resp.bytes().await.expect("grpc-web body");
    let (data, trailer_text) = parse_frames(&body);
    WebReply {
        http_status,
        headers,
        data,
        trailer_text,
    }
}

const CREATE: &str = "/orgd.v1.OrganizationService/CreateOrganization";

const GET: &str = "/orgd.v1.OrganizationService/GetOrganization";

const LIST: &str = "/orgd.v1.OrganizationService/GetOrganizations";

const DELETE: &str = "/orgd.v1.OrganizationService/DeleteOrganization";

/// A grpc-web-text reply: possibly several base64 chunks (data, then trailers), each padded.
fn decode_web_text(text: &str) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let end = rest.find('=').map(|i| {
            let mut j = i;
            while rest[j..].starts_with('=') {
                j += 1;
            }
            j
        });
        let (chunk, tail) = rest.split_at(end.unwrap_or(rest.len()));
        raw.extend(b64.decode(chunk).expect("base64 reply"));
        rest = tail;
    }
    raw
}

fn header_str(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
