//! Holds: place and lift. A keyworker or clinician with the person on their caseload (or who
//! broke glass) places an attend hold; only a clinician places or lifts a safety hold. Each
//! change is audited, queued for the pharmacy and, for attend holds, may send the person's
//! private heads-up, all in one transaction.

use sotto_domain::HoldKind;

use crate::core::AppState;
use crate::core::access::{self, Caller, PersonOp};
use crate::core::db::{self, audit::Actor, holds::Hold, service_users::ServiceUser};
use crate::core::email::{queue, templates};
use crate::core::values;
use crate::error::{Error, Result};

/// The access operation placing a hold of this kind is.
pub fn place_op(kind: HoldKind) -> PersonOp {
    match kind {
        HoldKind::Safety => PersonOp::PlaceSafetyHold,
        _ => PersonOp::PlaceHold,
    }
}

/// The reason as it will be stored, or the error naming `reason` (for previews too).
pub fn parse_reason(reason: &str) -> Result<String> {
    Ok(values::parse_text("reason", reason, 2000, true)?)
}

/// Places a hold on a person if the caller may; returns the hold.
pub async fn place(
    st: &AppState,
    caller: &Caller,
    su_id: &str,
    kind: HoldKind,
    reason: &str,
) -> Result<Hold> {
    place_for(st, caller, su_id, kind, reason, None).await
}

/// Places a hold that may name the appointment it waits for (attend holds only): recording
/// attendance ([`attended`]) lifts it.
pub async fn place_for(
    st: &AppState,
    caller: &Caller,
    su_id: &str,
    kind: HoldKind,
    reason: &str,
    appointment_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Hold> {
    if appointment_at.is_some() && kind != HoldKind::Attend {
        return Err(Error::field(
            "appointment_at",
            "only an attend hold waits for an appointment",
        ));
    }
    let mut w = st.store.write().await?;
    let su = db::service_users::get(&mut *w.tx, su_id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    access::person_in(&mut w.tx, caller, &su, place_op(kind)).await?;
    let reason = parse_reason(reason)?;
    let hold = db::holds::place(&mut w, &Actor(caller.id.clone()), &su.id, kind, &reason).await?;
    if let Some(at) = appointment_at {
        db::holds::set_appointment(&mut w, &Actor(caller.id.clone()), &hold, at).await?;
    }
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

/// The access operation lifting this hold is.
pub fn lift_op(hold: &Hold) -> PersonOp {
    match hold.kind {
        HoldKind::Safety => PersonOp::LiftSafetyHold,
        _ => PersonOp::LiftHold,
    }
}

/// Whether the caller may lift this hold now: the access rule, and a lifted hold stays lifted.
async fn check_may_lift(
    conn: &mut sqlx::AnyConnection,
    caller: &Caller,
    hold: &Hold,
    su: &ServiceUser,
) -> Result<()> {
    access::person_in(conn, caller, su, lift_op(hold)).await?;
    if hold.lifted_at.is_some() {
        return Err(Error::Conflict {
            field: "id",
            detail: "this hold has already been lifted".into(),
        });
    }
    Ok(())
}

/// The hold and its person, if the caller may lift it now (for a preview; nothing written).
pub async fn may_lift(
    st: &AppState,
    caller: &Caller,
    hold_id: &str,
) -> Result<(Hold, ServiceUser)> {
    let mut conn = st.store.pool().acquire().await?;
    let hold = db::holds::find(&mut *conn, hold_id)
        .await?
        .ok_or(Error::NotFound("hold"))?;
    let su = db::service_users::get(&mut *conn, &hold.service_user_id)
        .await?
        .ok_or_else(|| Error::Internal("hold without a service user".into()))?;
    check_may_lift(&mut conn, caller, &hold, &su).await?;
    Ok((hold, su))
}

/// Lifts a hold if the caller may (a safety hold: clinicians only); shared by the API and the
/// console. Returns the hold as it was and when it was lifted.
pub async fn lift(st: &AppState, caller: &Caller, id: &str, note: &str) -> Result<(Hold, String)> {
    lift_noting(st, caller, id, note, false).await
}

/// Records that the person attended: lifts their attend hold (with the same access rule as a
/// lift), audited as an attendance, and the counter is told at once. A safety hold is not
/// lifted by attending: a prescriber reviews.
pub async fn attended(st: &AppState, caller: &Caller, id: &str) -> Result<(Hold, String)> {
    lift_noting(st, caller, id, "attended", true).await
}

async fn lift_noting(
    st: &AppState,
    caller: &Caller,
    id: &str,
    note: &str,
    attended: bool,
) -> Result<(Hold, String)> {
    let mut w = st.store.write().await?;
    let hold = db::holds::get(&mut w, id)
        .await?
        .ok_or(Error::NotFound("hold"))?;
    let su = db::service_users::get(&mut *w.tx, &hold.service_user_id)
        .await?
        .ok_or_else(|| Error::Internal("hold without a service user".into()))?;
    check_may_lift(&mut w.tx, caller, &hold, &su).await?;
    if attended && hold.kind != HoldKind::Attend {
        return Err(Error::Conflict {
            field: "id",
            detail: "a safety hold is lifted by a prescriber review, not by attending".into(),
        });
    }
    let note = values::parse_text("note", note, 2000, false)?;
    if attended {
        w.audit(
            &Actor(caller.id.clone()),
            "hold.attended",
            &format!("service_user:{}", su.id),
            serde_json::json!({"hold_id": hold.id}),
        )
        .await?;
    }
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
