//! The SSOT half of the demo tenant: counties, sub-counties, schools and
//! their contacts, device models and devices, parts, compatibility and
//! vendor SKUs, each written by `import_csv` (the CSV import every
//! operator uses, references by natural key) from a CSV generated on the
//! fly, then copied into IMS's snapshot tables by one reconcile pass (the
//! sync-worker's code).

use std::fmt::Write as _;
use std::io::Read;
use std::sync::Arc;

use anyhow::{Result, bail};
use essp_domain::ssot::{self, KINDS};
use essp_store::Database;
use essp_sync_engine::ssot_feed::LocalFeed;
use essp_sync_engine::ssot_reconcile::Reconciler;

use super::data::{self, Catalogue, Dice, Geography, MODELS, VENDORS, salt};
use super::{Params, TENANT};

/// CSV text made row by row as the importer reads it: a million rows
/// never sit in memory.
struct CsvRows<F> {
    header: Option<&'static str>,
    next: u64,
    rows: u64,
    row: F,
    buf: Vec<u8>,
    pos: usize,
}

impl<F: FnMut(u64, &mut String)> Read for CsvRows<F> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.buf.len() {
            let mut s = String::with_capacity(70 * 1024);
            if let Some(h) = self.header.take() {
                s.push_str(h);
                s.push('\n');
            }
            while s.len() < 64 * 1024 && self.next < self.rows {
                (self.row)(self.next, &mut s);
                s.push('\n');
                self.next += 1;
            }
            self.buf = s.into_bytes();
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn csv<F: FnMut(u64, &mut String) + Send + 'static>(
    header: &'static str,
    rows: u64,
    row: F,
) -> impl Read + Send + 'static {
    CsvRows {
        header: Some(header),
        next: 0,
        rows,
        row,
        buf: Vec::new(),
        pos: 0,
    }
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break.
fn cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// What the SSOT import wrote, per kind, in import order.
pub type Imported = Vec<(&'static str, u64)>;

async fn import(db: &dyn Database, kind: &str, source: impl Read + Send + 'static) -> Result<u64> {
    let kind = ssot::kind(kind).ok_or_else(|| anyhow::anyhow!("no SSOT kind {kind}"))?;
    let actor = essp_http::auth::Actor {
        subject: "demo-seed".into(),
        request_id: String::new(),
        ip: String::new(),
        user_agent: format!("essp/{} demo seed", env!("CARGO_PKG_VERSION")),
    };
    let report = essp_http::ssot::csv_import::import_csv(db, TENANT, kind, source, false, &actor)
        .await
        .map_err(|e| anyhow::anyhow!("importing {}: {e}", kind.name))?;
    if !report.committed || report.error_count > 0 {
        let first: Vec<String> = report
            .errors
            .iter()
            .take(5)
            .map(|e| format!("line {} {}: {}", e.line, e.field, e.message))
            .collect();
        bail!(
            "importing {}: {} row error(s), nothing written: {}",
            kind.name,
            report.error_count,
            first.join("; ")
        );
    }
    Ok(report.created + report.updated)
}

/// Imports the whole SSOT of the tenant, then reconciles IMS's snapshots.
pub async fn seed(db: &Arc<dyn Database>, p: &Params, geo: &Arc<Geography>, cat: &Arc<Catalogue>) -> Result<Imported> {
    let seed = p.seed;
    let mut out = Vec::new();

    let g = geo.clone();
    let n = g.counties.len() as u64;
    out.push((
        "counties",
        import(
            db.as_ref(),
            "counties",
            csv("code,name", n, move |i, s| {
                let c = &g.counties[i as usize];
                let _ = write!(s, "{},{}", c.code, cell(c.name));
            }),
        )
        .await?,
    ));

    let subs: Vec<(String, String, String)> = geo
        .counties
        .iter()
        .flat_map(|c| {
            c.sub_counties
                .iter()
                .map(|sc| (c.code.clone(), sc.code.clone(), sc.name.clone()))
        })
        .collect();
    let n = subs.len() as u64;
    out.push((
        "sub_counties",
        import(
            db.as_ref(),
            "sub_counties",
            csv("countyCode,code,name", n, move |i, s| {
                let (county, code, name) = &subs[i as usize];
                let _ = write!(s, "{county},{code},{}", cell(name));
            }),
        )
        .await?,
    ));

    let g = geo.clone();
    out.push((
        "schools",
        import(
            db.as_ref(),
            "schools",
            csv(
                "code,name,countyCode,subCountyCode,level,type,active,knecCode,sex,accommodation",
                p.schools,
                move |i, s| {
                    let sc = data::school(&g, seed, i);
                    let c = &g.counties[sc.county];
                    let _ = write!(
                        s,
                        "{},{},{},{},{},{},true,{},{},{}",
                        sc.code,
                        cell(&sc.name),
                        c.code,
                        c.sub_counties[sc.sub_county].code,
                        sc.level,
                        sc.school_type,
                        sc.knec_code,
                        sc.sex,
                        sc.accommodation
                    );
                },
            ),
        )
        .await?,
    ));

    // One primary contact per school: the head teacher, sometimes the ICT teacher.
    out.push((
        "school_contacts",
        import(
            db.as_ref(),
            "school_contacts",
            csv(
                "schoolCode,name,phone,email,role,isPrimary,active",
                p.schools,
                move |i, s| {
                    let mut d = Dice::new(seed, salt::CONTACT, i);
                    let role = if d.chance(750) { "head_teacher" } else { "ict_teacher" };
                    let name = data::person(&mut d);
                    let phone = data::phone(&mut d);
                    let code = format!("SCH-{:05}", i + 1);
                    let email = format!(
                        "{}.{}@schools.demo.ke",
                        role.replace('_', "-"),
                        code.to_ascii_lowercase()
                    );
                    let _ = write!(s, "{code},{},{phone},{email},{role},true,true", cell(&name));
                },
            ),
        )
        .await?,
    ));

    out.push((
        "device_models",
        import(
            db.as_ref(),
            "device_models",
            csv("make,model,category", MODELS.len() as u64, |i, s| {
                let m = &MODELS[i as usize];
                let _ = write!(s, "{},{},{}", cell(m.make), cell(m.model), m.kind.as_str());
            }),
        )
        .await?,
    ));

    let per_school = p.devices_per_school;
    let weights = data::model_weights();
    out.push((
        "devices",
        import(
            db.as_ref(),
            "devices",
            csv(
                "serial,assetTag,make,model,schoolCode,lifecycle,enrolled",
                p.schools * per_school,
                move |g, s| {
                    let code = format!("SCH-{:05}", g / per_school + 1);
                    let d = data::device(seed, &weights, &code, g, g % per_school);
                    let m = &MODELS[d.model];
                    let _ = write!(
                        s,
                        "{},{},{},{},{code},{},{}",
                        d.serial,
                        d.asset_tag,
                        cell(m.make),
                        cell(m.model),
                        d.lifecycle,
                        d.enrolled
                    );
                },
            ),
        )
        .await?,
    ));

    let c = cat.clone();
    out.push((
        "parts",
        import(
            db.as_ref(),
            "parts",
            csv(
                "puk,sku,name,category,unit,unitCostCents",
                cat.parts.len() as u64,
                move |i, s| {
                    let p = &c.parts[i as usize];
                    let _ = write!(
                        s,
                        "{},{},{},{},{},{}",
                        p.puk,
                        p.sku,
                        cell(&p.name),
                        p.category,
                        p.unit,
                        p.unit_cost_cents
                    );
                },
            ),
        )
        .await?,
    ));

    let pairs: Vec<(usize, usize)> = cat
        .parts
        .iter()
        .enumerate()
        .flat_map(|(pi, p)| p.fits.iter().map(move |mi| (pi, *mi)))
        .collect();
    let c = cat.clone();
    out.push((
        "part_compatibility",
        import(
            db.as_ref(),
            "part_compatibility",
            csv("partPuk,make,model", pairs.len() as u64, move |i, s| {
                let (pi, mi) = pairs[i as usize];
                let m = &MODELS[mi];
                let _ = write!(s, "{},{},{}", c.parts[pi].puk, cell(m.make), cell(m.model));
            }),
        )
        .await?,
    ));

    // One or two distributors per part, at a markup, in KES.
    let mut skus = Vec::new();
    for (pi, part) in cat.parts.iter().enumerate() {
        let mut d = Dice::new(seed, salt::VENDOR, pi as u64);
        let first = d.below(VENDORS.len() as u64) as usize;
        let count = 1 + usize::from(d.chance(450));
        for k in 0..count {
            let v = (first + k) % VENDORS.len();
            let price = part.unit_cost_cents * (110 + d.below(30) as i64) / 100;
            skus.push((pi, v, price, 3 + d.below(28)));
        }
    }
    let c = cat.clone();
    out.push((
        "vendor_skus",
        import(
            db.as_ref(),
            "vendor_skus",
            csv(
                "partPuk,vendorId,sku,unitPriceCents,currency,leadTimeDays",
                skus.len() as u64,
                move |i, s| {
                    let (pi, v, price, lead) = skus[i as usize];
                    let (vendor, prefix) = VENDORS[v];
                    let _ = write!(
                        s,
                        "{},{vendor},{prefix}-{:05},{price},KES,{lead}",
                        c.parts[pi].puk,
                        pi + 1
                    );
                },
            ),
        )
        .await?,
    ));
    Ok(out)
}

/// One reconcile pass over every kind (the sync-worker's code, reading
/// the SSOT tables of this database): IMS's snapshots then hold the
/// tenant, so incidents are enriched and routed. Returns rows applied.
pub async fn reconcile(db: &Arc<dyn Database>) -> Result<u64> {
    let feed = Arc::new(LocalFeed(db.clone()));
    let reconciler = Reconciler::new(db.clone(), feed, 1000, vec![TENANT.to_owned()]);
    let kinds: Vec<_> = KINDS.iter().collect();
    let done = reconciler
        .sync(TENANT, &kinds)
        .await
        .map_err(|e| anyhow::anyhow!("reconciling the snapshots: {e}"))?;
    Ok(done.iter().map(|(_, n, _)| n).sum())
}
