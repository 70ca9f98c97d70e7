//! The coupon routes a till or a shop calls (with the bearer token):
//! what a code is, and its redemption, once.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flowc_runtime::state::StateStore;
use flowc_runtime::vm::Event;
use jiff::Timestamp;

use super::{not_found, refusal, unavailable, with_store, Shared};

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn describe(coupon: &flowc_runtime::state::Coupon, now: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "code": coupon.code,
        "status": coupon.status(now),
        "contact": coupon.key.contact,
        "flow": coupon.key.flow,
        "rule": coupon.key.rule,
        "occurrence": coupon.key.occurrence,
        "issued_at": coupon.issued_at.to_string(),
        "expires_at": coupon.expires_at.map(|t| t.to_string()),
        "redeemed_at": coupon.redeemed_at.map(|t| t.to_string()),
    })
}

/// GET /coupons/CODE (bearer): valid, used or expired, and for whom.
pub(super) async fn coupon(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    if let Some(answer) = refusal(&service, &headers) {
        return answer;
    }
    let code = flowc_runtime::keys::normalize_code(&code);
    match with_store(&service, move |_, store| {
        store.coupon(&code).map_err(|e| e.0)
    })
    .await
    {
        Ok(Some(coupon)) => json(StatusCode::OK, describe(&coupon, Timestamp::now())),
        Ok(None) => not_found(),
        Err(_) => unavailable(),
    }
}

/// POST /coupons/CODE/redeem (bearer; what a till or a shop calls): records
/// `redeemed` for the contact, flow and occurrence the code was issued
/// for, once. A JSON object body adds attributes (`{"product": "..."}`),
/// which a thank-you reads as `redemption`. 409 when already used, 410
/// when expired.
pub(super) async fn redeem(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(answer) = refusal(&service, &headers) {
        return answer;
    }
    let extra: serde_json::Map<String, serde_json::Value> = if body.is_empty() {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice(&body) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": "the body must be a JSON object of attributes" }),
                )
            }
        }
    };
    let code = flowc_runtime::keys::normalize_code(&code);
    let now = Timestamp::now();
    let outcome = with_store(&service, move |_, store| {
        let Some(coupon) = store.coupon(&code).map_err(|e| e.0)? else {
            return Ok(None);
        };
        if coupon.status(now) != "valid" {
            return Ok(Some((coupon, false)));
        }
        // The event and the mark in one group: redeemed once, whatever
        // arrives twice.
        store.begin_group().map_err(|e| e.0)?;
        if !store.redeem(&code, now).map_err(|e| e.0)? {
            store.commit_group().map_err(|e| e.0)?;
            let coupon = store.coupon(&code).map_err(|e| e.0)?;
            return Ok(coupon.map(|c| (c, false)));
        }
        let mut event = Event::new(&format!("redeemed-{code}"), "redeemed", now)
            .with(
                "flow",
                flowc_runtime::vm::Value::Text(coupon.key.flow.clone()),
            )
            .with(
                "rule",
                flowc_runtime::vm::Value::Text(coupon.key.rule.clone()),
            )
            .with(
                "occurrence",
                flowc_runtime::vm::Value::Text(coupon.key.occurrence.clone()),
            )
            .with("coupon", flowc_runtime::vm::Value::Text(code.clone()));
        for (name, value) in &extra {
            if !matches!(name.as_str(), "flow" | "rule" | "occurrence" | "coupon") {
                event = event.with(name, flowc_runtime::input::json_value(value));
            }
        }
        store.ingest(&coupon.key.contact, &event).map_err(|e| e.0)?;
        store.commit_group().map_err(|e| e.0)?;
        let coupon = store.coupon(&code).map_err(|e| e.0)?;
        Ok(coupon.map(|c| (c, true)))
    })
    .await;
    match outcome {
        Ok(Some((coupon, true))) => json(StatusCode::OK, describe(&coupon, now)),
        Ok(Some((coupon, false))) => {
            let status = match coupon.status(now) {
                "expired" => StatusCode::GONE,
                _ => StatusCode::CONFLICT,
            };
            json(status, describe(&coupon, now))
        }
        Ok(None) => not_found(),
        Err(_) => unavailable(),
    }
}
