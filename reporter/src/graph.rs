//! The request body of `POST /communications/calls/logTeleconferenceDeviceQuality`.
//!
//! This module is the only place in vtcq that knows how Microsoft Graph spells a quality
//! record (`../shared/graph/` holds the schema it is tested against). Two rules shape it:
//! - a measured field without a sample is `null`, never omitted and never `0`;
//! - durations are ISO 8601 day-time strings (`PT0.015S`), percentages are 0..=100.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vtcq_collector::summary::{ChannelQuality, MediaKind};

/// Who and what a record is about: nothing in a packet carries these, the bot does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallIdentity {
    /// The Teams call's `callChainId`.
    pub call_chain_id: Uuid,
    /// The Teams call's `myParticipantId`.
    pub participant_id: Uuid,
    /// The media leg id the CVI partner assigned.
    pub media_leg_id: Uuid,
    /// The device's user agent name, such as "Cisco SX80".
    pub device_name: String,
    /// A free description, such as "VTC Bldg 30/21".
    pub device_description: String,
}

/// Optional deployment facts of the CVI service (sent only when configured).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudService {
    /// `cloudServiceDeploymentEnvironment`, e.g. "ProdNoam".
    pub deployment_environment: Option<String>,
    /// `cloudServiceDeploymentId`.
    pub deployment_id: Option<String>,
    /// `cloudServiceInstanceName`, e.g. "FrontEnd_IN_3".
    pub instance_name: Option<String>,
    /// `cloudServiceName`, e.g. "contoso.cloudapp.net".
    pub name: Option<String>,
}

/// `{"quality": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityRequest {
    /// The record.
    pub quality: TeleconferenceDeviceQuality,
}

/// `microsoft.graph.teleconferenceDeviceQuality`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeleconferenceDeviceQuality {
    /// Always `#microsoft.graph.teleconferenceDeviceQuality`.
    #[serde(rename = "@odata.type", default = "quality_odata_type")]
    pub odata_type: String,
    /// Copied from the Teams call.
    pub call_chain_id: Uuid,
    /// Copied from the Teams call.
    pub participant_id: Uuid,
    /// Assigned by the CVI partner.
    pub media_leg_id: Uuid,
    /// Device name.
    pub device_name: String,
    /// Device description.
    pub device_description: String,
    /// Optional deployment fields.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cloud_service_deployment_environment: Option<String>,
    /// Optional deployment fields.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cloud_service_deployment_id: Option<String>,
    /// Optional deployment fields.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cloud_service_instance_name: Option<String>,
    /// Optional deployment fields.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cloud_service_name: Option<String>,
    /// One item per channel.
    pub media_quality_list: Vec<MediaQuality>,
}

fn quality_odata_type() -> String {
    "#microsoft.graph.teleconferenceDeviceQuality".to_owned()
}

/// The derived type of a media quality item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaQualityType {
    /// Audio.
    #[serde(rename = "#microsoft.graph.teleconferenceDeviceAudioQuality")]
    Audio,
    /// Video.
    #[serde(rename = "#microsoft.graph.teleconferenceDeviceVideoQuality")]
    Video,
    /// Screen sharing (derives from video).
    #[serde(rename = "#microsoft.graph.teleconferenceDeviceScreenSharingQuality")]
    ScreenSharing,
}

/// One item of `mediaQualityList` (`teleconferenceDeviceMediaQuality` and its derived types).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaQuality {
    /// Derived type.
    #[serde(rename = "@odata.type")]
    pub odata_type: MediaQualityType,
    /// 1-based within the kind.
    pub channel_index: i32,
    /// Sum of active periods.
    pub media_duration: Option<String>,
    /// Link speed in bytes per second.
    pub network_link_speed_in_bytes: Option<i64>,
    /// Bot address.
    #[serde(rename = "localIPAddress")]
    pub local_ip_address: Option<String>,
    /// Bot port.
    pub local_port: Option<i32>,
    /// Device address.
    #[serde(rename = "remoteIPAddress")]
    pub remote_ip_address: Option<String>,
    /// Device port.
    pub remote_port: Option<i32>,
    /// RTP packets device -> bot.
    pub inbound_packets: Option<i64>,
    /// RTP packets bot -> device.
    pub outbound_packets: Option<i64>,
    /// Percent.
    pub average_inbound_packet_loss_rate_in_percentage: Option<f64>,
    /// Percent.
    pub average_outbound_packet_loss_rate_in_percentage: Option<f64>,
    /// Percent.
    pub maximum_inbound_packet_loss_rate_in_percentage: Option<f64>,
    /// Percent.
    pub maximum_outbound_packet_loss_rate_in_percentage: Option<f64>,
    /// ISO 8601.
    pub average_inbound_round_trip_delay: Option<String>,
    /// ISO 8601.
    pub average_outbound_round_trip_delay: Option<String>,
    /// ISO 8601.
    pub maximum_inbound_round_trip_delay: Option<String>,
    /// ISO 8601.
    pub maximum_outbound_round_trip_delay: Option<String>,
    /// ISO 8601.
    pub average_inbound_jitter: Option<String>,
    /// ISO 8601.
    pub average_outbound_jitter: Option<String>,
    /// ISO 8601.
    pub maximum_inbound_jitter: Option<String>,
    /// ISO 8601.
    pub maximum_outbound_jitter: Option<String>,
    /// Video kinds only: the four rate fields.
    #[serde(flatten, skip_serializing_if = "Option::is_none", default)]
    pub video: Option<VideoRates>,
}

/// The fields `teleconferenceDeviceVideoQuality` adds (screen sharing inherits them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoRates {
    /// Bits per second.
    pub average_inbound_bit_rate: Option<f64>,
    /// Frames per second.
    pub average_inbound_frame_rate: Option<f64>,
    /// Bits per second.
    pub average_outbound_bit_rate: Option<f64>,
    /// Frames per second.
    pub average_outbound_frame_rate: Option<f64>,
}

/// Formats a duration as an ISO 8601 day-time duration with at most microsecond
/// precision, the way Graph's `Edm.Duration` expects: `PT0.015S`, `PT20M`, `PT1H5.5S`.
pub fn iso8601_duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros == 0 {
        return "PT0S".to_owned();
    }
    let hours = micros / 3_600_000_000;
    let minutes = (micros / 60_000_000) % 60;
    let secs = (micros / 1_000_000) % 60;
    let frac = micros % 1_000_000;
    let mut out = String::from("PT");
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if secs > 0 || frac > 0 {
        if frac > 0 {
            let digits = format!("{frac:06}");
            out.push_str(&format!("{secs}.{}S", digits.trim_end_matches('0')));
        } else {
            out.push_str(&format!("{secs}S"));
        }
    }
    out
}

/// Rounds to `digits` decimals (keeps the JSON readable; far below measurement error).
fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn clamp_i32(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl MediaQuality {
    /// The Graph item for one channel.
    pub fn from_channel(channel: &ChannelQuality) -> Self {
        let percent = |v: Option<f64>| v.map(|p| round(p.clamp(0.0, 100.0), 4));
        let duration = |v: Option<Duration>| v.map(iso8601_duration);
        let odata_type = match channel.kind {
            MediaKind::Audio => MediaQualityType::Audio,
            MediaKind::Video => MediaQualityType::Video,
            MediaKind::ScreenSharing => MediaQualityType::ScreenSharing,
        };
        let video = channel.kind.is_video().then(|| VideoRates {
            average_inbound_bit_rate: channel.inbound.bit_rate.map(|v| round(v, 1)),
            average_inbound_frame_rate: channel.inbound.frame_rate.map(|v| round(v, 2)),
            average_outbound_bit_rate: channel.outbound.bit_rate.map(|v| round(v, 1)),
            average_outbound_frame_rate: channel.outbound.frame_rate.map(|v| round(v, 2)),
        });
        MediaQuality {
            odata_type,
            channel_index: clamp_i32(u64::from(channel.channel_index)),
            media_duration: duration(channel.media_duration),
            network_link_speed_in_bytes: channel.link_speed_bytes_per_sec.map(clamp_i64),
            local_ip_address: Some(channel.local.ip().to_string()),
            local_port: Some(i32::from(channel.local.port())),
            remote_ip_address: channel.remote.map(|r| r.ip().to_string()),
            remote_port: channel.remote.map(|r| i32::from(r.port())),
            inbound_packets: Some(clamp_i64(channel.inbound.packets)),
            outbound_packets: Some(clamp_i64(channel.outbound.packets)),
            average_inbound_packet_loss_rate_in_percentage: percent(channel.inbound.loss.average),
            average_outbound_packet_loss_rate_in_percentage: percent(channel.outbound.loss.average),
            maximum_inbound_packet_loss_rate_in_percentage: percent(channel.inbound.loss.maximum),
            maximum_outbound_packet_loss_rate_in_percentage: percent(channel.outbound.loss.maximum),
            average_inbound_round_trip_delay: duration(channel.inbound.round_trip.average),
            average_outbound_round_trip_delay: duration(channel.outbound.round_trip.average),
            maximum_inbound_round_trip_delay: duration(channel.inbound.round_trip.maximum),
            maximum_outbound_round_trip_delay: duration(channel.outbound.round_trip.maximum),
            average_inbound_jitter: duration(channel.inbound.jitter.average),
            average_outbound_jitter: duration(channel.outbound.jitter.average),
            maximum_inbound_jitter: duration(channel.inbound.jitter.maximum),
            maximum_outbound_jitter: duration(channel.outbound.jitter.maximum),
            video,
        }
    }
}

impl QualityRequest {
    /// The request body for a call's channels.
    pub fn new(identity: &CallIdentity, cloud: &CloudService, channels: &[ChannelQuality]) -> Self {
        QualityRequest {
            quality: TeleconferenceDeviceQuality {
                odata_type: quality_odata_type(),
                call_chain_id: identity.call_chain_id,
                participant_id: identity.participant_id,
                media_leg_id: identity.media_leg_id,
                device_name: identity.device_name.clone(),
                device_description: identity.device_description.clone(),
                cloud_service_deployment_environment: cloud.deployment_environment.clone(),
                cloud_service_deployment_id: cloud.deployment_id.clone(),
                cloud_service_instance_name: cloud.instance_name.clone(),
                cloud_service_name: cloud.name.clone(),
                media_quality_list: channels.iter().map(MediaQuality::from_channel).collect(),
            },
        }
    }

    /// Pretty JSON, as `vtcq analyze --format json` prints it.
    pub fn to_json_pretty(&self) -> String {
        // Serialising plain structs of strings, numbers and options cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_iso8601_day_time() {
        assert_eq!(iso8601_duration(Duration::ZERO), "PT0S");
        assert_eq!(iso8601_duration(Duration::from_millis(15)), "PT0.015S");
        assert_eq!(iso8601_duration(Duration::from_secs(1200)), "PT20M");
        assert_eq!(
            iso8601_duration(Duration::from_micros(3_605_500_000)),
            "PT1H5.5S"
        );
        assert_eq!(iso8601_duration(Duration::from_micros(1)), "PT0.000001S");
        assert_eq!(iso8601_duration(Duration::from_nanos(999)), "PT0S");
        assert_eq!(iso8601_duration(Duration::from_secs(90_061)), "PT25H1M1S");
    }

    #[test]
    fn video_fields_only_on_video_kinds_and_nulls_are_kept() {
        use std::net::SocketAddr;
        use vtcq_collector::summary::{DirectionQuality, KindSource, Metric};
        let dir = DirectionQuality {
            packets: 10,
            bytes: 1000,
            loss: Metric::none(),
            jitter: Metric::none(),
            round_trip: Metric::none(),
            bit_rate: Some(8000.0),
            frame_rate: Some(25.0),
            active: Duration::from_secs(1),
            ssrcs: vec![1],
        };
        let local: SocketAddr = "192.0.2.1:5000".parse().unwrap_or_else(|_| unreachable!());
        let mut channel = ChannelQuality {
            kind: MediaKind::Audio,
            kind_source: KindSource::Declared,
            channel_index: 1,
            local,
            remote: None,
            media_duration: Some(Duration::from_secs(1)),
            link_speed_bytes_per_sec: None,
            inbound: dir.clone(),
            outbound: dir,
            rtcp_mux: false,
            srtcp_packets: 0,
        };
        let audio = serde_json::to_value(MediaQuality::from_channel(&channel)).unwrap_or_default();
        assert!(audio.get("averageInboundBitRate").is_none());
        assert_eq!(audio["averageInboundJitter"], serde_json::Value::Null);
        assert!(audio
            .as_object()
            .is_some_and(|o| o.contains_key("averageInboundJitter")));
        channel.kind = MediaKind::ScreenSharing;
        let screen = serde_json::to_value(MediaQuality::from_channel(&channel)).unwrap_or_default();
        assert_eq!(screen["averageInboundBitRate"], serde_json::json!(8000.0));
        assert_eq!(
            screen["@odata.type"],
            "#microsoft.graph.teleconferenceDeviceScreenSharingQuality"
        );
    }
}

/// Why a request body is not one Graph would take.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Not JSON of the request's shape (serde's reason is the source).
    #[error("not a logTeleconferenceDeviceQuality request body")]
    Shape(#[from] serde_json::Error),
    /// A value outside its range.
    #[error("mediaQualityList[{index}].{field}: {problem}")]
    Value {
        /// Index in `mediaQualityList`.
        index: usize,
        /// Field name.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// True for an ISO 8601 day-time duration as Graph's OpenAPI pattern allows:
/// `^-?P([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+([.][0-9]+)?S)?)?$`.
pub fn is_iso8601_duration(s: &str) -> bool {
    fn digits(s: &str) -> usize {
        s.bytes().take_while(u8::is_ascii_digit).count()
    }
    let s = s.strip_prefix('-').unwrap_or(s);
    let Some(mut rest) = s.strip_prefix('P') else {
        return false;
    };
    let n = digits(rest);
    if n > 0 {
        if rest[n..].starts_with('D') {
            rest = &rest[n + 1..];
        } else {
            return false;
        }
    }
    if rest.is_empty() {
        return true;
    }
    let Some(mut rest) = rest.strip_prefix('T') else {
        return false;
    };
    for unit in ['H', 'M'] {
        let n = digits(rest);
        if n > 0 && rest[n..].starts_with(unit) {
            rest = &rest[n + 1..];
        }
    }
    if rest.is_empty() {
        return true;
    }
    let n = digits(rest);
    if n == 0 {
        return false;
    }
    let mut tail = &rest[n..];
    if let Some(frac) = tail.strip_prefix('.') {
        let m = digits(frac);
        if m == 0 {
            return false;
        }
        tail = &frac[m..];
    }
    tail == "S"
}

/// Parses and checks a request body (for `vtcq post`): the shape by type, then ranges
/// the types cannot say (channel index, percentages, duration syntax, counts).
pub fn validate_request_body(bytes: &[u8]) -> Result<QualityRequest, BodyError> {
    let request: QualityRequest = serde_json::from_slice(bytes)?;
    for (index, item) in request.quality.media_quality_list.iter().enumerate() {
        let bad = |field: &'static str, problem: String| BodyError::Value {
            index,
            field,
            problem,
        };
        if item.channel_index < 1 {
            return Err(bad(
                "channelIndex",
                format!("{} is not a 1-based index", item.channel_index),
            ));
        }
        let percents = [
            (
                "averageInboundPacketLossRateInPercentage",
                item.average_inbound_packet_loss_rate_in_percentage,
            ),
            (
                "averageOutboundPacketLossRateInPercentage",
                item.average_outbound_packet_loss_rate_in_percentage,
            ),
            (
                "maximumInboundPacketLossRateInPercentage",
                item.maximum_inbound_packet_loss_rate_in_percentage,
            ),
            (
                "maximumOutboundPacketLossRateInPercentage",
                item.maximum_outbound_packet_loss_rate_in_percentage,
            ),
        ];
        for (field, value) in percents {
            if let Some(v) = value {
                if !(0.0..=100.0).contains(&v) {
                    return Err(bad(field, format!("{v} is not a percentage (0..100)")));
                }
            }
        }
        let durations = [
            ("mediaDuration", &item.media_duration),
            (
                "averageInboundRoundTripDelay",
                &item.average_inbound_round_trip_delay,
            ),
            (
                "averageOutboundRoundTripDelay",
                &item.average_outbound_round_trip_delay,
            ),
            (
                "maximumInboundRoundTripDelay",
                &item.maximum_inbound_round_trip_delay,
            ),
            (
                "maximumOutboundRoundTripDelay",
                &item.maximum_outbound_round_trip_delay,
            ),
            ("averageInboundJitter", &item.average_inbound_jitter),
            ("averageOutboundJitter", &item.average_outbound_jitter),
            ("maximumInboundJitter", &item.maximum_inbound_jitter),
            ("maximumOutboundJitter", &item.maximum_outbound_jitter),
        ];
        for (field, value) in durations {
            if let Some(v) = value {
                if !is_iso8601_duration(v) {
                    return Err(bad(
                        field,
                        format!("{v:?} is not an ISO 8601 day-time duration"),
                    ));
                }
            }
        }
        for (field, value) in [
            ("inboundPackets", item.inbound_packets),
            ("outboundPackets", item.outbound_packets),
        ] {
            if value.is_some_and(|v| v < 0) {
                return Err(bad(field, "must not be negative".to_owned()));
            }
        }
    }
    Ok(request)
}

#[cfg(test)]
mod body_tests {
    use super::*;

    #[test]
    fn duration_pattern() {
        // Microsoft's pattern makes every part optional, so "P" and "PT" pass it too.
        for ok in [
            "PT0S",
            "PT0.015S",
            "PT20M",
            "P1D",
            "P1DT2H",
            "PT1H0M5.5S",
            "-PT1S",
            "P",
            "PT",
        ] {
            assert!(is_iso8601_duration(ok), "{ok}");
        }
        for bad in ["P1Y", "PT1.S", "T1S", "1S", "PT1H2", "PT0.5", "PTS", ""] {
            assert!(!is_iso8601_duration(bad), "{bad}");
        }
    }

    #[test]
    fn documented_example_validates() {
        let example = include_str!("../schema/example-request.json");
        assert!(validate_request_body(example.as_bytes()).is_ok());
    }

    #[test]
    fn bad_bodies_are_refused_with_the_field() {
        let example = include_str!("../schema/example-request.json");
        let bad = example.replacen("\"channelIndex\": 1", "\"channelIndex\": 0", 1);
        let e = validate_request_body(bad.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("channelIndex"), "{e}");
        let bad = example.replacen("\"PT20M\"", "\"P1Y\"", 1);
        let e = validate_request_body(bad.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("mediaDuration"), "{e}");
        let bad = example.replacen("0622673d-9f69-49b3-9d4f-5ec64f42ecce", "nope", 1);
        assert!(validate_request_body(bad.as_bytes()).is_err());
        assert!(validate_request_body(b"{\"quality\": {}, \"extra\": 1}").is_err());
    }
}
