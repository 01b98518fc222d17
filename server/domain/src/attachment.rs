//! Photo and document evidence attached to incidents and work orders.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Id;

string_enum!(
    /// What an attachment belongs to.
    AttachedTo { Incident = "incident", WorkOrder = "work_order", Survey = "survey" }
);

string_enum!(
    /// `pending` between handing out a presigned upload URL and confirming
    /// the object; only `available` attachments are listed or served.
    AttachmentStatus { Pending = "pending", Available = "available" }
);

/// Content types accepted for upload: photos from a phone and documents.
pub const ALLOWED_CONTENT_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heic",
    "application/pdf",
    "text/plain",
];

pub fn parse_content_type(raw: &str) -> Result<String, String> {
    let mime = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if ALLOWED_CONTENT_TYPES.contains(&mime.as_str()) {
        Ok(mime)
    } else {
        Err(format!("must be one of: {}", ALLOWED_CONTENT_TYPES.join(", ")))
    }
}

/// A file name as shown to users; never used to build a storage key.
pub fn parse_file_name(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let ok = !t.is_empty() && t.chars().count() <= 200 && !t.chars().any(|c| c.is_control() || c == '/' || c == '\\');
    if ok {
        Ok(t.to_owned())
    } else {
        Err("must be 1-200 characters without slashes or control characters".into())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    pub entity_type: AttachedTo,
    pub entity_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub status: AttachmentStatus,
    /// Built only from server-generated ids: `<tenant>/<school>/<attachment id>`.
    #[serde(skip)]
    pub object_key: String,
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
}

impl Attachment {
    pub fn object_key(tenant: &str, school: &str, id: &Id) -> String {
        format!("{tenant}/{school}/{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_and_names() {
        assert_eq!(
            parse_content_type("IMAGE/JPEG; charset=binary"),
            Ok("image/jpeg".into())
        );
        assert!(parse_content_type("application/x-msdownload").is_err());
        assert!(parse_file_name("screen crack.jpg").is_ok());
        for bad in ["", "../../etc/passwd", "a\\b", "x\u{0}y"] {
            assert!(parse_file_name(bad).is_err(), "{bad:?}");
        }
    }
}
