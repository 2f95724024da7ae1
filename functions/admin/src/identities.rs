//! The identity routes of the admin API (`api/identities...`): parse, call
//! `keygate::ops::identities`, answer.

use chrono::Utc;
use keygate::domain::audit::{Action, Origin};
use keygate::domain::identity::{IdentityId, IdentityUpdate};
use keygate::edge::error::IDENTITY_NOT_FOUND;
use keygate::edge::identity_input::{identity_update, new_identity};
use keygate::edge::query::identity_query;
use keygate::edge::request::json_object;
use keygate::edge::response::json_response;
use keygate::edge::telemetry;
use keygate::ops::identities;
use keygate::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// How many of an identity's keys its view lists, newest first.
const KEYS_SHOWN: usize = 100;

fn identity_id(text: &str) -> Result<IdentityId, ApiError> {
    IdentityId::parse(text).ok_or_else(|| {
        ApiError::BadRequest(
            "Not an identity id: identity ids are idt_ followed by 24 lowercase hexadecimal \
             digits."
                .to_owned(),
        )
    })
}

/// `GET api/identities`: a page of identities, newest first, or the one with an
/// `external_id`.
pub async fn list(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let query = identity_query(req.uri().query())?;
    let now = Utc::now();
    telemetry::outcome("listed");
    if let Some(external_id) = &query.external_id {
        let found = app.store.find_identity_by_external_id(external_id).await?;
        let views: Vec<_> = found.iter().map(|i| i.view(now, None)).collect();
        return Ok(json_response(
            StatusCode::OK,
            &json!({ "identities": views, "next_cursor": null }),
        ));
    }
    let page = app
        .store
        .list_identities(query.search.as_deref(), query.cursor.as_ref(), query.limit)
        .await?;
    let views: Vec<_> = page.identities.iter().map(|i| i.view(now, None)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "identities": views, "next_cursor": page.next.map(|c| c.encode()) }),
    ))
}

/// `POST api/identities`: 201 with the new identity.
pub async fn create(app: &App, req: &Request, origin: &Origin) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let now = Utc::now();
    let new = new_identity(&body, now)?;
    let identity = identities::create(app, new, now, origin).await?;
    telemetry::outcome("created");
    Ok(json_response(
        StatusCode::CREATED,
        &identity.view(now, None),
    ))
}

/// `GET api/identities/{id}`: the identity with its live quota and its keys.
pub async fn view(app: &App, id: &str) -> Result<Response<Body>, ApiError> {
    let id = identity_id(id)?;
    let identity = identities::get(app, &id).await.map_err(not_found)?;
    let live = identities::live_quota(app, &identity).await;
    let keys = app.store.keys_of_identity(&id, KEYS_SHOWN).await?;
    let now = Utc::now();
    telemetry::outcome("viewed");
    let mut view = serde_json::to_value(identity.view(now, live.as_ref()))
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    view["keys"] = serde_json::to_value(keys.iter().map(|k| k.view(now)).collect::<Vec<_>>())
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(json_response(StatusCode::OK, &view))
}

/// `PATCH api/identities/{id}`.
pub async fn update(
    app: &App,
    req: &Request,
    id: &str,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = identity_id(id)?;
    let body = json_object(req)?;
    let changes = identity_update(&body)?;
    changed(
        app,
        &id,
        &changes,
        Action::IdentityUpdate,
        origin,
        "updated",
    )
    .await
}

/// `POST api/identities/{id}/suspend` and `/resume`.
pub async fn suspend(
    app: &App,
    id: &str,
    suspended: bool,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = identity_id(id)?;
    let changes = IdentityUpdate {
        suspended: Some(suspended),
        ..IdentityUpdate::default()
    };
    let (action, outcome) = if suspended {
        (Action::IdentitySuspend, "suspended")
    } else {
        (Action::IdentityResume, "resumed")
    };
    changed(app, &id, &changes, action, origin, outcome).await
}

async fn changed(
    app: &App,
    id: &IdentityId,
    changes: &IdentityUpdate,
    action: Action,
    origin: &Origin,
    outcome: &'static str,
) -> Result<Response<Body>, ApiError> {
    let now = Utc::now();
    let identity = identities::update(app, id, changes, action, now, origin)
        .await
        .map_err(not_found)?;
    let live = identities::live_quota(app, &identity).await;
    telemetry::outcome(outcome);
    Ok(json_response(
        StatusCode::OK,
        &identity.view(now, live.as_ref()),
    ))
}

/// `DELETE api/identities/{id}`: only without active keys (409 otherwise).
pub async fn delete(app: &App, id: &str, origin: &Origin) -> Result<Response<Body>, ApiError> {
    let id = identity_id(id)?;
    identities::delete(app, &id, Utc::now(), origin)
        .await
        .map_err(not_found)?;
    telemetry::outcome("deleted");
    Ok(json_response(
        StatusCode::OK,
        &json!({ "detail": "Identity deleted." }),
    ))
}

fn not_found(err: keygate::ops::OpError) -> ApiError {
    match err {
        keygate::ops::OpError::IdentityNotFound => ApiError::NotFound(IDENTITY_NOT_FOUND),
        other => other.into(),
    }
}
