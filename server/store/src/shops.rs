//! Service shops and staff: tenant-wide, compare-and-set saves, keyset lists.

use essp_domain::Id;
use essp_domain::shop::{CoverageLevel, ServiceShop, ServiceStaff, StaffRole};
use serde::Serialize;

use crate::cursor::{Cursor, Page, into_page};
use crate::error::Result;
use crate::executor::Executor;
use crate::query::Query;
use crate::value::{Row, Value};

const SHOP_COLUMNS: &str = "id, tenant_id, name, location, county_code, county_name, sub_county_code, \
     sub_county_name, coverage_level, active, created_at, updated_at, version";
const STAFF_COLUMNS: &str =
    "id, tenant_id, service_shop_id, user_id, role, phone, active, created_at, updated_at, version";

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn shop_values(s: &ServiceShop) -> Vec<Value> {
    vec![
        (&s.name).into(),
        (&s.location).into(),
        (&s.county_code).into(),
        (&s.county_name).into(),
        (&s.sub_county_code).into(),
        (&s.sub_county_name).into(),
        s.coverage_level.as_str().into(),
        s.active.into(),
        s.updated_at.into(),
    ]
}

pub async fn insert_shop(ex: &dyn Executor, s: &ServiceShop) -> Result<()> {
    let sql = format!(
        "INSERT INTO service_shops (id, tenant_id, name, location, county_code, county_name, sub_county_code, \
         sub_county_name, coverage_level, active, updated_at, created_at, version) VALUES ({})",
        placeholders(1, 13)
    );
    let mut params: Vec<Value> = vec![s.id.as_str().into(), (&s.tenant_id).into()];
    params.extend(shop_values(s));
    params.extend([s.created_at.into(), s.version.into()]);
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "service_shops", s.id.as_str()).await
}

pub async fn get_shop(ex: &dyn Executor, tenant: &str, id: &str) -> Result<Option<ServiceShop>> {
    let sql = format!("SELECT {SHOP_COLUMNS} FROM service_shops WHERE tenant_id = $1 AND id = $2");
    ex.fetch_optional(&sql, &[tenant.into(), id.into()])
        .await?
        .as_ref()
        .map(shop_from_row)
        .transpose()
}

pub async fn save_shop(ex: &dyn Executor, expected_version: i64, s: &ServiceShop) -> Result<Option<ServiceShop>> {
    let sql = format!(
        "UPDATE service_shops SET name = $1, location = $2, county_code = $3, county_name = $4, sub_county_code = $5, \
         sub_county_name = $6, coverage_level = $7, active = $8, updated_at = $9, version = version + 1 \
         WHERE tenant_id = $10 AND id = $11 AND version = $12 RETURNING {SHOP_COLUMNS}"
    );
    let mut params = shop_values(s);
    params.extend([(&s.tenant_id).into(), s.id.as_str().into(), expected_version.into()]);
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(shop_from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "service_shops", s.id.as_str(), saved).await
}

#[derive(Debug, Clone, Default)]
pub struct ShopFilter {
    pub county_code: Option<String>,
    pub sub_county_code: Option<String>,
    pub active: Option<bool>,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

pub async fn list_shops(ex: &dyn Executor, tenant: &str, f: &ShopFilter) -> Result<Page<ServiceShop>> {
    let mut q = Query::new(&format!("SELECT {SHOP_COLUMNS} FROM service_shops WHERE 1 = 1"));
    q.and("tenant_id = {}", tenant);
    if let Some(c) = &f.county_code {
        q.and("county_code = {}", c);
    }
    if let Some(c) = &f.sub_county_code {
        q.and("sub_county_code = {}", c);
    }
    if let Some(a) = f.active {
        q.and("active = {}", a);
    }
    q.keyset(f.cursor.as_ref(), f.limit);
    let rows = ex.fetch_all(q.sql(), q.params()).await?;
    let items = rows.iter().map(shop_from_row).collect::<Result<Vec<_>>>()?;
    Ok(into_page(items, f.limit, |s| Cursor {
        created_at: s.created_at,
        id: s.id.to_string(),
    }))
}

/// Deletes a shop that has no staff; `Ok(false)` when it was not there.
pub async fn delete_shop(ex: &dyn Executor, tenant: &str, id: &str) -> Result<bool> {
    if get_shop(ex, tenant, id).await?.is_some() {
        crate::sync::capture_delete(ex, "service_shops", id).await?;
    }
    Ok(ex
        .execute(
            "DELETE FROM service_shops WHERE tenant_id = $1 AND id = $2",
            &[tenant.into(), id.into()],
        )
        .await?
        > 0)
}

fn shop_from_row(r: &Row) -> Result<ServiceShop> {
    Ok(ServiceShop {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        name: r.text("name")?,
        location: r.text("location")?,
        county_code: r.text("county_code")?,
        county_name: r.text("county_name")?,
        sub_county_code: r.text("sub_county_code")?,
        sub_county_name: r.text("sub_county_name")?,
        coverage_level: r.parse::<CoverageLevel>("coverage_level")?,
        active: r.bool("active")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        version: r.i64("version")?,
    })
}

fn staff_values(s: &ServiceStaff) -> Vec<Value> {
    vec![
        (&s.service_shop_id).into(),
        (&s.user_id).into(),
        s.role.as_str().into(),
        (&s.phone).into(),
        s.active.into(),
        s.updated_at.into(),
    ]
}

pub async fn insert_staff(ex: &dyn Executor, s: &ServiceStaff) -> Result<()> {
    let sql = format!(
        "INSERT INTO service_staff (id, tenant_id, service_shop_id, user_id, role, phone, active, updated_at, \
         created_at, version) VALUES ({})",
        placeholders(1, 10)
    );
    let mut params: Vec<Value> = vec![s.id.as_str().into(), (&s.tenant_id).into()];
    params.extend(staff_values(s));
    params.extend([s.created_at.into(), s.version.into()]);
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "service_staff", s.id.as_str()).await
}

pub async fn get_staff(ex: &dyn Executor, tenant: &str, id: &str) -> Result<Option<ServiceStaff>> {
    let sql = format!("SELECT {STAFF_COLUMNS} FROM service_staff WHERE tenant_id = $1 AND id = $2");
    ex.fetch_optional(&sql, &[tenant.into(), id.into()])
        .await?
        .as_ref()
        .map(staff_from_row)
        .transpose()
}

pub async fn save_staff(ex: &dyn Executor, expected_version: i64, s: &ServiceStaff) -> Result<Option<ServiceStaff>> {
    let sql = format!(
        "UPDATE service_staff SET service_shop_id = $1, user_id = $2, role = $3, phone = $4, active = $5, \
         updated_at = $6, version = version + 1 WHERE tenant_id = $7 AND id = $8 AND version = $9 \
         RETURNING {STAFF_COLUMNS}"
    );
    let mut params = staff_values(s);
    params.extend([(&s.tenant_id).into(), s.id.as_str().into(), expected_version.into()]);
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(staff_from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "service_staff", s.id.as_str(), saved).await
}

pub async fn delete_staff(ex: &dyn Executor, tenant: &str, id: &str) -> Result<bool> {
    if get_staff(ex, tenant, id).await?.is_some() {
        crate::sync::capture_delete(ex, "service_staff", id).await?;
    }
    Ok(ex
        .execute(
            "DELETE FROM service_staff WHERE tenant_id = $1 AND id = $2",
            &[tenant.into(), id.into()],
        )
        .await?
        > 0)
}

pub async fn staff_count_in_shop(ex: &dyn Executor, tenant: &str, shop_id: &str) -> Result<i64> {
    ex.count(
        "SELECT COUNT(*) AS n FROM service_staff WHERE tenant_id = $1 AND service_shop_id = $2",
        &[tenant.into(), shop_id.into()],
    )
    .await
}

#[derive(Debug, Clone, Default)]
pub struct StaffFilter {
    pub service_shop_id: Option<String>,
    pub role: Option<StaffRole>,
    pub active: Option<bool>,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

pub async fn list_staff(ex: &dyn Executor, tenant: &str, f: &StaffFilter) -> Result<Page<ServiceStaff>> {
    let mut q = Query::new(&format!("SELECT {STAFF_COLUMNS} FROM service_staff WHERE 1 = 1"));
    q.and("tenant_id = {}", tenant);
    if let Some(s) = &f.service_shop_id {
        q.and("service_shop_id = {}", s);
    }
    if let Some(r) = f.role {
        q.and("role = {}", r.as_str());
    }
    if let Some(a) = f.active {
        q.and("active = {}", a);
    }
    q.keyset(f.cursor.as_ref(), f.limit);
    let rows = ex.fetch_all(q.sql(), q.params()).await?;
    let items = rows.iter().map(staff_from_row).collect::<Result<Vec<_>>>()?;
    Ok(into_page(items, f.limit, |s| Cursor {
        created_at: s.created_at,
        id: s.id.to_string(),
    }))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaffStats {
    pub total: i64,
    pub active: i64,
    pub by_role: std::collections::BTreeMap<String, i64>,
}

pub async fn staff_stats(ex: &dyn Executor, tenant: &str) -> Result<StaffStats> {
    let rows = ex
        .fetch_all(
            "SELECT role, active, COUNT(*) AS n FROM service_staff WHERE tenant_id = $1 GROUP BY role, active",
            &[tenant.into()],
        )
        .await?;
    let mut stats = StaffStats {
        total: 0,
        active: 0,
        by_role: Default::default(),
    };
    for r in rows {
        let n = r.i64("n")?;
        stats.total += n;
        if r.bool("active")? {
            stats.active += n;
            *stats.by_role.entry(r.text("role")?).or_default() += n;
        }
    }
    Ok(stats)
}

fn staff_from_row(r: &Row) -> Result<ServiceStaff> {
    Ok(ServiceStaff {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        service_shop_id: r.text("service_shop_id")?,
        user_id: r.text("user_id")?,
        role: r.parse::<StaffRole>("role")?,
        phone: r.text("phone")?,
        active: r.bool("active")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        version: r.i64("version")?,
    })
}

/// Where auto-routing sends a school's repair: an active shop covering the
/// school's sub-county, else one in its county (county-wide coverage
/// first, then the oldest); and that shop's oldest active lead technician.
/// Returns (shop id, Some((staff id, user id))) or None when nothing covers it.
pub async fn route(
    ex: &dyn Executor,
    tenant: &str,
    county_code: &str,
    sub_county_code: &str,
) -> Result<Option<(String, Option<(String, String)>)>> {
    let mut shop = None;
    if !sub_county_code.is_empty() {
        shop = ex
            .fetch_optional(
                "SELECT id FROM service_shops WHERE tenant_id = $1 AND active = $2 AND county_code = $3 \
                 AND sub_county_code = $4 AND coverage_level = 'sub_county' ORDER BY created_at, id LIMIT 1",
                &[tenant.into(), true.into(), county_code.into(), sub_county_code.into()],
            )
            .await?;
    }
    if shop.is_none() {
        shop = ex
            .fetch_optional(
                "SELECT id FROM service_shops WHERE tenant_id = $1 AND active = $2 AND county_code = $3 \
                 ORDER BY CASE WHEN coverage_level = 'county' THEN 0 ELSE 1 END, created_at, id LIMIT 1",
                &[tenant.into(), true.into(), county_code.into()],
            )
            .await?;
    }
    let Some(shop) = shop else { return Ok(None) };
    let shop_id = shop.text("id")?;
    let lead = ex
        .fetch_optional(
            "SELECT id, user_id FROM service_staff WHERE tenant_id = $1 AND service_shop_id = $2 \
             AND role = 'lead_technician' AND active = $3 ORDER BY created_at, id LIMIT 1",
            &[tenant.into(), shop_id.as_str().into(), true.into()],
        )
        .await?
        .map(|r| Ok::<_, crate::StoreError>((r.text("id")?, r.text("user_id")?)))
        .transpose()?;
    Ok(Some((shop_id, lead)))
}
