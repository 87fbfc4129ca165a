//! Registration bodies: every refusal names its field; limits; malformed JSON; the path's
//! GUID.

#![allow(clippy::unwrap_used)]

use super::*;

/// A registration body, the error code it must get and the field it must name.
type Case = (Value, &'static str, &'static str);

/// Missing and unknown fields, at every level.
fn missing_and_unknown_fields() -> Vec<Case> {
    vec![
        (edited("/callChainId", None), "missing_field", "callChainId"),
        (
            edited("/participantId", None),
            "missing_field",
            "participantId",
        ),
        (edited("/deviceName", None), "missing_field", "deviceName"),
        (
            edited("/deviceDescription", None),
            "missing_field",
            "deviceDescription",
        ),
        (
            edited("/mediaSessions", None),
            "missing_field",
            "mediaSessions",
        ),
        (
            edited("/mediaSessions/1/kind", None),
            "missing_field",
            "mediaSessions[1].kind",
        ),
        (
            edited("/mediaSessions/1/localPort", None),
            "missing_field",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/0/payloadTypes/0/clockRate", None),
            "missing_field",
            "mediaSessions[0].payloadTypes[0].clockRate",
        ),
        (edited("/extra", Some(json!(1))), "unknown_field", "extra"),
        (
            edited("/mediaLegId", Some(json!(LEG))),
            "unknown_field",
            "mediaLegId",
        ),
        (
            edited("/mediaSessions/2/codec", Some(json!("H264"))),
            "unknown_field",
            "mediaSessions[2].codec",
        ),
        (
            edited("/mediaSessions/0/payloadTypes/0/name", Some(json!("opus"))),
            "unknown_field",
            "mediaSessions[0].payloadTypes[0].name",
        ),
    ]
}

fn wrong_types() -> Vec<Case> {
    vec![
        (json!([registration_body()]), "wrong_type", "$"),
        (
            edited("/participantId", Some(json!(5))),
            "wrong_type",
            "participantId",
        ),
        (
            edited("/deviceName", Some(Value::Null)),
            "wrong_type",
            "deviceName",
        ),
        (
            edited("/mediaSessions", Some(json!({}))),
            "wrong_type",
            "mediaSessions",
        ),
        (
            edited("/mediaSessions/1", Some(json!("audio"))),
            "wrong_type",
            "mediaSessions[1]",
        ),
        (
            edited("/mediaSessions/1/kind", Some(json!(1))),
            "wrong_type",
            "mediaSessions[1].kind",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!("50002"))),
            "wrong_type",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!(50002.5))),
            "wrong_type",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/0/remoteAddress", Some(json!(1))),
            "wrong_type",
            "mediaSessions[0].remoteAddress",
        ),
        (
            edited("/mediaSessions/0/payloadTypes", Some(Value::Null)),
            "wrong_type",
            "mediaSessions[0].payloadTypes",
        ),
        (
            edited("/mediaSessions/0/payloadTypes/0", Some(json!([111, 48000]))),
            "wrong_type",
            "mediaSessions[0].payloadTypes[0]",
        ),
    ]
}

fn wrong_values() -> Vec<Case> {
    let long = "x".repeat(validate::MAX_TEXT_CHARS + 1);
    vec![
        (
            edited("/callChainId", Some(json!("nope"))),
            "invalid_value",
            "callChainId",
        ),
        (
            edited("/participantId", Some(json!(format!("{{{PARTICIPANT}}}")))),
            "invalid_value",
            "participantId",
        ),
        (
            edited("/callChainId", Some(json!(CHAIN.replace('-', "")))),
            "invalid_value",
            "callChainId",
        ),
        (
            edited("/deviceName", Some(json!(""))),
            "invalid_value",
            "deviceName",
        ),
        (
            edited("/deviceName", Some(json!("   "))),
            "invalid_value",
            "deviceName",
        ),
        (
            edited("/deviceDescription", Some(json!(long))),
            "invalid_value",
            "deviceDescription",
        ),
        (
            edited("/mediaSessions", Some(json!([]))),
            "invalid_value",
            "mediaSessions",
        ),
        (
            edited("/mediaSessions/1/kind", Some(json!("screensharing"))),
            "invalid_value",
            "mediaSessions[1].kind",
        ),
        (
            edited("/mediaSessions/1/kind", Some(json!("data"))),
            "invalid_value",
            "mediaSessions[1].kind",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!(0))),
            "invalid_value",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!(-1))),
            "invalid_value",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!(65536))),
            "invalid_value",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/2/localPort", Some(json!(50000))),
            "invalid_value",
            "mediaSessions[2].localPort",
        ),
        (
            edited(
                "/mediaSessions/0/remoteAddress",
                Some(json!("vtc.example.com")),
            ),
            "invalid_value",
            "mediaSessions[0].remoteAddress",
        ),
        (
            edited("/mediaSessions/0/remotePort", Some(json!(0))),
            "invalid_value",
            "mediaSessions[0].remotePort",
        ),
        (
            edited(
                "/mediaSessions/0/payloadTypes/0/payloadType",
                Some(json!(128)),
            ),
            "invalid_value",
            "mediaSessions[0].payloadTypes[0].payloadType",
        ),
        (
            edited("/mediaSessions/0/payloadTypes/0/clockRate", Some(json!(0))),
            "invalid_value",
            "mediaSessions[0].payloadTypes[0].clockRate",
        ),
        (
            edited(
                "/mediaSessions/0/payloadTypes/0/clockRate",
                Some(json!(4_294_967_296_u64)),
            ),
            "invalid_value",
            "mediaSessions[0].payloadTypes[0].clockRate",
        ),
        (
            edited(
                "/mediaSessions/0/payloadTypes/1",
                Some(json!({ "payloadType": 111, "clockRate": 16000 })),
            ),
            "invalid_value",
            "mediaSessions[0].payloadTypes[1].payloadType",
        ),
    ]
}

#[tokio::test]
async fn every_validation_error_names_its_field() {
    let cases = [missing_and_unknown_fields(), wrong_types(), wrong_values()].concat();
    let h = Harness::start(None).await;
    for (body, code, field) in &cases {
        let r = h.put(LEG, body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{field}: {body}");
        let e = error_of(r).await;
        assert_eq!(e["code"], *code, "{field}: {e}");
        assert_eq!(e["field"], *field, "{e}");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    assert!(
        h.mock.calls().is_empty(),
        "nothing invalid reaches the daemon"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn limits_count_characters_and_optional_fields_may_be_absent() {
    let h = Harness::start(None).await;
    let mut body = registration_body();
    body["deviceName"] = json!("é".repeat(validate::MAX_TEXT_CHARS));
    body["mediaSessions"] = json!([
        { "kind": "audio", "localPort": 1, "remoteAddress": "2001:db8::1", "remotePort": 65535,
          "payloadTypes": [{ "payloadType": 0, "clockRate": 8000 }, { "payloadType": 127, "clockRate": 4_294_967_295_u64 }] },
    ]);
    let r = h.put(LEG, &body).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    h.shutdown().await;
}

#[tokio::test]
async fn malformed_json_is_400_at_the_root() {
    let h = Harness::start(None).await;
    for raw in ["", "{", "not json", "{\"callChainId\": }"] {
        let r = h
            .client
            .put(h.url(&format!("/v1/calls/{LEG}")))
            .header(CONTENT_TYPE, "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{raw:?}");
        let e = error_of(r).await;
        assert_eq!(e["code"], "invalid_json");
        assert_eq!(e["field"], "$");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn bad_guid_in_path_is_400_naming_media_leg_id() {
    let h = Harness::start(None).await;
    let braced = format!("%7B{LEG}%7D");
    for bad in ["not-a-guid", "1234", braced.as_str(), &LEG[1..], "%FF"] {
        for method in [Method::PUT, Method::DELETE] {
            let r = h
                .client
                .request(method.clone(), h.url(&format!("/v1/calls/{bad}")))
                .json(&registration_body())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {bad}");
            let e = error_of(r).await;
            assert_eq!(e["field"], "mediaLegId", "{e}");
            assert_eq!(e["code"], "invalid_value");
        }
    }
    assert!(h.mock.calls().is_empty());
    h.shutdown().await;
}

#[test]
fn accepted_registration_converts_exactly() {
    let registration = validate::registration(registration_body()).unwrap();
    assert_eq!(registration.media_sessions.len(), 3);
    assert_eq!(
        registration.media_sessions[2].kind,
        MediaKind::ScreenSharing
    );
    assert_eq!(
        registration.media_sessions[0].remote_address,
        Some("192.0.2.10".parse().unwrap())
    );
}

#[test]
fn guid_shape() {
    assert!(validate::parse_guid(LEG).is_some());
    assert!(validate::parse_guid(&LEG.to_uppercase()).is_some());
    assert!(validate::parse_guid(&LEG.replace('-', "")).is_none());
    assert!(validate::parse_guid(&format!("urn:uuid:{LEG}")).is_none());
    assert!(validate::parse_guid("2c1b1e2a-7d3f-4b8e-9a60-1f0e5d4c3b2g").is_none());
    assert!(validate::parse_guid("2c1b1e2a-7d3f-4b8e-9a601-f0e5d4c3b2a").is_none());
}
