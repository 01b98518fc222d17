//! Rollout projects (`/v1/projects`), their phases and checklists, and the
//! gate that keeps a phase from being done while work is outstanding.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use essp_domain::error::{Validator, optional_text, required_text};
use essp_domain::project::{
    ChecklistItem, ChecklistTemplate, OwnerRole, Phase, PhaseStatus, PhaseType, Project, ProjectType,
};
use essp_domain::{Id, Scope};
use essp_store::projects as store;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::permissions::{ProjectRead, ProjectUpdate};
use crate::auth::{Authorized, TenantAuthorized};
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi::{self, Items};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create_project,
        list_projects,
        get_project,
        create_phase,
        list_phases,
        change_phase_status,
        checklist,
        tick_item,
        create_template,
        list_templates
    ),
    tags((name = "projects", description = "Rollout projects at a school, their phases, checklists and the phase gate."))
)]
pub struct Doc;

/// A project to start at the caller's school; it begins at the first phase
/// of its type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewProject)]
pub struct ProjectBody {
    /// Defaults to `full_installation`.
    #[schema(value_type = Option<ProjectType>)]
    project_type: Option<String>,
    #[schema(schema_with = openapi::text::<5000>)]
    notes: Option<String>,
}

/// `POST /v1/projects`: start a project at the caller's school.
#[utoipa::path(post, path = "/v1/projects", tag = "projects",
    request_body = ProjectBody,
    responses((status = 201, description = "Started", body = Project)))]
pub async fn create_project(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    body: ApiJson<ProjectBody>,
) -> ApiResult<Response> {
    let mut v = Validator::new();
    let kind = v.check(
        "projectType",
        body.value
            .project_type
            .as_deref()
            .unwrap_or("full_installation")
            .parse::<ProjectType>(),
    );
    let notes = v
        .check("notes", optional_text(body.value.notes.as_deref(), 5000))
        .unwrap_or_default();
    v.finish()?;
    let kind = kind.ok_or_else(|| ApiError::Internal("validated type missing".into()))?;
    let now = essp_domain::now();
    let scope = auth.scope.clone();
    let project = Project {
        id: Id::new("proj"),
        tenant_id: scope.tenant().to_owned(),
        school_id: scope.school().to_owned(),
        project_type: kind,
        status: "active".into(),
        current_phase: kind.phases().first().copied().unwrap_or(PhaseType::Demo),
        notes,
        created_by: auth.actor.subject.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let actor = auth.actor.clone();
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            store::insert_project(tx, &project).await?;
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "project", project.id.as_str()),
                "create",
                None,
                &project,
            )
            .await?;
            Ok(project)
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

async fn load_project(state: &AppState, scope: &Scope, raw: &str) -> ApiResult<Project> {
    let id = params::id("proj", "project", raw)?;
    store::get_project(state.db.as_ref(), scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("project"))
}

#[utoipa::path(get, path = "/v1/projects/{id}", tag = "projects",
    params(("id" = String, Path, pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The project", body = Project)))]
pub async fn get_project(
    State(state): State<AppState>,
    auth: Authorized<ProjectRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Project>> {
    Ok(Json(load_project(&state, &auth.scope, &id).await?))
}

/// `GET /v1/projects`: the projects of the caller's school (or schools).
#[utoipa::path(get, path = "/v1/projects", tag = "projects",
    responses((status = 200, description = "Every project in scope", body = Items<Project>)))]
pub async fn list_projects(
    State(state): State<AppState>,
    auth: Authorized<ProjectRead>,
) -> ApiResult<Json<Items<Project>>> {
    Ok(Json(Items {
        items: store::list_projects(state.db.as_ref(), &auth.scope).await?,
    }))
}

/// A phase to add; its type must be one the project's type goes through.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewPhase)]
pub struct PhaseBody {
    #[schema(value_type = PhaseType, required = true)]
    phase_type: Option<String>,
    /// Defaults to `engineer`.
    #[schema(value_type = Option<OwnerRole>)]
    owner_role: Option<String>,
    #[schema(schema_with = openapi::text::<5000>)]
    notes: Option<String>,
}

/// Adds a phase of the project's type, with its checklist items copied
/// from the tenant's templates for that phase type.
#[utoipa::path(post, path = "/v1/projects/{id}/phases", tag = "projects",
    params(("id" = String, Path, pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = PhaseBody,
    responses((status = 201, description = "Added", body = Phase)))]
pub async fn create_phase(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    Path(id): Path<String>,
    body: ApiJson<PhaseBody>,
) -> ApiResult<Response> {
    let b = &body.value;
    let mut v = Validator::new();
    let kind = v.check(
        "phaseType",
        required_text(b.phase_type.as_deref(), 32).and_then(|p| p.parse::<PhaseType>()),
    );
    let owner = v.check(
        "ownerRole",
        b.owner_role.as_deref().unwrap_or("engineer").parse::<OwnerRole>(),
    );
    let notes = v
        .check("notes", optional_text(b.notes.as_deref(), 5000))
        .unwrap_or_default();
    v.finish()?;
    let (Some(kind), Some(owner)) = (kind, owner) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let project = load_project(&state, &auth.scope, &id).await?;
    if !project.project_type.phases().contains(&kind) {
        return Err(ApiError::Unprocessable {
            code: "phase-not-in-project",
            detail: format!("a {} project has no {kind} phase", project.project_type),
        });
    }
    let templates = store::list_templates(state.db.as_ref(), auth.scope.tenant(), Some(kind)).await?;
    let now = essp_domain::now();
    let phase = Phase {
        id: Id::new("phase"),
        tenant_id: project.tenant_id.clone(),
        school_id: project.school_id.clone(),
        project_id: project.id.to_string(),
        phase_type: kind,
        status: PhaseStatus::Pending,
        owner_role: owner,
        notes,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            store::insert_phase(tx, &phase).await?;
            for t in &templates {
                let item = ChecklistItem {
                    id: Id::new("cki"),
                    tenant_id: phase.tenant_id.clone(),
                    phase_id: phase.id.to_string(),
                    title: t.title.clone(),
                    required: t.required,
                    done: false,
                    done_by: String::new(),
                    done_at: None,
                    created_at: now,
                };
                store::insert_item(tx, &item).await?;
            }
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "phase", phase.id.as_str()),
                "create",
                None,
                &phase,
            )
            .await?;
            Ok(phase)
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

#[utoipa::path(get, path = "/v1/projects/{id}/phases", tag = "projects",
    params(("id" = String, Path, pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The project's phases", body = Items<Phase>)))]
pub async fn list_phases(
    State(state): State<AppState>,
    auth: Authorized<ProjectRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Items<Phase>>> {
    let project = load_project(&state, &auth.scope, &id).await?;
    Ok(Json(Items {
        items: store::list_phases(state.db.as_ref(), &auth.scope, project.id.as_str()).await?,
    }))
}

async fn load_phase(state: &AppState, scope: &Scope, raw: &str) -> ApiResult<Phase> {
    let id = params::id("phase", "phase", raw)?;
    store::get_phase(state.db.as_ref(), scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("phase"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PhaseStatusChange)]
pub struct StatusBody {
    #[schema(value_type = PhaseStatus, required = true)]
    status: Option<String>,
}

/// Moves a phase; `done` only through the gate: every work order of the
/// phase completed or approved with its sign-off settled, every deliverable
/// approved and every required checklist item done — otherwise 409 naming
/// what blocks. A done phase advances the project to its next phase.
#[utoipa::path(patch, path = "/v1/phases/{id}/status", tag = "projects",
    params(("id" = String, Path, pattern = "^phase_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = StatusBody,
    responses((status = 200, description = "Moved", body = Phase)))]
pub async fn change_phase_status(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    Path(id): Path<String>,
    body: ApiJson<StatusBody>,
) -> ApiResult<Json<Phase>> {
    let mut v = Validator::new();
    let to = v.check(
        "status",
        required_text(body.value.status.as_deref(), 32).and_then(|s| s.parse::<PhaseStatus>()),
    );
    v.finish()?;
    let to = to.ok_or_else(|| ApiError::Internal("validated status missing".into()))?;
    let phase = load_phase(&state, &auth.scope, &id).await?;
    if !phase.status.allowed_next().contains(&to) {
        return Err(ApiError::conflict(
            "invalid-transition",
            format!("a {} phase cannot become {to}", phase.status),
        ));
    }
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            if to == PhaseStatus::Done {
                let blockers = store::gate_counts(tx, &scope, phase.id.as_str()).await?.blockers();
                if !blockers.is_empty() {
                    return Err(ApiError::conflict(
                        "phase-gate",
                        format!("phase blocked: {}", blockers.join("; ")),
                    ));
                }
            }
            let now = essp_domain::now();
            let saved = store::set_phase_status(tx, &scope, &phase, to, now)
                .await?
                .ok_or_else(|| ApiError::conflict("concurrent-update", "the phase changed meanwhile; reload"))?;
            if to == PhaseStatus::Done
                && let Some(project) = store::get_project(tx, &scope, &saved.project_id).await?
            {
                let order = project.project_type.phases();
                let next = order
                    .iter()
                    .position(|p| *p == saved.phase_type)
                    .and_then(|i| order.get(i + 1));
                if let Some(next) = next {
                    store::set_current_phase(tx, &scope, &saved.project_id, *next, now).await?;
                }
            }
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "phase", saved.id.as_str()),
                "status_change",
                Some(&phase),
                &saved,
            )
            .await?;
            Ok(saved)
        })
    })
    .await?;
    Ok(Json(saved))
}

#[utoipa::path(get, path = "/v1/phases/{id}/checklist", tag = "projects",
    params(("id" = String, Path, pattern = "^phase_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The phase's checklist", body = Items<ChecklistItem>)))]
pub async fn checklist(
    State(state): State<AppState>,
    auth: Authorized<ProjectRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Items<ChecklistItem>>> {
    let phase = load_phase(&state, &auth.scope, &id).await?;
    Ok(Json(Items {
        items: store::list_items(state.db.as_ref(), auth.scope.tenant(), phase.id.as_str()).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ChecklistTick)]
pub struct ItemBody {
    #[schema(value_type = bool, required = true)]
    done: Option<bool>,
}

/// `PATCH /v1/phases/{id}/checklist/{item_id}`: tick (or untick) an item.
#[utoipa::path(patch, path = "/v1/phases/{id}/checklist/{item_id}", tag = "projects",
    params(
        ("id" = String, Path, pattern = "^phase_[0-9A-HJKMNP-TV-Z]{26}$"),
        ("item_id" = String, Path, pattern = "^cki_[0-9A-HJKMNP-TV-Z]{26}$")
    ),
    request_body = ItemBody,
    responses((status = 200, description = "Changed", body = ChecklistItem)))]
pub async fn tick_item(
    State(state): State<AppState>,
    auth: Authorized<ProjectUpdate>,
    Path((phase_raw, item_raw)): Path<(String, String)>,
    body: ApiJson<ItemBody>,
) -> ApiResult<Json<ChecklistItem>> {
    let done = body.value.done.ok_or_else(|| ApiError::field("done", "is required"))?;
    let phase = load_phase(&state, &auth.scope, &phase_raw).await?;
    let item_id = params::id("cki", "checklist item", &item_raw)?;
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let saved = store::set_item_done(
                tx,
                scope.tenant(),
                phase.id.as_str(),
                item_id.as_str(),
                done,
                &actor.subject,
                essp_domain::now(),
            )
            .await?
            .ok_or(ApiError::NotFound("checklist item"))?;
            recording::record_now(
                tx,
                &actor,
                Subject::in_scope(&scope, "checklist_item", saved.id.as_str()),
                "update",
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

/// A checklist item every new phase of this type starts with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewChecklistTemplate)]
pub struct TemplateBody {
    #[schema(value_type = PhaseType, required = true)]
    phase_type: Option<String>,
    #[schema(schema_with = openapi::required_text::<200>, required = true)]
    title: Option<String>,
    /// Whether the phase gate waits for it; defaults to `true`.
    required: Option<bool>,
}

/// `POST /v1/checklist-templates`: for the whole tenant.
#[utoipa::path(post, path = "/v1/checklist-templates", tag = "projects",
    request_body = TemplateBody,
    responses((status = 201, description = "Added", body = ChecklistTemplate)))]
pub async fn create_template(
    State(state): State<AppState>,
    auth: TenantAuthorized<ProjectUpdate>,
    body: ApiJson<TemplateBody>,
) -> ApiResult<Response> {
    let b = &body.value;
    let mut v = Validator::new();
    let kind = v.check(
        "phaseType",
        required_text(b.phase_type.as_deref(), 32).and_then(|p| p.parse::<PhaseType>()),
    );
    let title = v.check("title", required_text(b.title.as_deref(), 200));
    v.finish()?;
    let (Some(kind), Some(title)) = (kind, title) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let t = ChecklistTemplate {
        id: Id::new("ckt"),
        tenant_id: auth.tenant.clone(),
        phase_type: kind,
        title,
        required: b.required.unwrap_or(true),
        created_at: essp_domain::now(),
    };
    let actor = auth.actor.clone();
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            store::insert_template(tx, &t).await?;
            recording::record_now(
                tx,
                &actor,
                Subject {
                    tenant: &t.tenant_id,
                    school: "",
                    entity_type: "checklist_template",
                    entity_id: t.id.as_str(),
                },
                "create",
                None,
                &t,
            )
            .await?;
            Ok(t)
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TemplateParams {
    #[param(value_type = Option<PhaseType>)]
    phase_type: Option<String>,
}

#[utoipa::path(get, path = "/v1/checklist-templates", tag = "projects", params(TemplateParams),
    responses((status = 200, description = "The tenant's templates", body = Items<ChecklistTemplate>)))]
pub async fn list_templates(
    State(state): State<AppState>,
    auth: TenantAuthorized<ProjectRead>,
    ApiQuery(p): ApiQuery<TemplateParams>,
) -> ApiResult<Json<Items<ChecklistTemplate>>> {
    let mut v = Validator::new();
    let kind = p
        .phase_type
        .as_deref()
        .and_then(|k| v.check("phaseType", k.parse::<PhaseType>()));
    v.finish()?;
    Ok(Json(Items {
        items: store::list_templates(state.db.as_ref(), &auth.tenant, kind).await?,
    }))
}
