//! Checks a registration body so that every refusal names the JSON path of the offending
//! value (`mediaSessions[1].localPort`), then hands it over as a [`Registration`].
//!
//! The shape (objects, their keys, value types, integer widths, GUID spelling, media
//! kinds) is [`Registration`]'s derived `Deserialize` with `deny_unknown_fields`, run
//! through `serde_path_to_error` for the path of whatever it refuses. What types cannot
//! say is checked by hand afterwards, in the order the schema lists the keys: text that
//! is blank or longer than [`MAX_TEXT_CHARS`], ports 0, payload types above 127, clock
//! rates 0, no media session, a local port or a payload type given twice.
//!
//! The first problem is reported: serde reads keys in the order the document lists them
//! and notices a missing key at the end of its object; the hand-written checks come after.

use std::marker::PhantomData;
use std::net::IpAddr;

use serde::de::{self, Deserializer, MapAccess, Unexpected, Visitor};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;
use vtcq_collector::MediaKind;

use super::routes::ApiError;
use super::Registration;

/// Longest device name or description, in characters.
pub(super) const MAX_TEXT_CHARS: usize = 256;

/// Checks a registration body and converts it.
pub(super) fn registration(value: Value) -> Result<Registration, ApiError> {
    let Object(registration) = serde_path_to_error::deserialize(value).map_err(refusal)?;
    check_ranges(&registration)?;
    Ok(registration)
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

/// serde's refusal as the API's error: the code from what serde says went wrong, the
/// field from the path (for a missing key, the key's own path).
fn refusal(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    // The path of the value serde was reading; "." is the body itself.
    let path = error.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let message = error.inner().to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(key, _)| key);
    let (code, field) = match missing {
        Some(key) => ("missing_field", join(&path, key)),
        None if message.starts_with("unknown field") => ("unknown_field", path),
        None if message.starts_with("invalid type") => ("wrong_type", path),
        None => ("invalid_value", path),
    };
    let field = if field.is_empty() {
        "$".to_owned()
    } else {
        field
    };
    ApiError::field(code, field, message)
}

/// `parent.key`, or `key` at the root.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field("invalid_value", field, message)
}

/// The rules the types cannot say, in schema order.
fn check_ranges(registration: &Registration) -> Result<(), ApiError> {
    text("deviceName", &registration.device_name)?;
    text("deviceDescription", &registration.device_description)?;
    if registration.media_sessions.is_empty() {
        return Err(invalid(
            "mediaSessions",
            "a call needs at least one media session",
        ));
    }
    let mut seen_ports = Vec::new();
    for (i, session) in registration.media_sessions.iter().enumerate() {
        let path = format!("mediaSessions[{i}]");
        let local = session.local_port;
        if local == 0 {
            return Err(out_of_range(&join(&path, "localPort"), 0, 1, 65_535));
        }
        if seen_ports.contains(&local) {
            return Err(invalid(
                &join(&path, "localPort"),
                format!("local port {local} appears in another media session of this call"),
            ));
        }
        seen_ports.push(local);
        if session.remote_port == Some(0) {
            return Err(out_of_range(&join(&path, "remotePort"), 0, 1, 65_535));
        }
        let mut seen_types = Vec::new();
        for (j, pt) in session.payload_types.iter().enumerate() {
            let item = format!("{path}.payloadTypes[{j}]");
            let number = pt.payload_type;
            if number > 127 {
                let field = join(&item, "payloadType");
                return Err(out_of_range(&field, u64::from(number), 0, 127));
            }
            if pt.clock_rate == 0 {
                let field = join(&item, "clockRate");
                return Err(out_of_range(&field, 0, 1, u64::from(u32::MAX)));
            }
            // Two clock rates for one payload type would make the rate a matter of order.
            if seen_types.contains(&number) {
                return Err(invalid(
                    &join(&item, "payloadType"),
                    format!("payload type {number} appears twice in this media session"),
                ));
            }
            seen_types.push(number);
        }
    }
    Ok(())
}

fn out_of_range(field: &str, value: u64, min: u64, max: u64) -> ApiError {
    invalid(field, format!("{value} is out of range ({min}..={max})"))
}

fn text(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let chars = value.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(invalid(
            field,
            format!("is {chars} characters long; at most {MAX_TEXT_CHARS} are allowed"),
        ));
    }
    Ok(())
}

// ---- deserializers the derived types use ----------------------------------------------

/// A value that must be a JSON object. Derived structs also accept an array of their
/// fields in order (serde's sequence form); the API's schema does not, and neither do we.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Object<T>, M::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// An array of objects (see [`Object`]).
pub(super) fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let items = Vec::<Object<T>>::deserialize(deserializer)?;
    Ok(items.into_iter().map(|Object(item)| item).collect())
}

/// A GUID string in its canonical form (see [`parse_guid`]).
pub(super) fn guid<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_guid(&text).ok_or_else(|| {
        de::Error::invalid_value(
            Unexpected::Str(&text),
            &"a GUID (8-4-4-4-12 hexadecimal digits)",
        )
    })
}

/// A media kind, spelled exactly as the collector spells it (`MediaKind::as_str`), so
/// that the two cannot disagree; the collector's parser also takes other cases.
pub(super) fn media_kind<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<MediaKind, D::Error> {
    let name = String::deserialize(deserializer)?;
    let kind = name.parse::<MediaKind>().ok();
    kind.filter(|kind| kind.as_str() == name).ok_or_else(|| {
        de::Error::invalid_value(
            Unexpected::Str(&name),
            &"a media kind (audio, video or screenSharing)",
        )
    })
}

/// An optional IPv4 or IPv6 address (`null` or absent: none).
pub(super) fn ip_address<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<IpAddr>, D::Error> {
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    text.parse()
        .map(Some)
        .map_err(|_| de::Error::invalid_value(Unexpected::Str(&text), &"an IPv4 or IPv6 address"))
}
