//! The IMS half of the demo tenant, written through the HTTP handlers
//! (validation, audit, auto-routing and all): a repair shop per county
//! (a second one covering the county town's sub-county in the populous
//! counties) with a lead technician, an assistant and a storekeeper;
//! stock of the parts the repairs will use plus the common ones, with
//! reorder thresholds; incidents for 10-15 % of the devices with the
//! programme's severity mix, each auto-routed to its shop, and a share of
//! the work orders taken through repair, parts, completion and approval.
//!
//! Everything is planned from the seed first and then sent, eight
//! requests at a time: each incident's steps run in order, incidents are
//! independent, and stock is planned to cover every reservation, so the
//! result does not depend on the order the requests finish in.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::http::Method;
use essp_store::Database;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use super::data::{self, Catalogue, Dice, Geography, MODELS, salt};
use super::{Client, Params, TENANT};

/// Requests in flight at once.
const CONCURRENCY: usize = 8;
/// Incidents whose device ids are looked up together.
const BATCH: usize = 2000;

/// How far an incident's repair has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Routed and assigned to the shop's lead; nobody looked yet.
    Assigned,
    /// The school's report was acknowledged.
    Acknowledged,
    /// On the bench (parts reserved when the fault needs one).
    InRepair,
    /// Repaired (parts consumed), waiting for approval.
    Completed,
    /// Approved: the incident is resolved.
    Approved,
    /// Resolved and closed.
    Closed,
}

const STAGES: [(Stage, u32); 6] = [
    (Stage::Assigned, 25),
    (Stage::Acknowledged, 10),
    (Stage::InRepair, 20),
    (Stage::Completed, 10),
    (Stage::Approved, 20),
    (Stage::Closed, 15),
];

const SEVERITIES: [(&str, u32); 4] = [("low", 40), ("medium", 35), ("high", 20), ("critical", 5)];

struct Planned {
    school: u32,
    serial: String,
    title: &'static str,
    category: &'static str,
    severity: &'static str,
    stage: Stage,
    /// The catalogue part the repair uses.
    part: Option<u16>,
    shop: u16,
}

/// A shop to create and where it sits.
struct ShopPlan {
    county: usize,
    sub_county: Option<usize>,
}

fn shops(geo: &Geography) -> Vec<ShopPlan> {
    let mut out: Vec<ShopPlan> = (0..geo.counties.len())
        .map(|county| ShopPlan {
            county,
            sub_county: None,
        })
        .collect();
    for (county, c) in geo.counties.iter().enumerate() {
        if c.population >= data::SECOND_SHOP_FROM {
            out.push(ShopPlan {
                county,
                sub_county: Some(0),
            });
        }
    }
    out
}

/// The shop auto-routing will pick: the sub-county shop when the school's
/// sub-county has one, else the county shop.
fn shop_for(plans: &[ShopPlan], county: usize, sub_county: usize) -> usize {
    plans
        .iter()
        .position(|p| p.county == county && p.sub_county == Some(sub_county))
        .unwrap_or(county)
}

fn plan(p: &Params, geo: &Geography, cat: &Catalogue, shop_plans: &[ShopPlan]) -> Vec<Planned> {
    let weights = data::model_weights();
    let per_school = p.devices_per_school;
    let mut out = Vec::new();
    for s in 0..p.schools {
        let school = data::school(geo, p.seed, s);
        let shop = shop_for(shop_plans, school.county, school.sub_county) as u16;
        let mut d = Dice::new(p.seed, salt::INCIDENTS, s);
        // 10-15 % of the school's devices report a fault this year.
        let count = p
            .incidents_per_school
            .unwrap_or_else(|| (per_school * (100 + d.below(51)) + 500) / 1000);
        let mut slots: Vec<u64> = (0..per_school).collect();
        for k in 0..count {
            let n = if k < per_school {
                let j = k + d.below(per_school - k);
                slots.swap(k as usize, j as usize);
                slots[k as usize]
            } else {
                d.below(per_school.max(1))
            };
            let device = data::device(p.seed, &weights, &school.code, s * per_school + n, n);
            let kind = MODELS[device.model].kind;
            let (title, category, part_category) = *d.pick(kind.faults());
            let severity = SEVERITIES[d.weighted(&SEVERITIES.map(|s| s.1))].0;
            let stage = STAGES[d.weighted(&STAGES.map(|s| s.1))].0;
            let part = part_category
                .filter(|_| stage >= Stage::InRepair)
                .and_then(|c| cat.model_part(device.model, c))
                .map(|i| i as u16);
            out.push(Planned {
                school: s as u32,
                serial: device.serial,
                title,
                category,
                severity,
                stage,
                part,
                shop,
            });
        }
    }
    out
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub shops: u64,
    pub staff: u64,
    pub stock_items: u64,
    pub incidents: u64,
    /// Incidents that came back with the school's and county's names.
    pub enriched: u64,
    pub routed: u64,
    pub in_repair: u64,
    pub bom_lines: u64,
    pub consumed: u64,
    pub completed: u64,
    pub approved: u64,
    pub closed: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.incidents += o.incidents;
        self.enriched += o.enriched;
        self.routed += o.routed;
        self.in_repair += o.in_repair;
        self.bom_lines += o.bom_lines;
        self.consumed += o.consumed;
        self.completed += o.completed;
        self.approved += o.approved;
        self.closed += o.closed;
    }
}

fn id_of(v: &Value) -> Result<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {v}"))
}

/// Live SSOT ids by natural key (one-column keys).
async fn ids(db: &dyn Database, kind: &str, keys: impl Iterator<Item = String>) -> Result<HashMap<String, String>> {
    let kind = essp_domain::ssot::kind(kind).with_context(|| format!("no SSOT kind {kind}"))?;
    let keys: Vec<Vec<String>> = keys.map(|k| vec![k]).collect();
    let found = essp_store::ssot::ids_by_key(db, TENANT, kind, &keys).await?;
    Ok(found
        .into_iter()
        .filter_map(|(mut k, id)| k.pop().map(|k| (k, id)))
        .collect())
}

pub async fn seed(
    db: &Arc<dyn Database>,
    client: &Client,
    p: &Params,
    geo: &Geography,
    cat: &Catalogue,
) -> Result<Counts> {
    let mut counts = Counts::default();
    let shop_plans = shops(geo);

    // Shops, then their staff (one lead each, so creation order does not
    // change routing); results are kept in plan order.
    let bodies: Vec<Value> = shop_plans
        .iter()
        .map(|sp| {
            let c = &geo.counties[sp.county];
            match sp.sub_county {
                None => json!({
                    "name": format!("{} County ICT Repair Centre", c.name),
                    "countyCode": c.code, "countyName": c.name,
                    "location": format!("{} County headquarters", c.name),
                    "coverageLevel": "county",
                }),
                Some(sc) => {
                    let sub = &c.sub_counties[sc];
                    json!({
                        "name": format!("{} Repair Hub", sub.name),
                        "countyCode": c.code, "countyName": c.name,
                        "subCountyCode": sub.code, "subCountyName": sub.name,
                        "location": format!("{} sub-county office", sub.name),
                        "coverageLevel": "sub_county",
                    })
                }
            }
        })
        .collect();
    let shop_ids: Vec<String> = futures::stream::iter(bodies)
        .map(|body| async move { id_of(&client.send(Method::POST, "/v1/service-shops", None, body).await?) })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    counts.shops = shop_ids.len() as u64;
    let mut staff = Vec::new();
    for (i, (sp, shop)) in shop_plans.iter().zip(&shop_ids).enumerate() {
        let code = &geo.counties[sp.county].code;
        let mut d = Dice::new(p.seed, salt::STAFF, i as u64);
        for (n, role) in ["lead_technician", "assistant_technician", "storekeeper"]
            .iter()
            .enumerate()
        {
            staff.push(json!({"serviceShopId": shop, "userId": format!("tech-{code}-{}-{n}", i + 1), "role": role, "phone": data::phone(&mut d)}));
        }
    }
    counts.staff = futures::stream::iter(staff)
        .map(|body| async move { client.send(Method::POST, "/v1/service-staff", None, body).await })
        .buffer_unordered(CONCURRENCY)
        .try_fold(0u64, |n, _| async move { Ok(n + 1) })
        .await?;

    let planned = plan(p, geo, cat, &shop_plans);

    // Stock: what the planned repairs reserve, plus the common parts of
    // the most used models, with a margin; some end up below their
    // reorder threshold once the repairs consume theirs.
    let mut stock: BTreeMap<(u16, u16), i64> = BTreeMap::new();
    let mut common = Vec::new();
    let mut by_weight: Vec<usize> = (0..MODELS.len()).collect();
    by_weight.sort_by_key(|m| std::cmp::Reverse(MODELS[*m].weight));
    for m in by_weight.iter().take(2) {
        for c in ["screen", "battery", "charger"] {
            common.extend(cat.model_part(*m, c).map(|i| i as u16));
        }
    }
    for shop in 0..shop_plans.len() as u16 {
        for part in &common {
            stock.entry((shop, *part)).or_insert(0);
        }
    }
    for inc in &planned {
        if let Some(part) = inc.part {
            *stock.entry((inc.shop, part)).or_insert(0) += 1;
        }
    }
    let part_ids = ids(
        db.as_ref(),
        "parts",
        stock
            .keys()
            .map(|(_, part)| cat.parts[*part as usize].puk.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter(),
    )
    .await?;
    let part_id = |part: u16| -> Result<String> {
        let puk = &cat.parts[part as usize].puk;
        part_ids
            .get(puk)
            .cloned()
            .with_context(|| format!("part {puk} is not in the SSOT"))
    };
    let upserts = stock
        .iter()
        .map(|((shop, part), demand)| {
            let mut d = Dice::new(p.seed, salt::STOCK, (u64::from(*shop) << 16) | u64::from(*part));
            let body = json!({
                "serviceShopId": shop_ids[*shop as usize],
                "partId": part_id(*part)?,
                "qtyAvailable": demand + 2 + d.below(25) as i64,
                "reorderThreshold": 3 + d.below(8) as i64,
            });
            Ok::<_, anyhow::Error>(body)
        })
        .collect::<Result<Vec<_>>>()?;
    counts.stock_items = futures::stream::iter(upserts)
        .map(|body| async move { client.send(Method::POST, "/v1/inventory/upsert", None, body).await })
        .buffer_unordered(CONCURRENCY)
        .try_fold(0u64, |n, _| async move { Ok(n + 1) })
        .await?;

    // Incidents, a batch at a time (device ids looked up per batch).
    let school_ids = ids(
        db.as_ref(),
        "schools",
        (0..p.schools).map(|s| format!("SCH-{:05}", s + 1)),
    )
    .await?;
    for batch in planned.chunks(BATCH) {
        let device_ids = ids(db.as_ref(), "devices", batch.iter().map(|i| i.serial.clone())).await?;
        let jobs = batch
            .iter()
            .map(|inc| {
                let code = format!("SCH-{:05}", inc.school + 1);
                let school = school_ids
                    .get(&code)
                    .with_context(|| format!("school {code} is not in the SSOT"))?;
                let device = device_ids
                    .get(&inc.serial)
                    .with_context(|| format!("device {} is not in the SSOT", inc.serial))?;
                let part = inc.part.map(part_id).transpose()?;
                Ok::<_, anyhow::Error>((inc, school.as_str(), device.as_str(), part))
            })
            .collect::<Result<Vec<_>>>()?;
        let done = futures::stream::iter(jobs)
            .map(|(inc, school, device, part)| incident(client, inc, school, device, part))
            .buffer_unordered(CONCURRENCY)
            .try_fold(Counts::default(), |mut acc, c| async move {
                acc.add(&c);
                Ok(acc)
            })
            .await?;
        counts.add(&done);
    }
    Ok(counts)
}

/// One incident from report to its planned stage.
async fn incident(client: &Client, inc: &Planned, school: &str, device: &str, part: Option<String>) -> Result<Counts> {
    let mut c = Counts {
        incidents: 1,
        ..Counts::default()
    };
    let school = Some(school);
    let created = client
        .send(
            Method::POST,
            "/v1/incidents",
            school,
            json!({
                "deviceId": device, "title": inc.title, "category": inc.category, "severity": inc.severity,
                "description": format!("{} (device {}), reported by the school's ICT teacher.", inc.title, inc.serial),
            }),
        )
        .await?;
    let id = id_of(&created)?;
    if !created["schoolName"].as_str().unwrap_or_default().is_empty()
        && !created["countyName"].as_str().unwrap_or_default().is_empty()
    {
        c.enriched = 1;
    }
    let wos = client
        .send(
            Method::GET,
            &format!("/v1/work-orders?incidentId={id}"),
            school,
            Value::Null,
        )
        .await?;
    let Some(wo) = wos["items"].as_array().and_then(|a| a.first()) else {
        return Ok(c); // no shop covers the school
    };
    c.routed = 1;
    let wo = id_of(wo)?;
    let incident_path = format!("/v1/incidents/{id}/status");
    let wo_path = format!("/v1/work-orders/{wo}/status");
    let incident_status =
        |status: &'static str| client.send(Method::PATCH, &incident_path, school, json!({"status": status}));
    let wo_status = |status: &'static str| client.send(Method::PATCH, &wo_path, school, json!({"status": status}));
    if inc.stage == Stage::Acknowledged {
        incident_status("acknowledged").await?;
    }
    if inc.stage < Stage::InRepair {
        return Ok(c);
    }
    wo_status("in_repair").await?;
    c.in_repair = 1;
    let mut line = None;
    if let Some(part) = part {
        let item = client
            .send(
                Method::POST,
                &format!("/v1/work-orders/{wo}/bom/items"),
                school,
                json!({"partId": part, "qtyPlanned": 1}),
            )
            .await?;
        line = Some(id_of(&item)?);
        c.bom_lines = 1;
    }
    if inc.stage < Stage::Completed {
        return Ok(c);
    }
    if let Some(line) = line {
        client
            .send(
                Method::PATCH,
                &format!("/v1/work-orders/{wo}/bom/items/{line}/consume"),
                school,
                json!({"qtyUsed": 1}),
            )
            .await?;
        c.consumed = 1;
    }
    wo_status("completed").await?;
    c.completed = 1;
    if inc.stage < Stage::Approved {
        return Ok(c);
    }
    // Approving the incident's only work order resolves the incident.
    wo_status("approved").await?;
    c.approved = 1;
    if inc.stage == Stage::Closed {
        incident_status("closed").await?;
        c.closed = 1;
    }
    Ok(c)
}

/// Checks what a seed must have produced, so a broken path fails loudly.
pub fn check(c: &Counts) -> Result<()> {
    if c.enriched != c.incidents {
        bail!(
            "{} of {} incidents came back without SSOT names",
            c.incidents - c.enriched,
            c.incidents
        );
    }
    if c.routed != c.incidents {
        bail!(
            "{} of {} incidents were not auto-routed",
            c.incidents - c.routed,
            c.incidents
        );
    }
    Ok(())
}
