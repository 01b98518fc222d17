//! Site surveys (with rooms and photos) and bill-of-quantities lines.

use chrono::{DateTime, Utc};
use essp_domain::project::{BoqItem, Survey, SurveyPhoto, SurveyRoom, SurveyStatus};
use essp_domain::{Id, Scope};

use crate::error::Result;
use crate::executor::Executor;
use crate::value::{Row, Value};

const SURVEY_COLUMNS: &str =
    "id, tenant_id, school_id, project_id, status, conducted_by, summary, risks, created_at, updated_at";
const BOQ_COLUMNS: &str = "id, tenant_id, school_id, project_id, category, description, part_id, qty, unit, \
     estimated_cost_cents, approved, created_at, updated_at";

fn survey_from_row(r: &Row) -> Result<Survey> {
    Ok(Survey {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        project_id: r.text("project_id")?,
        status: r.parse("status")?,
        conducted_by: r.text("conducted_by")?,
        summary: r.text("summary")?,
        risks: r.text("risks")?,
        rooms: Vec::new(),
        photos: Vec::new(),
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
    })
}

pub async fn insert_survey(ex: &dyn Executor, s: &Survey) -> Result<()> {
    let sql = format!("INSERT INTO site_surveys ({SURVEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    let params: Vec<Value> = vec![
        s.id.as_str().into(),
        (&s.tenant_id).into(),
        (&s.school_id).into(),
        (&s.project_id).into(),
        s.status.as_str().into(),
        (&s.conducted_by).into(),
        (&s.summary).into(),
        (&s.risks).into(),
        s.created_at.into(),
        s.updated_at.into(),
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "site_surveys", s.id.as_str()).await
}

/// A survey with its rooms and photos.
pub async fn get_survey(ex: &dyn Executor, scope: &Scope, id: &str) -> Result<Option<Survey>> {
    let sql = format!("SELECT {SURVEY_COLUMNS} FROM site_surveys WHERE tenant_id = $1 AND school_id = $2 AND id = $3");
    let Some(mut survey) = ex
        .fetch_optional(&sql, &[scope.tenant().into(), scope.school().into(), id.into()])
        .await?
        .as_ref()
        .map(survey_from_row)
        .transpose()?
    else {
        return Ok(None);
    };
    let rooms = ex
        .fetch_all(
            "SELECT id, survey_id, name, room_type, floor, power_notes, network_notes, created_at FROM survey_rooms \
             WHERE survey_id = $1 ORDER BY created_at, id",
            &[id.into()],
        )
        .await?;
    survey.rooms = rooms
        .iter()
        .map(|r| {
            Ok(SurveyRoom {
                id: Id::from_trusted(r.text("id")?),
                survey_id: r.text("survey_id")?,
                name: r.text("name")?,
                room_type: r.parse("room_type")?,
                floor: r.text("floor")?,
                power_notes: r.text("power_notes")?,
                network_notes: r.text("network_notes")?,
                created_at: r.timestamp("created_at")?,
            })
        })
        .collect::<Result<_>>()?;
    let photos = ex
        .fetch_all(
            "SELECT id, survey_id, room_id, attachment_id, caption, created_at FROM survey_photos \
             WHERE survey_id = $1 ORDER BY created_at, id",
            &[id.into()],
        )
        .await?;
    survey.photos = photos
        .iter()
        .map(|r| {
            Ok(SurveyPhoto {
                id: Id::from_trusted(r.text("id")?),
                survey_id: r.text("survey_id")?,
                room_id: r.text("room_id")?,
                attachment_id: r.text("attachment_id")?,
                caption: r.text("caption")?,
                created_at: r.timestamp("created_at")?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Some(survey))
}

pub async fn list_surveys(ex: &dyn Executor, scope: &Scope, project_id: &str) -> Result<Vec<Survey>> {
    let sql = format!(
        "SELECT {SURVEY_COLUMNS} FROM site_surveys WHERE tenant_id = $1 AND school_id = $2 AND project_id = $3 \
         ORDER BY created_at DESC, id DESC"
    );
    ex.fetch_all(&sql, &[scope.tenant().into(), scope.school().into(), project_id.into()])
        .await?
        .iter()
        .map(survey_from_row)
        .collect()
}

/// Compare-and-set on the current status.
pub async fn set_survey_status(
    ex: &dyn Executor,
    scope: &Scope,
    id: &str,
    from: SurveyStatus,
    to: SurveyStatus,
    now: DateTime<Utc>,
) -> Result<bool> {
    let saved = ex
        .execute(
            "UPDATE site_surveys SET status = $1, updated_at = $2 WHERE tenant_id = $3 AND school_id = $4 AND id = $5 AND status = $6",
            &[to.as_str().into(), now.into(), scope.tenant().into(), scope.school().into(), id.into(), from.as_str().into()],
        )
        .await?
        > 0;
    Ok(crate::sync::capture_saved(ex, "site_surveys", id, saved.then_some(()))
        .await?
        .is_some())
}

pub async fn insert_room(ex: &dyn Executor, r: &SurveyRoom) -> Result<()> {
    ex.execute(
        // A room belongs to its survey's tenant and school (it replicates there).
        "INSERT INTO survey_rooms (id, survey_id, name, room_type, floor, power_notes, network_notes, created_at, \
         tenant_id, school_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
         (SELECT tenant_id FROM site_surveys WHERE id = $2), (SELECT school_id FROM site_surveys WHERE id = $2))",
        &[
            r.id.as_str().into(),
            (&r.survey_id).into(),
            (&r.name).into(),
            r.room_type.as_str().into(),
            (&r.floor).into(),
            (&r.power_notes).into(),
            (&r.network_notes).into(),
            r.created_at.into(),
        ],
    )
    .await?;
    crate::sync::capture(ex, "survey_rooms", r.id.as_str()).await
}

pub async fn insert_photo(ex: &dyn Executor, p: &SurveyPhoto) -> Result<()> {
    ex.execute(
        // A photo belongs to its survey's tenant and school (it replicates there).
        "INSERT INTO survey_photos (id, survey_id, room_id, attachment_id, caption, created_at, tenant_id, school_id) \
         VALUES ($1, $2, $3, $4, $5, $6, \
         (SELECT tenant_id FROM site_surveys WHERE id = $2), (SELECT school_id FROM site_surveys WHERE id = $2))",
        &[
            p.id.as_str().into(),
            (&p.survey_id).into(),
            (&p.room_id).into(),
            (&p.attachment_id).into(),
            (&p.caption).into(),
            p.created_at.into(),
        ],
    )
    .await?;
    crate::sync::capture(ex, "survey_photos", p.id.as_str()).await
}

fn boq_from_row(r: &Row) -> Result<BoqItem> {
    Ok(BoqItem {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        project_id: r.text("project_id")?,
        category: r.parse("category")?,
        description: r.text("description")?,
        part_id: r.text("part_id")?,
        qty: r.i64("qty")?,
        unit: r.text("unit")?,
        estimated_cost_cents: r.i64("estimated_cost_cents")?,
        approved: r.bool("approved")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
    })
}

pub async fn insert_boq(ex: &dyn Executor, b: &BoqItem) -> Result<()> {
    let sql = format!(
        "INSERT INTO boq_items ({BOQ_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    let params: Vec<Value> = vec![
        b.id.as_str().into(),
        (&b.tenant_id).into(),
        (&b.school_id).into(),
        (&b.project_id).into(),
        b.category.as_str().into(),
        (&b.description).into(),
        (&b.part_id).into(),
        b.qty.into(),
        (&b.unit).into(),
        b.estimated_cost_cents.into(),
        b.approved.into(),
        b.created_at.into(),
        b.updated_at.into(),
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "boq_items", b.id.as_str()).await
}

pub async fn list_boq(
    ex: &dyn Executor,
    scope: &Scope,
    project_id: &str,
    approved: Option<bool>,
) -> Result<Vec<BoqItem>> {
    let mut params: Vec<Value> = vec![scope.tenant().into(), scope.school().into(), project_id.into()];
    let filter = match approved {
        Some(a) => {
            params.push(a.into());
            " AND approved = $4"
        }
        None => "",
    };
    let sql = format!(
        "SELECT {BOQ_COLUMNS} FROM boq_items WHERE tenant_id = $1 AND school_id = $2 AND project_id = $3{filter} \
         ORDER BY created_at, id"
    );
    ex.fetch_all(&sql, &params).await?.iter().map(boq_from_row).collect()
}

pub async fn set_boq_approved(
    ex: &dyn Executor,
    scope: &Scope,
    project_id: &str,
    id: &str,
    approved: bool,
    now: DateTime<Utc>,
) -> Result<Option<BoqItem>> {
    let sql = format!(
        "UPDATE boq_items SET approved = $1, updated_at = $2 WHERE tenant_id = $3 AND school_id = $4 AND project_id = $5 \
         AND id = $6 RETURNING {BOQ_COLUMNS}"
    );
    let saved = ex
        .fetch_optional(
            &sql,
            &[
                approved.into(),
                now.into(),
                scope.tenant().into(),
                scope.school().into(),
                project_id.into(),
                id.into(),
            ],
        )
        .await?
        .as_ref()
        .map(boq_from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "boq_items", id, saved).await
}
