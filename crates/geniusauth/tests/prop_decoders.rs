//! Property tests: the reply envelope decoder and JWT decode/verify on hostile input.
//!
//! 256 cases per property by default (a few seconds); `PROPTEST_CASES=100000 cargo test -p
//! geniusauth --test prop_decoders` is the longer run documented in the README.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{Signer, SigningKey};
use geniusauth::envelope::{decode_envelope, snippet, SNIPPET_BYTES};
use geniusauth::model::{AccessTokenInfo, LoginResult, PayloadUpdate, PublicUserInfo};
use geniusauth::tokens::{self, LEEWAY_SECS};
use geniusauth::{Claims, Error, RefreshResult, TokenError, TokenType};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{json, Map, Value};

/// 256 cases unless `PROPTEST_CASES` says otherwise; no regression files in the source tree.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 256;
    }
    config.failure_persistence = None;
    config.max_global_rejects = config.cases.max(1024);
    config
}

/// JSON values without floats (serde_json's default float parsing is best-effort, so floats
/// do not round-trip bit for bit; they are covered by the agreement properties instead).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// JSON values with floats too, for properties that compare with serde_json itself.
fn json_value_with_floats() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![json_value(), {
        use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
        (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).prop_map(Value::from)
    },];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop::collection::btree_map(any::<String>(), inner, 0..6)
            .prop_map(|map| Value::Object(map.into_iter().collect()))
    })
}

fn login_result() -> impl Strategy<Value = LoginResult> {
    (
        any::<u64>(),
        any::<String>(),
        prop::collection::vec(any::<String>(), 0..4),
        any::<String>(),
        any::<String>(),
        any::<String>(),
    )
        .prop_map(
            |(user_id, name, groups, avatar_url, refresh_token, access_token)| LoginResult {
                user_id,
                name,
                groups,
                avatar_url,
                refresh_token,
                access_token,
            },
        )
}

fn refresh_result() -> impl Strategy<Value = RefreshResult> {
    (any::<String>(), any::<String>(), any::<Option<u64>>()).prop_map(
        |(access_token, payload, uid)| RefreshResult {
            access_token,
            payload,
            uid,
        },
    )
}

fn payload_update() -> impl Strategy<Value = PayloadUpdate> {
    // `""` reads back as no access token: the server's way of saying none was asked for.
    (any::<String>(), any::<Option<String>>()).prop_map(|(refresh_token, access_token)| {
        PayloadUpdate {
            refresh_token,
            access_token: access_token.filter(|t| !t.is_empty()),
        }
    })
}

fn public_user_info() -> impl Strategy<Value = Vec<PublicUserInfo>> {
    let group = (any::<u64>(), any::<String>())
        .prop_map(|(id, name)| geniusauth::model::Group { id, name });
    let user = (
        any::<u64>(),
        any::<String>(),
        any::<String>(),
        prop::collection::vec(group, 0..3),
    )
        .prop_map(|(id, name, avatar_url, groups)| PublicUserInfo {
            id,
            name,
            avatar_url,
            groups,
        });
    prop::collection::vec(user, 0..4)
}

fn success(data: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(&json!({"code": 0, "msg": "", "data": data})).expect("serialises")
}

fn assert_unexpected<T: std::fmt::Debug>(result: Result<T, Error>, status: u16, body: &[u8]) {
    match result {
        Err(Error::UnexpectedReply {
            http_status,
            snippet: text,
        }) => {
            assert_eq!(http_status, status);
            assert_eq!(text, snippet(body));
        }
        other => panic!("expected UnexpectedReply, got {other:?}"),
    }
}

// ---- JWTs ----------------------------------------------------------------------------------

fn token_type() -> impl Strategy<Value = TokenType> {
    prop_oneof![
        Just(TokenType::Login),
        Just(TokenType::Refresh),
        Just(TokenType::Access),
        Just(TokenType::Missing),
        "[A-Za-z]{1,10}".prop_map(|s| TokenType::from(s.as_str())),
    ]
}

fn claims() -> impl Strategy<Value = Claims> {
    (
        token_type(),
        (any::<u64>(), any::<u64>(), any::<u64>()),
        (any::<String>(), any::<String>()),
        (any::<Option<i64>>(), any::<Option<i64>>()),
    )
        .prop_map(
            |(token_type, (uid, oid, id), (app_code, payload), (iat, exp))| Claims {
                token_type,
                uid,
                oid,
                id,
                app_code,
                payload,
                iat,
                exp,
            },
        )
}

fn signing_key() -> impl Strategy<Value = SigningKey> {
    any::<[u8; 32]>().prop_map(|seed| SigningKey::from_bytes(&seed))
}

const HEADER: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;

/// A token as the server makes one: base64url(header).base64url(claims).base64url(signature).
fn sign_jwt(header: &str, claims: &Value, key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("serialises"))
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn token_error(result: Result<impl std::fmt::Debug, Error>) -> TokenError {
    match result {
        Err(Error::Token(err)) => err,
        other => panic!("expected a token error, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(config())]

    // ---- envelope ----

    #[test]
    fn envelope_never_panics_on_arbitrary_bytes(
        status in any::<u16>(),
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let _ = decode_envelope::<LoginResult>(status, &body);
        let _ = decode_envelope::<Value>(status, &body);
        let _ = decode_envelope::<serde::de::IgnoredAny>(status, &body);
        let text = snippet(&body);
        prop_assert_eq!(
            text,
            String::from_utf8_lossy(&body[..body.len().min(SNIPPET_BYTES)]).into_owned()
        );
    }

    #[test]
    fn envelope_round_trips_every_reply_type(
        login in login_result(),
        refresh in refresh_result(),
        update in payload_update(),
        users in public_user_info(),
        access in (any::<u64>(), any::<String>())
            .prop_map(|(uid, payload)| AccessTokenInfo { uid, payload }),
    ) {
        prop_assert_eq!(decode_envelope::<LoginResult>(200, &success(&login))?, login);
        prop_assert_eq!(decode_envelope::<RefreshResult>(200, &success(&refresh))?, refresh);
        prop_assert_eq!(decode_envelope::<PayloadUpdate>(200, &success(&update))?, update);
        prop_assert_eq!(decode_envelope::<Vec<PublicUserInfo>>(200, &success(&users))?, users);
        prop_assert_eq!(decode_envelope::<AccessTokenInfo>(200, &success(&access))?, access);
    }

    #[test]
    fn envelope_data_agrees_with_serde_json(
        data in prop::option::of(json_value_with_floats()),
        extra in prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..3),
        status in any::<u16>(),
    ) {
        let mut envelope: Map<String, Value> = extra.into_iter().collect();
        envelope.insert("code".into(), json!(0));
        match &data {
            Some(data) => envelope.insert("data".into(), data.clone()),
            None => envelope.remove("data"),
        };
        let body = serde_json::to_vec(&envelope).expect("serialises");
        let expected: Value = serde_json::from_slice::<Value>(&body).expect("valid")
            .get("data").cloned().unwrap_or(Value::Null);
        prop_assert_eq!(decode_envelope::<Value>(status, &body)?, expected);
    }

    #[test]
    fn envelope_codes_and_messages(
        code in prop_oneof![
            any::<i64>().prop_map(Some),
            Just(None),
        ],
        odd_code in prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
            (i64::MAX as u64 + 1..=u64::MAX).prop_map(Value::from),
            (-1e12f64..1e12).prop_map(|f| json!(f + 0.5)),
        ],
        msg in prop_oneof![
            any::<String>().prop_map(Value::String),
            Just(Value::Null),
            json_value(),
        ],
        with_msg in any::<bool>(),
        status in any::<u16>(),
    ) {
        let mut envelope = Map::new();
        envelope.insert("code".into(), code.map(Value::from).unwrap_or_else(|| odd_code.clone()));
        if with_msg {
            envelope.insert("msg".into(), msg.clone());
        }
        let body = serde_json::to_vec(&envelope).expect("serialises");
        let result = decode_envelope::<Option<LoginResult>>(status, &body);
        match code {
            Some(0) => prop_assert_eq!(result?, None),
            Some(code) => {
                let expected_msg = match (with_msg, &msg) {
                    (false, _) | (true, Value::Null) => String::new(),
                    (true, Value::String(s)) => s.clone(),
                    (true, other) => other.to_string(),
                };
                prop_assert_eq!(
                    result.unwrap_err(),
                    Error::Server { code, msg: expected_msg, http_status: status }
                );
            }
            None => assert_unexpected(result, status, &body),
        }
    }

    #[test]
    fn truncated_or_wrapped_envelopes_are_unexpected_replies(
        login in login_result(),
        cut in any::<prop::sample::Index>(),
        status in any::<u16>(),
    ) {
        let body = success(&login);
        // Every proper prefix of a JSON object is not JSON.
        let cut = cut.index(body.len());
        assert_unexpected(decode_envelope::<LoginResult>(status, &body[..cut]), status, &body[..cut]);
        // Nor is the envelope inside an array, or as a string.
        let wrapped = serde_json::to_vec(&json!([serde_json::from_slice::<Value>(&body).expect("json")]))
            .expect("serialises");
        assert_unexpected(decode_envelope::<LoginResult>(status, &wrapped), status, &wrapped);
        let quoted = serde_json::to_vec(&String::from_utf8_lossy(&body)).expect("serialises");
        assert_unexpected(decode_envelope::<LoginResult>(status, &quoted), status, &quoted);
    }

    #[test]
    fn data_of_the_wrong_shape_is_an_unexpected_reply(
        data in prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            // (serde reads a struct from an array too, field by field: `[8]` is user 8.)
            prop::collection::vec(any::<String>(), 1..4).prop_map(|v| json!(v)),
            any::<String>().prop_map(|s| json!({"userID": s})),
            any::<String>().prop_map(|s| json!({"groups": s})),
        ],
        status in any::<u16>(),
    ) {
        let body = success(&data);
        assert_unexpected(decode_envelope::<LoginResult>(status, &body), status, &body);
    }

    // ---- JWT ----

    #[test]
    fn jwt_decode_and_verify_never_panic(
        text in prop_oneof![
            any::<String>(),
            "[A-Za-z0-9_=.-]{0,120}",
            ("[A-Za-z0-9_-]{0,60}", "[A-Za-z0-9_-]{0,60}", "[A-Za-z0-9_-]{0,90}")
                .prop_map(|(a, b, c)| format!("eyJ{a}.ey{b}.{c}")),
            (json_value_with_floats(), json_value_with_floats(), any::<Vec<u8>>()).prop_map(
                |(h, c, s)| format!(
                    "{}.{}.{}",
                    URL_SAFE_NO_PAD.encode(h.to_string()),
                    URL_SAFE_NO_PAD.encode(c.to_string()),
                    URL_SAFE_NO_PAD.encode(s)
                )
            ),
        ],
        key in signing_key(),
        now in any::<i64>(),
        started in any::<i64>(),
    ) {
        let public = key.verifying_key();
        let _ = tokens::decode(&text);
        let _ = tokens::check_login_token(&text, started, now, None);
        // Nothing but a token signed by this key can verify.
        prop_assert!(tokens::verify_signature(&text, &public).is_err());
        prop_assert!(tokens::verify_at(&text, &public, &TokenType::Access, now).is_err());
        prop_assert!(tokens::check_login_token(&text, started, now, Some(&public)).is_err());
    }

    #[test]
    fn signed_jwt_round_trips_and_verifies(claims in claims(), key in signing_key()) {
        let raw = serde_json::to_value(&claims).expect("serialises");
        let token = sign_jwt(HEADER, &raw, &key);
        let decoded = tokens::decode(&token)?;
        prop_assert_eq!(&decoded.claims, &claims);
        prop_assert_eq!(&decoded.raw_claims, &raw);
        prop_assert_eq!(decoded.algorithm(), Some("EdDSA"));
        prop_assert_eq!(tokens::verify_signature(&token, &key.verifying_key())?.claims, claims.clone());
        // Surrounding whitespace (a pasted line) does not matter.
        let padded = format!(" \t{token}\r\n");
        prop_assert_eq!(tokens::verify_signature(&padded, &key.verifying_key())?.claims, claims);
    }

    #[test]
    fn any_single_byte_change_fails_verification(
        claims in claims(),
        key in signing_key(),
        at in any::<prop::sample::Index>(),
        replacement in prop_oneof![0x20u8..0x7f, Just(b'\t'), Just(b'\n'), Just(0u8)],
    ) {
        let token = sign_jwt(HEADER, &serde_json::to_value(&claims).expect("json"), &key);
        let at = at.index(token.len());
        prop_assume!(token.as_bytes()[at] != replacement);
        let mut bytes = token.into_bytes();
        bytes[at] = replacement;
        let changed = String::from_utf8(bytes).expect("ASCII");
        let result = tokens::verify_signature(&changed, &key.verifying_key());
        prop_assert!(result.is_err(), "{changed} verified: {result:?}");
    }

    #[test]
    fn another_key_or_algorithm_fails(
        claims in claims(),
        key in signing_key(),
        other in signing_key(),
        alg in "[A-Za-z0-9]{0,8}",
    ) {
        prop_assume!(key.to_bytes() != other.to_bytes());
        let raw = serde_json::to_value(&claims).expect("json");
        let token = sign_jwt(HEADER, &raw, &key);
        prop_assert_eq!(
            token_error(tokens::verify_signature(&token, &other.verifying_key())),
            TokenError::BadSignature
        );
        // A header that names another algorithm is refused, however well it is signed.
        prop_assume!(alg != "EdDSA");
        let header = json!({"alg": alg, "typ": "JWT"}).to_string();
        let token = sign_jwt(&header, &raw, &key);
        prop_assert_eq!(
            token_error(tokens::verify_signature(&token, &key.verifying_key())),
            TokenError::UnsupportedAlgorithm(alg)
        );
    }

    #[test]
    fn verify_checks_expiry_and_type(
        claims in claims(),
        key in signing_key(),
        now in -1_000_000_000_000i64..1_000_000_000_000,
        expected in token_type(),
    ) {
        let token = sign_jwt(HEADER, &serde_json::to_value(&claims).expect("json"), &key);
        let result = tokens::verify_at(&token, &key.verifying_key(), &expected, now);
        let expired = claims.exp.is_some_and(|exp| now >= exp.saturating_add(LEEWAY_SECS));
        if expired {
            prop_assert_eq!(
                token_error(result),
                TokenError::Expired { exp: claims.exp.unwrap_or_default(), now }
            );
        } else if claims.token_type != expected {
            prop_assert_eq!(
                token_error(result),
                TokenError::WrongType { expected, found: claims.token_type }
            );
        } else {
            prop_assert_eq!(result?, claims);
        }
    }

    #[test]
    fn login_token_check(
        claims in claims(),
        key in signing_key(),
        started in -1_000_000_000_000i64..1_000_000_000_000,
        now in -1_000_000_000_000i64..1_000_000_000_000,
    ) {
        let token = sign_jwt(HEADER, &serde_json::to_value(&claims).expect("json"), &key);
        let result = tokens::check_login_token(&token, started, now, Some(&key.verifying_key()));
        let ok = claims.token_type == TokenType::Login
            && !claims.is_expired_at(now)
            && claims.iat.is_some_and(|iat| iat >= started - tokens::SIGN_IN_START_SLACK_SECS);
        prop_assert_eq!(result.is_ok(), ok, "{:?}", result);
        // Without a key the same rules hold, the signature aside.
        let unsigned = tokens::check_login_token(&token, started, now, None);
        prop_assert_eq!(unsigned.is_ok(), ok);
    }

    #[test]
    fn server_key_parses_back_and_garbage_is_refused(
        key in signing_key(),
        label in prop_oneof![Just("PUBLIC KEY"), Just("EC PUBLIC KEY")],
        garbage in any::<String>(),
    ) {
        let public = key.verifying_key();
        let pem = public
            .to_public_key_pem(LineEnding::LF)
            .expect("PEM")
            .replace("PUBLIC KEY", label);
        prop_assert_eq!(tokens::parse_server_jwt_key(&pem)?, public);
        // As it arrives in the JSON reply: the PEM text, base64-encoded.
        prop_assert_eq!(tokens::parse_server_jwt_key(&STANDARD.encode(&pem))?, public);
        prop_assert_eq!(tokens::parse_server_jwt_key(&pem.replace('\n', "\r\n"))?, public);
        let _ = tokens::parse_server_jwt_key(&garbage);
        let _ = tokens::parse_server_jwt_key(&format!("-----BEGIN PUBLIC KEY-----\n{garbage}\n-----END PUBLIC KEY-----"));
    }
}
