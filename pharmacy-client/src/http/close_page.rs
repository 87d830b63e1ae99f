//! Closing the day from the counter page: `POST /close-day`. The counter closes each day by
//! itself at closing time, so the page's button is for a pharmacy that shuts early; before
//! closing time it first asks, in words, for an explicit "close today early" (closing reports
//! everyone not yet supplied today as missed, and no supply can be recorded after it).

use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use super::api::close_refusal;
use super::html::{esc, page};
use super::page::{PageQuery, respond};
use super::{AppState, View};
use crate::closing::{CloseRefused, CloseRequest, ClosedBy};

/// The close-day form, as posted.
#[derive(Debug, Deserialize)]
pub(crate) struct CloseDayForm {
    csrf: Option<String>,
    date: String,
    /// `yes` once the pharmacist confirmed closing before closing time.
    early: Option<String>,
}

/// The page's "End of the day" section: what happens by itself, and the button.
pub(super) fn section(view: &View) -> String {
    let Some(pharmacy) = view.meta.pharmacy.as_ref() else {
        return String::new();
    };
    let when = crate::counter::calendar(pharmacy)
        .closes_at(view.today, &view.zone)
        .map_or_else(
            || "at closing time".to_string(),
            |at| format!("at {}", at.with_timezone(&view.zone).format("%H:%M")),
        );
    format!(
        "<details class=\"end-of-day\"><summary>End of the day</summary>\
         <p>This counter closes the day by itself {when}: anyone who has not had today's dose \
         is then reported to the service.</p>{form}</details>",
        form = close_form(view, view.today, false, "Close today now"),
    )
}

fn close_form(view: &View, date: NaiveDate, early: bool, label: &str) -> String {
    let early = if early {
        "<input type=\"hidden\" name=\"early\" value=\"yes\">"
    } else {
        ""
    };
    format!(
        "<form method=\"post\" action=\"/close-day\">{token}\
         <input type=\"hidden\" name=\"date\" value=\"{date}\">{early}\
         <button type=\"submit\">{label}</button></form>",
        token = view.form_token_field(),
    )
}

/// `POST /close-day`: closes the day, or asks first when it is before closing time.
#[tracing::instrument(skip_all)]
pub(crate) async fn close_day(
    State(state): State<AppState>,
    Form(form): Form<CloseDayForm>,
) -> Response {
    let query = PageQuery::default();
    if !state.guard.form_token_ok(form.csrf.as_deref()) {
        tracing::warn!("refused a close-day form without the page's token");
        let message = format!("Not done: {}.", super::error::ApiError::StalePage);
        return respond(&state, &query, Some(message), StatusCode::FORBIDDEN).await;
    }
    let Ok(date) = NaiveDate::parse_from_str(&form.date, "%Y-%m-%d") else {
        let message = "Not done: the page was out of date. Try again.".to_string();
        return respond(
            &state,
            &query,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let request = CloseRequest {
        date,
        by: ClosedBy::Page,
        early: form.early.as_deref() == Some("yes"),
    };
    match state.closer.close(request).await {
        Ok(Ok(_)) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/?done=closed")]).into_response(),
        Ok(Err(CloseRefused::BeforeClosingTime { closes_at })) => {
            confirm_early(&state, date, closes_at).await
        }
        Ok(Err(refused)) => {
            let message = format!("Not done: {}.", close_refusal(date, refused));
            respond(&state, &query, Some(message), StatusCode::CONFLICT).await
        }
        Err(error) => {
            tracing::error!(%error, "closing the day failed");
            let message = "This computer could not save that. Try again.".to_string();
            respond(
                &state,
                &query,
                Some(message),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
            .await
        }
    }
}

/// "It is before closing time: close today early?", with the confirming button and a way back.
async fn confirm_early(
    state: &AppState,
    date: NaiveDate,
    closes_at: Option<chrono::NaiveTime>,
) -> Response {
    let meta = match state.store.meta().await {
        Ok(meta) => meta,
        Err(error) => {
            tracing::error!(%error, "could not read the store");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let view = state.view(meta, state.clock.now());
    let when = closes_at.map_or_else(
        || "its closing time".to_string(),
        |t| t.format("%H:%M").to_string(),
    );
    let body = format!(
        "<main><h1>Close today early?</h1>\
         <p class=\"notice\">It is {now}; this counter closes today by itself at {when}. \
         Closing it now reports everyone who has not had today's dose to the service, and no \
         supply can be recorded today afterwards.</p>{form}\
         <p><a href=\"/\">No, back to the counter</a></p></main>",
        now = esc(&view.hh_mm(state.clock.now())),
        when = esc(&when),
        form = close_form(&view, date, true, "Yes, close today early"),
    );
    (
        StatusCode::OK,
        page("Close today early? · Sotto counter", &body),
    )
        .into_response()
}
