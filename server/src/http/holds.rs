//! Holds: keyworkers and clinicians place and lift them; only clinicians lift a safety hold.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sotto_domain::HoldKind;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use super::params::Path;
use super::service_users::load_visible;
use crate::core::AppState;
use crate::core::access::{Caller, Role};
use crate::core::db::{self, audit::Actor};
use crate::core::email::{queue, templates};
use crate::core::values;
use crate::error::{Error, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place))
        .routes(routes!(lift))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PlaceHold {
    /// Why the service wants to see the person. Stays with the service: never sent to a pharmacy.
    pub reason: String,
    /// `attend` (default). A clinician may also place a `safety` hold (prescriber review).
    #[serde(default = "attend")]
    pub kind: HoldKind,
}

fn attend() -> HoldKind {
    HoldKind::Attend
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldPlaced {
    pub id: String,
    pub kind: HoldKind,
    pub placed_at: String,
}

#[utoipa::path(post, path = "/api/v1/service-users/{id}/holds", operation_id = "placeHold", summary = "Place a hold (the pharmacy sees code D or E)", tag = "holds",
    request_body = PlaceHold, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = HoldPlaced), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn place(
    State(st): State<AppState>,
    caller: Caller,
    Path(su_id): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, Json<HoldPlaced>)> {
    caller.require(&[Role::Keyworker, Role::Clinician])?;
    let su = load_visible(&st, &caller, &su_id).await?;
    let req: PlaceHold = body.parse()?;
    let hold = place_hold(&st, &caller, &su, req.kind, &req.reason).await?;
    Ok((
        StatusCode::CREATED,
        Json(HoldPlaced {
            id: hold.id,
            kind: hold.kind,
            placed_at: hold.placed_at,
        }),
    ))
}

/// Places a hold on a person the caller may see (role and visibility already checked); shared by
/// the API and the console so both apply the same rules and messages.
pub(crate) async fn place_hold(
    st: &AppState,
    caller: &Caller,
    su: &db::service_users::ServiceUser,
    kind: HoldKind,
    reason: &str,
) -> Result<db::holds::Hold> {
    if kind == HoldKind::Safety {
        caller
            .require(&[Role::Clinician])
            .map_err(|_| Error::Forbidden("only a clinician places a safety hold".into()))?;
    }
    let reason = values::parse_text("reason", reason, 2000, true)?;
    let mut w = st.store.write().await?;
    let hold = db::holds::place(&mut w, &Actor(caller.id.clone()), &su.id, kind, &reason).await?;
    crate::core::outbox::person_changed(&mut w, &su.id).await?;
    // The opt-in private heads-up: the person hears it from their service, not at the counter.
    if let (HoldKind::Attend, Some(to)) = (hold.kind, &su.heads_up_email) {
        let c = &st.config;
        let mail =
            templates::heads_up_placed(to, &c.heads_up_placed_text, c.service_phone.as_deref());
        queue::enqueue(&mut w, &mail).await?;
    }
    w.commit().await?;
    tracing::info!(hold_id = %hold.id, "hold placed");
    Ok(hold)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LiftHold {
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldLifted {
    pub id: String,
    pub kind: HoldKind,
    pub lifted_at: String,
}

#[utoipa::path(post, path = "/api/v1/holds/{id}/lift", operation_id = "liftHold", summary = "Lift a hold", tag = "holds",
    request_body = LiftHold, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = HoldLifted), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
async fn lift(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<HoldLifted>> {
    caller.require(&[Role::Keyworker, Role::Clinician])?;
    let req: LiftHold = body.parse()?;
    let (hold, lifted_at) = lift_hold(&st, &caller, &id, &req.note).await?;
    Ok(Json(HoldLifted {
        id: hold.id,
        kind: hold.kind,
        lifted_at,
    }))
}

/// Whether the caller may lift this hold now: they see the person, a safety hold needs a
/// clinician, and a lifted hold stays lifted.
pub(crate) fn check_may_lift(
    caller: &Caller,
    hold: &db::holds::Hold,
    su: &db::service_users::ServiceUser,
) -> Result<()> {
    caller.require_access(su)?;
    if hold.kind == HoldKind::Safety && caller.role != Role::Clinician {
        return Err(Error::Forbidden(
            "a safety hold after missed doses is lifted only by a clinician (prescriber review)"
                .into(),
        ));
    }
    if hold.lifted_at.is_some() {
        return Err(Error::Conflict {
            field: "id",
            detail: "this hold has already been lifted".into(),
        });
    }
    Ok(())
}

/// Lifts a hold if the caller may (a safety hold: clinicians only); shared by the API and the
/// console. Returns the hold as it was and when it was lifted.
pub(crate) async fn lift_hold(
    st: &AppState,
    caller: &Caller,
    id: &str,
    note: &str,
) -> Result<(db::holds::Hold, String)> {
    caller.require(&[Role::Keyworker, Role::Clinician])?;
    let note = values::parse_text("note", note, 2000, false)?;
    let mut w = st.store.write().await?;
    let hold = db::holds::get(&mut w, id)
        .await?
        .ok_or(Error::NotFound("hold"))?;
    let su = db::service_users::get(&mut *w.tx, &hold.service_user_id)
        .await?
        .ok_or_else(|| Error::Internal("hold without a service user".into()))?;
    check_may_lift(caller, &hold, &su)?;
    let lifted_at = db::holds::lift(&mut w, &Actor(caller.id.clone()), &hold, &note).await?;
    crate::core::outbox::person_changed(&mut w, &su.id).await?;
    let still_held = db::holds::active(&mut *w.tx, &su.id).await?;
    if let (HoldKind::Attend, Some(to), true) =
        (hold.kind, &su.heads_up_email, still_held.is_empty())
    {
        let mail = templates::heads_up_lifted(to, &st.config.heads_up_lifted_text);
        queue::enqueue(&mut w, &mail).await?;
    }
    w.commit().await?;
    tracing::info!(hold_id = %hold.id, "hold lifted");
    Ok((hold, lifted_at))
}
