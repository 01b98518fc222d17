//! Site surveys (`/v1/projects/{id}/surveys`, `/v1/surveys/{id}/…`) and the
//! bill of quantities (`/v1/projects/{id}/boq`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use essp_domain::error::{Validator, optional_text, required_text};
use essp_domain::project::{BoqCategory, BoqItem, RoomType, Survey, SurveyPhoto, SurveyRoom, SurveyStatus};
use essp_domain::{Id, Scope};
use essp_store::{attachments, projects, surveys as store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authorized;
use crate::auth::permissions::{ProjectRead, ProjectUpdate};
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi;
use crate::openapi::Items;
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create_survey,
        list_surveys,
        get_survey,
        change_survey_status,
        add_room,
        add_photo,
        list_boq,
        add_boq_item,
        approve_boq_item
    ),
    tags((name = "surveys", description = "Site surveys of a project and its bill of quantities."))
)]
pub struct Doc;

fn created<T: Serialize>(v: &T) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

async fn project_id(state: &AppState, scope: &Scope, raw: &str) -> ApiResult<String> {
    let id = params::id("proj", "project", raw)?;
    projects::get_project(state.db.as_ref(), scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("project"))?;
    Ok(id.into_string())
}

async fn load_survey(state: &AppState, scope: &Scope, raw: &str) -> ApiResult<Survey> {
    let id = params::id("survey", "survey", raw)?;
    store::get_survey(state.db.as_ref(), scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("survey"))
}

/// A new survey starts as a draft conducted by the caller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewSurvey)]
pub struct SurveyBody {
    #[schema(schema_with = openapi::text::<5000>)]
    summary: Option<String>,
    #[schema(schema_with = openapi::text::<5000>)]
    risks: Option<String>,
}

#[utoipa::path(post, path = "/v1/projects/{id}/surveys", tag = "surveys",
    params(("id" = String, Path, pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = SurveyBody,
    responses((status = 201, description = "Started", body = Survey)))]
pub async fn create_survey(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    Path(project): Path<String>,
    body: ApiJson<SurveyBody>,
) -> ApiResult<Response> {
    let mut v = Validator::new();
    let summary = v
        .check("summary", optional_text(body.value.summary.as_deref(), 5000))
        .unwrap_or_default();
    let risks = v
        .check("risks", optional_text(body.value.risks.as_deref(), 5000))
        .unwrap_or_default();
    v.finish()?;
    let project_id = project_id(&state, &auth.scope, &project).await?;
    let now = essp_domain::now();
    let survey = Survey {
        id: Id::new("survey"),
        tenant_id: auth.scope.tenant().to_owned(),
        school_id: auth.scope.school().to_owned(),
        project_id,
        status: SurveyStatus::Draft,
        conducted_by: auth.actor.subject.clone(),
        summary,
        risks,
        rooms: Vec::new(),
        photos: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            store::insert_survey(tx, &survey).await?;
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "survey", survey.id.as_str()),
                "create",
                None,
                &survey,
            )
            .await?;
            Ok(survey)
        })
    })
    .await?;
    Ok(created(&saved))
}

#[utoipa::path(get, path = "/v1/projects/{id}/surveys", tag = "surveys",
    params(("id" = String, Path, pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The project's surveys", body = Items<Survey>)))]
pub async fn list_surveys(
    State(state): State<AppState>,
    auth: Authorized<ProjectRead>,
    Path(project): Path<String>,
) -> ApiResult<Json<Items<Survey>>> {
    let project_id = project_id(&state, &auth.scope, &project).await?;
    Ok(Json(Items {
        items: store::list_surveys(state.db.as_ref(), &auth.scope, &project_id).await?,
    }))
}

#[utoipa::path(get, path = "/v1/surveys/{id}", tag = "surveys",
    params(("id" = String, Path, pattern = "^survey_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The survey with its rooms and photos", body = Survey)))]
pub async fn get_survey(
    State(state): State<AppState>,
    auth: Authorized<ProjectRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Survey>> {
    Ok(Json(load_survey(&state, &auth.scope, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewSurveyRoom)]
pub struct RoomBody {
    #[schema(schema_with = openapi::required_text::<200>, required = true)]
    name: Option<String>,
    /// Defaults to `classroom`.
    #[schema(value_type = Option<RoomType>)]
    room_type: Option<String>,
    #[schema(schema_with = openapi::text::<50>)]
    floor: Option<String>,
    #[schema(schema_with = openapi::text::<2000>)]
    power_notes: Option<String>,
    #[schema(schema_with = openapi::text::<2000>)]
    network_notes: Option<String>,
}

fn editable(s: &Survey) -> ApiResult<()> {
    if s.status == SurveyStatus::Draft {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "survey-not-draft",
            format!("a {} survey cannot be changed", s.status),
        ))
    }
}

/// `POST /v1/surveys/{id}/rooms`: only while the survey is a draft.
#[utoipa::path(post, path = "/v1/surveys/{id}/rooms", tag = "surveys",
    params(("id" = String, Path, pattern = "^survey_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = RoomBody,
    responses((status = 201, description = "Added", body = SurveyRoom)))]
pub async fn add_room(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    Path(id): Path<String>,
    body: ApiJson<RoomBody>,
) -> ApiResult<Response> {
    let b = &body.value;
    let mut v = Validator::new();
    let name = v.check("name", required_text(b.name.as_deref(), 200));
    let room_type = v.check(
        "roomType",
        b.room_type.as_deref().unwrap_or("classroom").parse::<RoomType>(),
    );
    let floor = v
        .check("floor", optional_text(b.floor.as_deref(), 50))
        .unwrap_or_default();
    let power = v
        .check("powerNotes", optional_text(b.power_notes.as_deref(), 2000))
        .unwrap_or_default();
    let network = v
        .check("networkNotes", optional_text(b.network_notes.as_deref(), 2000))
        .unwrap_or_default();
    v.finish()?;
    let survey = load_survey(&state, &auth.scope, &id).await?;
    editable(&survey)?;
    let room = SurveyRoom {
        id: Id::new("room"),
        survey_id: survey.id.to_string(),
        name: name.unwrap_or_default(),
        room_type: room_type.unwrap_or(RoomType::Other),
        floor,
        power_notes: power,
        network_notes: network,
        created_at: essp_domain::now(),
    };
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            store::insert_room(tx, &room).await?;
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "survey", &room.survey_id),
                "add_room",
                None,
                &room,
            )
            .await?;
            Ok(room)
        })
    })
    .await?;
    Ok(created(&saved))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewSurveyPhoto)]
pub struct PhotoBody {
    /// A room of this survey; empty or absent for the site as a whole.
    #[schema(pattern = "^(room_[0-9A-HJKMNP-TV-Z]{26})?$")]
    room_id: Option<String>,
    /// An attachment uploaded to this survey.
    #[schema(value_type = String, required = true, pattern = "^att_[0-9A-HJKMNP-TV-Z]{26}$")]
    attachment_id: Option<String>,
    #[schema(schema_with = openapi::text::<500>)]
    caption: Option<String>,
}

/// Links an uploaded attachment (of this survey) as a photo, optionally of a room.
#[utoipa::path(post, path = "/v1/surveys/{id}/photos", tag = "surveys",
    params(("id" = String, Path, pattern = "^survey_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = PhotoBody,
    responses((status = 201, description = "Linked", body = SurveyPhoto)))]
pub async fn add_photo(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    Path(id): Path<String>,
    body: ApiJson<PhotoBody>,
) -> ApiResult<Response> {
    let b = &body.value;
    let mut v = Validator::new();
    let attachment = v.check(
        "attachmentId",
        required_text(b.attachment_id.as_deref(), 64).and_then(|a| Id::parse("att", &a).map_err(|e| e.to_string())),
    );
    let caption = v
        .check("caption", optional_text(b.caption.as_deref(), 500))
        .unwrap_or_default();
    v.finish()?;
    let attachment = attachment.ok_or_else(|| ApiError::Internal("validated attachment missing".into()))?;
    let survey = load_survey(&state, &auth.scope, &id).await?;
    editable(&survey)?;
    let room_id = b.room_id.clone().unwrap_or_default();
    if !room_id.is_empty() && !survey.rooms.iter().any(|r| r.id.as_str() == room_id) {
        return Err(ApiError::Unprocessable {
            code: "unknown-room",
            detail: format!("room {room_id} is not part of this survey"),
        });
    }
    let a = attachments::get(state.db.as_ref(), &auth.scope, attachment.as_str()).await?;
    if a.is_none_or(|a| a.entity_id != survey.id.as_str()) {
        return Err(ApiError::Unprocessable {
            code: "unknown-attachment",
            detail: format!("attachment {attachment} was not uploaded to this survey"),
        });
    }
    let photo = SurveyPhoto {
        id: Id::new("photo"),
        survey_id: survey.id.to_string(),
        room_id,
        attachment_id: attachment.into_string(),
        caption,
        created_at: essp_domain::now(),
    };
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            store::insert_photo(tx, &photo).await?;
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "survey", &photo.survey_id),
                "add_photo",
                None,
                &photo,
            )
            .await?;
            Ok(photo)
        })
    })
    .await?;
    Ok(created(&saved))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = SurveyStatusChange)]
pub struct StatusBody {
    #[schema(value_type = SurveyStatus, required = true)]
    status: Option<String>,
}

/// `PATCH /v1/surveys/{id}/status`: draft → submitted → approved (or back
/// to draft).
#[utoipa::path(patch, path = "/v1/surveys/{id}/status", tag = "surveys",
    params(("id" = String, Path, pattern = "^survey_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = StatusBody,
    responses((status = 200, description = "Moved", body = Survey)))]
pub async fn change_survey_status(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    Path(id): Path<String>,
    body: ApiJson<StatusBody>,
) -> ApiResult<Json<Survey>> {
    let mut v = Validator::new();
    let to = v.check(
        "status",
        required_text(body.value.status.as_deref(), 32).and_then(|s| s.parse::<SurveyStatus>()),
    );
    v.finish()?;
    let to = to.ok_or_else(|| ApiError::Internal("validated status missing".into()))?;
    let survey = load_survey(&state, &auth.scope, &id).await?;
    if !survey.status.allowed_next().contains(&to) {
        return Err(ApiError::conflict(
            "invalid-transition",
            format!("a {} survey cannot become {to}", survey.status),
        ));
    }
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let sid = survey.id.to_string();
    crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            if !store::set_survey_status(tx, &scope, &sid, survey.status, to, essp_domain::now()).await? {
                return Err(ApiError::conflict(
                    "concurrent-update",
                    "the survey changed meanwhile; reload",
                ));
            }
            let after = serde_json::json!({"status": to});
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "survey", &sid),
                "status_change",
                None,
                &after,
            )
            .await
        })
    })
    .await?;
    Ok(Json(load_survey(&state, &auth.scope, &id).await?))
}

/// A bill-of-quantities line; it starts unapproved.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewBoqItem)]
pub struct BoqBody {
    /// Defaults to `other`.
    #[schema(value_type = Option<BoqCategory>)]
    category: Option<String>,
    #[schema(schema_with = openapi::required_text::<500>, required = true)]
    description: Option<String>,
    /// The SSOT part, if the line is one; empty for none.
    #[schema(pattern = "^(part_[0-9A-HJKMNP-TV-Z]{26})?$")]
    part_id: Option<String>,
    #[serde(default, deserialize_with = "params::whole_number")]
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 1_000_000)]
    qty: Option<i64>,
    /// Defaults to `each`.
    #[schema(schema_with = openapi::text::<20>)]
    unit: Option<String>,
    /// Defaults to 0.
    #[serde(default, deserialize_with = "params::whole_number")]
    #[schema(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    estimated_cost_cents: Option<i64>,
}

#[utoipa::path(post, path = "/v1/projects/{id}/boq/items", tag = "surveys",
    params(("id" = String, Path, pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = BoqBody,
    responses((status = 201, description = "Added", body = BoqItem)))]
pub async fn add_boq_item(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    Path(project): Path<String>,
    body: ApiJson<BoqBody>,
) -> ApiResult<Response> {
    let b = &body.value;
    let mut v = Validator::new();
    let category = v.check(
        "category",
        b.category.as_deref().unwrap_or("other").parse::<BoqCategory>(),
    );
    let description = v.check("description", required_text(b.description.as_deref(), 500));
    let qty = v.check("qty", essp_domain::inventory::parse_qty(b.qty));
    let unit = v
        .check("unit", optional_text(Some(b.unit.as_deref().unwrap_or("each")), 20))
        .unwrap_or_default();
    let part_id = match b.part_id.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => v
            .check(
                "partId",
                Id::parse("part", p).map(Id::into_string).map_err(|e| e.to_string()),
            )
            .unwrap_or_default(),
        None => String::new(),
    };
    let cost = b.estimated_cost_cents.unwrap_or(0);
    if cost < 0 {
        v.push("estimatedCostCents", "must not be negative");
    }
    v.finish()?;
    let project_id = project_id(&state, &auth.scope, &project).await?;
    let now = essp_domain::now();
    let item = BoqItem {
        id: Id::new("boq"),
        tenant_id: auth.scope.tenant().to_owned(),
        school_id: auth.scope.school().to_owned(),
        project_id,
        category: category.unwrap_or(BoqCategory::Other),
        description: description.unwrap_or_default(),
        part_id,
        qty: qty.unwrap_or(1),
        unit,
        estimated_cost_cents: cost,
        // Approval is a separate, audited decision (PATCH …/approval).
        approved: false,
        created_at: now,
        updated_at: now,
    };
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            store::insert_boq(tx, &item).await?;
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "boq_item", item.id.as_str()),
                "create",
                None,
                &item,
            )
            .await?;
            Ok(item)
        })
    })
    .await?;
    Ok(created(&saved))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoqParams {
    /// Only approved (or only unapproved) lines.
    #[param(schema_with = openapi::flag)]
    approved: Option<String>,
}

#[utoipa::path(get, path = "/v1/projects/{id}/boq", tag = "surveys",
    params(("id" = String, Path, pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$"), BoqParams),
    responses((status = 200, description = "The project's bill of quantities", body = Items<BoqItem>)))]
pub async fn list_boq(
    State(state): State<AppState>,
    auth: Authorized<ProjectRead>,
    Path(project): Path<String>,
    ApiQuery(p): ApiQuery<BoqParams>,
) -> ApiResult<Json<Items<BoqItem>>> {
    let mut v = Validator::new();
    let approved = p
        .approved
        .as_deref()
        .and_then(|a| v.check("approved", a.parse::<bool>().map_err(|_| "must be true or false")));
    v.finish()?;
    let project_id = project_id(&state, &auth.scope, &project).await?;
    Ok(Json(Items {
        items: store::list_boq(state.db.as_ref(), &auth.scope, &project_id, approved).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = BoqApproval)]
pub struct ApproveBody {
    #[schema(value_type = bool, required = true)]
    approved: Option<bool>,
}

/// `PATCH /v1/projects/{id}/boq/items/{item_id}/approval`: approve a line
/// (or withdraw the approval); audited.
#[utoipa::path(patch, path = "/v1/projects/{id}/boq/items/{item_id}/approval", tag = "surveys",
    params(
        ("id" = String, Path, pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$"),
        ("item_id" = String, Path, pattern = "^boq_[0-9A-HJKMNP-TV-Z]{26}$")
    ),
    request_body = ApproveBody,
    responses((status = 200, description = "Decided", body = BoqItem)))]
pub async fn approve_boq_item(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    Path((project, item)): Path<(String, String)>,
    body: ApiJson<ApproveBody>,
) -> ApiResult<Json<BoqItem>> {
    let approved = body
        .value
        .approved
        .ok_or_else(|| ApiError::field("approved", "is required"))?;
    let project_id = project_id(&state, &auth.scope, &project).await?;
    let item_id = params::id("boq", "BOQ item", &item)?;
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let saved =
                store::set_boq_approved(tx, &scope, &project_id, item_id.as_str(), approved, essp_domain::now())
                    .await?
                    .ok_or(ApiError::NotFound("BOQ item"))?;
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "boq_item", saved.id.as_str()),
                "approval",
                None,
                &saved,
            )
            .await?;
            Ok(saved)
        })
    })
    .await?;
    Ok(Json(saved))
}
