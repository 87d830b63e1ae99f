//! Read and search: thin handlers over [`super::load`] and [`super::search`].

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use sqlx::Row;

use super::load::{self, PersonData};
use super::search::{Kind, Search, bundle};
use super::{Fhir, FhirCaller, FhirError, FhirResult, base_url};
use crate::core::AppState;
use crate::core::access::{self, Caller, PersonOp, ServiceOp, Via};
use crate::core::db::{self, service_users::ServiceUser};
use crate::error::Error;
use crate::http::params::Path;

/// The query string as pairs, repeated names kept (`_lastUpdated=ge…&_lastUpdated=lt…`).
pub(super) fn pairs(q: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub async fn search(
    State(st): State<AppState>,
    FhirCaller(caller): FhirCaller,
    Path(kind): Path<String>,
    RawQuery(q): RawQuery,
) -> FhirResult<Fhir> {
    let kind = Kind::parse(&kind).ok_or(Error::NotFound("FHIR resource type"))?;
    search_kind(&st, &caller, kind, q).await
}

/// `GET /MedicationRequest` shares its path with the import.
pub async fn search_requests(
    State(st): State<AppState>,
    FhirCaller(caller): FhirCaller,
    RawQuery(q): RawQuery,
) -> FhirResult<Fhir> {
    search_kind(&st, &caller, Kind::MedicationRequest, q).await
}

async fn search_kind(
    st: &AppState,
    caller: &Caller,
    kind: Kind,
    q: Option<String>,
) -> FhirResult<Fhir> {
    let search = Search::parse(kind, pairs(q))?;
    let mut entries = Vec::new();
    for data in people(st, caller, &search).await? {
        entries.extend(data.entries(kind));
    }
    Ok(Fhir(
        StatusCode::OK,
        bundle(&base_url(st), kind, &search, entries),
    ))
}

/// The people a search looks at: the one named, or everyone the caller may see.
async fn people(st: &AppState, caller: &Caller, search: &Search) -> FhirResult<Vec<PersonData>> {
    let sus: Vec<ServiceUser> = if let Some(id) = &search.patient {
        vec![access::person(&st.store, caller, id, PersonOp::Read, Via::Fhir).await?]
    } else if let Some(reference) = &search.reference {
        match by_reference(st, reference).await? {
            Some(su) => {
                vec![access::person(&st.store, caller, &su.id, PersonOp::Read, Via::Fhir).await?]
            }
            None => Vec::new(),
        }
    } else {
        visible_people(st, caller).await?
    };
    let mut conn = st.store.pool().acquire().await.map_err(Error::from)?;
    let mut out = Vec::with_capacity(sus.len());
    for su in sus {
        out.push(load::person(&mut conn, su).await?);
    }
    Ok(out)
}

pub(super) async fn by_reference(
    st: &AppState,
    reference: &str,
) -> FhirResult<Option<ServiceUser>> {
    let row = sqlx::query("SELECT id FROM service_users WHERE reference = $1")
        .bind(reference.trim().to_uppercase())
        .fetch_optional(st.store.pool())
        .await
        .map_err(Error::from)?;
    match row {
        Some(r) => {
            let id: String = r.try_get("id").map_err(Error::from)?;
            Ok(db::service_users::get(st.store.pool(), &id).await?)
        }
        None => Ok(None),
    }
}

/// Everyone the caller may see (`access::visible_ids`: the caseload for the service's staff, a
/// pharmacist's own pharmacy's people; an administrator is refused, as in the JSON API), each
/// read written to the access log.
pub(super) async fn visible_people(st: &AppState, caller: &Caller) -> FhirResult<Vec<ServiceUser>> {
    caller.may(ServiceOp::ListPeople)?;
    let ids = access::visible_ids(&st.store, caller).await?;
    let mut out = Vec::with_capacity(ids.len());
    for (id, _) in &ids {
        if let Some(su) = db::service_users::get(st.store.pool(), id).await? {
            out.push(su);
        }
    }
    access::log_reads(&st.store, caller, &ids, Via::Fhir).await?;
    Ok(out)
}

/// The person a resource is about, from its id.
async fn owner_of(st: &AppState, kind: Kind, id: &str) -> FhirResult<Option<String>> {
    let sql = match kind {
        Kind::Patient => "SELECT id AS su FROM service_users WHERE id = $1",
        Kind::MedicationRequest => {
            "SELECT p.service_user_id AS su FROM regimes r \
             JOIN prescriptions p ON p.id = r.prescription_id WHERE r.id = $1"
        }
        Kind::MedicationDispense => {
            "SELECT service_user_id AS su FROM dispenses WHERE id = $1 UNION \
             SELECT service_user_id AS su FROM missed_doses WHERE id = $1"
        }
        Kind::MedicationAdministration => {
            "SELECT service_user_id AS su FROM dispenses WHERE id = $1"
        }
    };
    let row = sqlx::query(sql)
        .bind(id)
        .fetch_optional(st.store.pool())
        .await
        .map_err(Error::from)?;
    Ok(row
        .map(|r| r.try_get("su"))
        .transpose()
        .map_err(Error::from)?)
}

pub async fn read(
    State(st): State<AppState>,
    FhirCaller(caller): FhirCaller,
    Path((kind, id)): Path<(String, String)>,
) -> FhirResult<Fhir> {
    let kind = Kind::parse(&kind).ok_or(Error::NotFound("FHIR resource type"))?;
    let missing = || FhirError(Error::NotFound("resource"));
    let su_id = owner_of(&st, kind, &id).await?.ok_or_else(missing)?;
    let su = access::person(&st.store, &caller, &su_id, PersonOp::Read, Via::Fhir).await?;
    let mut conn = st.store.pool().acquire().await.map_err(Error::from)?;
    let data = load::person(&mut conn, su).await?;
    let entry = data
        .entries(kind)
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(missing)?;
    Ok(Fhir(StatusCode::OK, entry.resource))
}
