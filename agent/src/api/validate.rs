//! Checks a registration body as a `serde_json::Value` so that every refusal names the
//! JSON path of the offending value (`mediaSessions[1].localPort`), then converts it.
//!
//! The first problem in document order is reported: unknown keys of an object, then its
//! missing keys, then each known key in the order the schema lists them.

use std::net::IpAddr;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{ApiError, Registration};

/// Longest device name or description, in characters.
pub(super) const MAX_TEXT_CHARS: usize = 256;

const REGISTRATION_KEYS: [&str; 5] = [
    "callChainId",
    "participantId",
    "deviceName",
    "deviceDescription",
    "mediaSessions",
];
const SESSION_REQUIRED: [&str; 2] = ["kind", "localPort"];
const SESSION_KEYS: [&str; 5] = [
    "kind",
    "localPort",
    "remoteAddress",
    "remotePort",
    "payloadTypes",
];
const PAYLOAD_TYPE_KEYS: [&str; 2] = ["payloadType", "clockRate"];
const KINDS: [&str; 3] = ["audio", "video", "screenSharing"];

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field("invalid_value", field, message)
}

/// `parent.key`, or `key` at the root.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path to report for a value: `$` for the body itself.
fn shown(path: &str) -> &str {
    if path.is_empty() {
        "$"
    } else {
        path
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(path: &str, expected: &str, value: &Value) -> ApiError {
    ApiError::field(
        "wrong_type",
        shown(path),
        format!("expected {expected}, found {}", type_name(value)),
    )
}

/// The object at `path`, with no key outside `allowed` and every key of `required`.
fn object<'a>(
    value: &'a Value,
    path: &str,
    allowed: &[&str],
    required: &[&str],
) -> Result<&'a Map<String, Value>, ApiError> {
    let Value::Object(map) = value else {
        return Err(wrong_type(path, "an object", value));
    };
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::field(
            "unknown_field",
            join(path, key),
            format!("unknown field {key:?} (allowed: {})", allowed.join(", ")),
        ));
    }
    if let Some(key) = required.iter().find(|k| !map.contains_key(**k)) {
        return Err(ApiError::field(
            "missing_field",
            join(path, key),
            format!("missing field {key:?}"),
        ));
    }
    Ok(map)
}

/// A GUID in its canonical 8-4-4-4-12 form (either case). `Uuid::parse_str` would also
/// take braces, URNs and bare hex; Teams ids never look like that, so those are
/// more likely a wrong value than a different spelling.
pub(super) fn parse_guid(s: &str) -> Option<Uuid> {
    let groups: Vec<&str> = s.split('-').collect();
    let shape_ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if shape_ok {
        Uuid::parse_str(s).ok()
    } else {
        None
    }
}

fn guid(value: &Value, path: &str) -> Result<(), ApiError> {
    let Value::String(s) = value else {
        return Err(wrong_type(path, "a GUID string", value));
    };
    match parse_guid(s) {
        Some(_) => Ok(()),
        None => Err(invalid(
            path,
            format!("{s:?} is not a GUID (expected 8-4-4-4-12 hexadecimal digits)"),
        )),
    }
}

fn text(value: &Value, path: &str) -> Result<(), ApiError> {
    let Value::String(s) = value else {
        return Err(wrong_type(path, "a string", value));
    };
    if s.trim().is_empty() {
        return Err(invalid(path, "must not be empty"));
    }
    let chars = s.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(invalid(
            path,
            format!("is {chars} characters long; at most {MAX_TEXT_CHARS} are allowed"),
        ));
    }
    Ok(())
}

/// An integer in `min..=max`. A fraction is a wrong type; a negative or too large
/// integer is a wrong value.
fn integer(value: &Value, path: &str, min: u64, max: u64) -> Result<u64, ApiError> {
    let Value::Number(n) = value else {
        return Err(wrong_type(path, "an integer", value));
    };
    let out_of_range = || invalid(path, format!("{n} is out of range ({min}..={max})"));
    match n.as_u64() {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(_) => Err(out_of_range()),
        None if n.is_i64() => Err(out_of_range()),
        None => Err(wrong_type(path, "an integer", value)),
    }
}

fn port(value: &Value, path: &str) -> Result<u64, ApiError> {
    integer(value, path, 1, u64::from(u16::MAX))
}

/// A key that may be absent or null.
fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

fn media_session(value: &Value, path: &str, seen_ports: &mut Vec<u64>) -> Result<(), ApiError> {
    let map = object(value, path, &SESSION_KEYS, &SESSION_REQUIRED)?;
    let kind_path = join(path, "kind");
    match map.get("kind") {
        Some(Value::String(kind)) if KINDS.contains(&kind.as_str()) => {}
        Some(Value::String(kind)) => {
            return Err(invalid(
                &kind_path,
                format!("{kind:?} is not a media kind (audio, video or screenSharing)"),
            ))
        }
        Some(other) => return Err(wrong_type(&kind_path, "a string", other)),
        None => {}
    }
    let port_path = join(path, "localPort");
    if let Some(v) = map.get("localPort") {
        let local = port(v, &port_path)?;
        if seen_ports.contains(&local) {
            return Err(invalid(
                &port_path,
                format!("local port {local} appears in another media session of this call"),
            ));
        }
        seen_ports.push(local);
    }
    if let Some(v) = present(map, "remoteAddress") {
        let addr_path = join(path, "remoteAddress");
        let Value::String(s) = v else {
            return Err(wrong_type(&addr_path, "an IP address string", v));
        };
        if s.parse::<IpAddr>().is_err() {
            return Err(invalid(
                &addr_path,
                format!("{s:?} is not an IPv4 or IPv6 address"),
            ));
        }
    }
    if let Some(v) = present(map, "remotePort") {
        port(v, &join(path, "remotePort"))?;
    }
    if let Some(v) = map.get("payloadTypes") {
        let list_path = join(path, "payloadTypes");
        let Value::Array(items) = v else {
            return Err(wrong_type(&list_path, "an array", v));
        };
        let mut seen = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{list_path}[{i}]");
            let pt = object(item, &item_path, &PAYLOAD_TYPE_KEYS, &PAYLOAD_TYPE_KEYS)?;
            let pt_path = join(&item_path, "payloadType");
            let number = pt
                .get("payloadType")
                .map_or(Ok(0), |v| integer(v, &pt_path, 0, 127))?;
            if let Some(v) = pt.get("clockRate") {
                integer(v, &join(&item_path, "clockRate"), 1, u64::from(u32::MAX))?;
            }
            // Two clock rates for one payload type would make the rate a matter of order.
            if seen.contains(&number) {
                return Err(invalid(
                    &pt_path,
                    format!("payload type {number} appears twice in this media session"),
                ));
            }
            seen.push(number);
        }
    }
    Ok(())
}

/// Checks a registration body and converts it.
pub(super) fn registration(value: Value) -> Result<Registration, ApiError> {
    let map = object(&value, "", &REGISTRATION_KEYS, &REGISTRATION_KEYS)?;
    for key in ["callChainId", "participantId"] {
        if let Some(v) = map.get(key) {
            guid(v, key)?;
        }
    }
    for key in ["deviceName", "deviceDescription"] {
        if let Some(v) = map.get(key) {
            text(v, key)?;
        }
    }
    if let Some(v) = map.get("mediaSessions") {
        let Value::Array(sessions) = v else {
            return Err(wrong_type("mediaSessions", "an array", v));
        };
        if sessions.is_empty() {
            return Err(invalid(
                "mediaSessions",
                "a call needs at least one media session",
            ));
        }
        let mut seen_ports = Vec::new();
        for (i, session) in sessions.iter().enumerate() {
            media_session(session, &format!("mediaSessions[{i}]"), &mut seen_ports)?;
        }
    }
    // The checks above are at least as strict as the types, so this conversion only fails
    // if the two drift apart; the error then still reaches the client, without a path.
    serde_json::from_value(value)
        .map_err(|e| ApiError::field("invalid_value", "$", format!("invalid registration: {e}")))
}
