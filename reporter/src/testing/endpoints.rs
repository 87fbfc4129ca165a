//! The fake's two endpoints: Graph's `logTeleconferenceDeviceQuality` (bearer token,
//! content type, a `quality` object) and the v2.0 token endpoint (client-credentials
//! grant, with a client secret or a JWT client assertion checked as Entra ID checks it),
//! each answering as the real one does, scripted answers first.

use super::*;

/// An answer under construction.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    delay: Duration,
}

impl From<ScriptedResponse> for Answer {
    fn from(s: ScriptedResponse) -> Self {
        Answer {
            status: s.status,
            headers: s.headers,
            body: s.body,
            delay: s.delay,
        }
    }
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    async fn into_response(mut self, client_request_id: Option<String>) -> Response {
        self.headers
            .push(("request-id".to_owned(), Uuid::new_v4().to_string()));
        if let Some(id) = client_request_id {
            self.headers.push(("client-request-id".to_owned(), id));
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in self.headers {
            // A test that scripts an invalid header gets it dropped rather than a panic.
            if let (Ok(name), Ok(value)) =
                (HeaderName::try_from(name), HeaderValue::try_from(value))
            {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

fn graph_error(status: u16, code: &str, message: &str) -> Answer {
    Answer::json(status, json!({"error": {"code": code, "message": message}}))
}

/// An AAD-style token error: `error`, `error_description` with the AADSTS code, the code
/// list and the support ids.
fn aad_error(status: u16, error: &str, description: &str) -> Answer {
    let trace_id = Uuid::new_v4().to_string();
    let correlation_id = Uuid::new_v4().to_string();
    let codes: Vec<u64> = description
        .strip_prefix("AADSTS")
        .and_then(|rest| rest.split(':').next())
        .and_then(|code| code.parse().ok())
        .into_iter()
        .collect();
    Answer::json(
        status,
        json!({
            "error": error,
            "error_description": format!("{description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}"),
            "error_codes": codes,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        }),
    )
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn media_type_is(headers: &HeaderMap, expected: &str) -> bool {
    header(headers, "content-type")
        .and_then(|v| {
            v.split(';')
                .next()
                .map(|t| t.trim().eq_ignore_ascii_case(expected))
        })
        .unwrap_or(false)
}

pub(super) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let client_request_id = header(&parts.headers, "client-request-id");
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return graph_error(
                413,
                "RequestEntityTooLarge",
                "the request body is too large",
            )
            .into_response(client_request_id)
            .await
        }
    };
    let path = parts.uri.path().to_owned();
    let answer = match token_tenant(&path) {
        Some(tenant) if parts.method == Method::POST => {
            token_endpoint(&shared, &path, tenant, &parts.headers, &body)
        }
        _ => graph_endpoint(&shared, &parts.method, &path, &parts.headers, &body),
    };
    answer.into_response(client_request_id).await
}

/// The tenant of `/{tenant}/oauth2/v2.0/token`.
fn token_tenant(path: &str) -> Option<&str> {
    path.strip_prefix('/')?
        .strip_suffix("/oauth2/v2.0/token")
        .filter(|t| !t.is_empty() && !t.contains('/'))
}

fn graph_endpoint(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let mut log = shared.log();
    let answer = match log.graph_script.pop_front() {
        Some(scripted) => Answer::from(scripted),
        None => graph_check(shared, &log, method, path, headers, body),
    };
    log.graph_requests.push(RecordedRequest {
        method: method.to_string(),
        path: path.to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
        status: answer.status,
    });
    answer
}

fn graph_check(
    shared: &Shared,
    log: &Log,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let known = ["/v1.0", "/beta"]
        .iter()
        .any(|version| path.strip_prefix(version) == Some(ACTION_PATH));
    if !known {
        return graph_error(
            404,
            "BadRequest",
            &format!(
                "Resource not found for the segment '{}'.",
                path.rsplit('/').next().unwrap_or(path)
            ),
        );
    }
    if *method != Method::POST {
        return graph_error(
            405,
            "BadRequest",
            &format!("The HTTP method '{method}' is not allowed."),
        );
    }
    let token = header(headers, "authorization").and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    });
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return unauthorized("Access token is empty.");
    };
    match log.issued.get(&token) {
        None => return unauthorized("Invalid JWT token. The token is not issued by this service."),
        Some(issued) if issued.revoked || issued.at.elapsed() >= shared.config.token_lifetime => {
            return unauthorized("Lifetime validation failed, the token is expired.")
        }
        Some(_) => {}
    }
    if !media_type_is(headers, "application/json") {
        return graph_error(400, "BadRequest", "Content-Type must be application/json.");
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.get("quality").is_some_and(Value::is_object) => Answer {
            status: 200,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        },
        Ok(_) => graph_error(
            400,
            "BadRequest",
            "The request body has no 'quality' object.",
        ),
        Err(error) => graph_error(
            400,
            "BadRequest",
            &format!("Invalid JSON in the request body: {error}"),
        ),
    }
}

fn unauthorized(message: &str) -> Answer {
    let mut answer = graph_error(401, "InvalidAuthenticationToken", message);
    answer.headers.push((
        "www-authenticate".to_owned(),
        "Bearer realm=\"\", error=\"invalid_token\"".to_owned(),
    ));
    answer
}

/// Decodes `application/x-www-form-urlencoded`. Malformed escapes are kept literally, as
/// browsers do.
fn form_decode(body: &[u8]) -> BTreeMap<String, String> {
    fn decode(part: &[u8]) -> String {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = part
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(byte) => {
                            out.push(byte);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                other => out.push(other),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |b| *b == b'=');
            let name = decode(halves.next().unwrap_or_default());
            let value = decode(halves.next().unwrap_or_default());
            (name, value)
        })
        .collect()
}

/// Why a token request is refused: status, OAuth2 error, AADSTS description.
type Refusal = (u16, &'static str, String);

fn token_endpoint(
    shared: &Shared,
    path: &str,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let fields = form_decode(body);
    let mut log = shared.log();
    let token_url = format!("{}{path}", shared.url);
    let mut assertion_header = None;
    let mut assertion_claims = None;
    // The credential is judged even for scripted answers, so tests can see what was sent.
    let credential = check_credential(
        &shared.config,
        &fields,
        &token_url,
        &mut log.seen_jti,
        &mut assertion_header,
        &mut assertion_claims,
    );
    let credential_valid = credential.is_ok();
    let (answer, error) = match log.token_script.pop_front() {
        Some(scripted) => (Answer::from(scripted), None),
        None => match check_request(&shared.config, tenant, headers, &fields).and(credential) {
            Ok(()) => {
                log.issued_count += 1;
                let token = format!("fake-token-{}-{}", log.issued_count, random_suffix());
                log.issued.insert(
                    token.clone(),
                    Issued {
                        at: Instant::now(),
                        revoked: false,
                    },
                );
                let lifetime = shared.config.token_lifetime.as_secs();
                let mut answer = Answer::json(
                    200,
                    json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}),
                );
                answer.delay = log.token_delay;
                (answer, None)
            }
            Err((status, error, description)) => {
                let mut answer = aad_error(status, error, &description);
                answer.delay = log.token_delay;
                (answer, Some(format!("{error}: {description}")))
            }
        },
    };
    log.token_requests.push(RecordedTokenRequest {
        path: path.to_owned(),
        fields,
        credential_valid,
        assertion_header,
        assertion_claims,
        status: answer.status,
        error,
    });
    answer
}

fn random_suffix() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(16)
        .collect()
}

fn missing(name: &str) -> Refusal {
    (
        400,
        "invalid_request",
        format!("AADSTS900144: The request body must contain the following parameter: '{name}'."),
    )
}

fn check_request(
    config: &FakeGraphConfig,
    tenant: &str,
    headers: &HeaderMap,
    fields: &BTreeMap<String, String>,
) -> Result<(), Refusal> {
    if tenant != config.tenant_id {
        return Err((
            400,
            "invalid_request",
            format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."),
        ));
    }
    if !media_type_is(headers, "application/x-www-form-urlencoded") {
        return Err((
            400,
            "invalid_request",
            "AADSTS900144: The request body must be application/x-www-form-urlencoded.".to_owned(),
        ));
    }
    let grant_type = fields
        .get("grant_type")
        .ok_or_else(|| missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err((
            400,
            "unsupported_grant_type",
            format!("AADSTS70003: The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = fields
        .get("client_id")
        .ok_or_else(|| missing("client_id"))?;
    if *client_id != config.client_id {
        return Err((
            400,
            "unauthorized_client",
            format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{}'.",
                config.tenant_id
            ),
        ));
    }
    let scope = fields.get("scope").ok_or_else(|| missing("scope"))?;
    if !scope.ends_with("/.default") {
        return Err((
            400,
            "invalid_scope",
            format!(
                "AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    Ok(())
}

fn invalid_client(description: impl Into<String>) -> Refusal {
    (401, "invalid_client", description.into())
}

fn check_credential(
    config: &FakeGraphConfig,
    fields: &BTreeMap<String, String>,
    token_url: &str,
    seen_jti: &mut HashSet<String>,
    header_out: &mut Option<Value>,
    claims_out: &mut Option<Value>,
) -> Result<(), Refusal> {
    match (fields.get("client_secret"), fields.get("client_assertion")) {
        (Some(_), Some(_)) => Err((
            400,
            "invalid_request",
            "AADSTS90015: The request must contain either client_secret or client_assertion, not both.".to_owned(),
        )),
        (Some(secret), None) => {
            if config.client_secret.as_deref() == Some(secret.as_str()) {
                Ok(())
            } else {
                Err(invalid_client(format!(
                    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    config.client_id
                )))
            }
        }
        (None, Some(assertion)) => {
            if fields.get("client_assertion_type").map(String::as_str) != Some(crate::token::JWT_BEARER) {
                return Err((
                    400,
                    "invalid_request",
                    "AADSTS50027: client_assertion_type must be urn:ietf:params:oauth:grant-type:jwt-bearer.".to_owned(),
                ));
            }
            check_assertion(config, assertion, token_url, seen_jti, header_out, claims_out)
        }
        (None, None) => Err(invalid_client(
            "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )),
    }
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn check_assertion(
    config: &FakeGraphConfig,
    assertion: &str,
    token_url: &str,
    seen_jti: &mut HashSet<String>,
    header_out: &mut Option<Value>,
    claims_out: &mut Option<Value>,
) -> Result<(), Refusal> {
    let malformed = || invalid_client("AADSTS50027: JWT token is invalid or malformed.");
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header_part, claims_part, signature_part] = parts.as_slice() else {
        return Err(malformed());
    };
    *header_out = decode_part(header_part);
    *claims_out = decode_part(claims_part);
    let (Some(header), Some(claims)) = (header_out.as_ref(), claims_out.as_ref()) else {
        return Err(malformed());
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature_part)
        .map_err(|_| malformed())?;
    let (verification, thumbprint_name, digest): (
        &'static dyn ring::signature::VerificationAlgorithm,
        _,
        _,
    ) = match header.get("alg").and_then(Value::as_str) {
        Some("PS256") => (
            &ring::signature::RSA_PSS_2048_8192_SHA256,
            "x5t#S256",
            &ring::digest::SHA256,
        ),
        Some("RS256") => (
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            "x5t",
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        ),
        _ => {
            return Err(invalid_client(
                "AADSTS5002738: Invalid JWT token. 'alg' is not PS256 or RS256.",
            ))
        }
    };
    let Some(public_key) = &config.public_key_der else {
        return Err(invalid_client(
            "AADSTS700027: Client assertion failed signature validation: no certificate is registered for the app.",
        ));
    };
    let signed = format!("{header_part}.{claims_part}");
    ring::signature::UnparsedPublicKey::new(verification, public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| {
            invalid_client("AADSTS700027: Client assertion failed signature validation.")
        })?;
    if let Some(certificate) = &config.certificate_der {
        let expected = URL_SAFE_NO_PAD.encode(ring::digest::digest(digest, certificate));
        let sent = header.get(thumbprint_name).and_then(Value::as_str);
        if sent != Some(expected.as_str()) {
            return Err(invalid_client(format!(
                "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found., {thumbprint_name} of key used by client: '{}']",
                sent.unwrap_or("none")
            )));
        }
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).and_then(Value::as_u64);
    if text("aud") != Some(token_url) {
        return Err(invalid_client(format!(
            "AADSTS700212: No matching federated identity record found for presented assertion audience '{}'; expected '{token_url}'.",
            text("aud").unwrap_or("none")
        )));
    }
    if text("iss") != Some(config.client_id.as_str())
        || text("sub") != Some(config.client_id.as_str())
    {
        return Err(invalid_client(
            "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let now = unix_now();
    match (number("exp"), number("nbf")) {
        (Some(exp), Some(nbf)) if exp > now && nbf <= now + 300 => {}
        _ => {
            return Err(invalid_client(
                "AADSTS700024: Client assertion is not within its valid time range.",
            ))
        }
    }
    let Some(jti) = text("jti").filter(|j| !j.is_empty()) else {
        return Err(invalid_client(
            "AADSTS700023: Client assertion has no 'jti' claim.",
        ));
    };
    if !seen_jti.insert(jti.to_owned()) {
        return Err(invalid_client(
            "AADSTS700025: Client assertion has been replayed ('jti' already used).",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let fields = form_decode(b"a=1&b=x+y%2Fz&c=%C3%A9&d=&e&bad=%zz%4");
        assert_eq!(fields.get("a").map(String::as_str), Some("1"));
        assert_eq!(fields.get("b").map(String::as_str), Some("x y/z"));
        assert_eq!(fields.get("c").map(String::as_str), Some("é"));
        assert_eq!(fields.get("d").map(String::as_str), Some(""));
        assert_eq!(fields.get("e").map(String::as_str), Some(""));
        assert_eq!(fields.get("bad").map(String::as_str), Some("%zz%4"));
    }

    #[test]
    fn token_paths() {
        assert_eq!(token_tenant("/t1/oauth2/v2.0/token"), Some("t1"));
        assert_eq!(token_tenant("//oauth2/v2.0/token"), None);
        assert_eq!(token_tenant("/a/b/oauth2/v2.0/token"), None);
        assert_eq!(
            token_tenant("/v1.0/communications/calls/logTeleconferenceDeviceQuality"),
            None
        );
    }

    #[test]
    fn aad_errors_carry_codes_and_ids() {
        let answer = aad_error(
            401,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
        let body: Value = serde_json::from_str(&answer.body).unwrap_or_default();
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"], json!([7000215]));
        assert!(body["trace_id"].is_string() && body["correlation_id"].is_string());
    }
}
