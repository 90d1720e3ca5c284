//! The evidence of documents in the audit log ([`AuditRecord::evidence`](super::AuditRecord)):
//! what an upload recorded, and the sha256 of each document a transition cited. Stored as JSON
//! text and hashed as stored, so a changed document row or a swapped file no longer matches
//! the chain.

use serde::{Deserialize, Serialize};

use crate::store::Document;

/// An uploaded document as its upload's audit entry records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadedDocument {
    pub id: String,
    #[serde(rename = "type")]
    pub doc_type: String,
    pub number: Option<String>,
    /// yyyy-mm-dd.
    pub issued_on: Option<String>,
    pub issuer: Option<String>,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
}

/// A cited document: its id and the sha256 it had when cited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CitedDocument {
    pub id: String,
    pub sha256: String,
}

/// The evidence an entry carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<UploadedDocument>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<CitedDocument>,
}

impl Evidence {
    /// An upload's evidence.
    pub fn upload(d: &Document) -> Evidence {
        Evidence {
            document: Some(UploadedDocument {
                id: d.id.clone(),
                doc_type: d.doc_type.clone(),
                number: d.number.clone(),
                issued_on: d.issued_on.map(|x| x.format("%Y-%m-%d").to_string()),
                issuer: d.issuer.clone(),
                file_name: d.file_name.clone(),
                size_bytes: d.size_bytes,
                sha256: d.sha256.clone(),
                uploaded_by: d.uploaded_by.clone(),
            }),
            documents: Vec::new(),
        }
    }

    /// A transition's evidence: `None` when it cites no document.
    pub fn cited(documents: Vec<CitedDocument>) -> Option<Evidence> {
        (!documents.is_empty()).then_some(Evidence {
            document: None,
            documents,
        })
    }

    /// The text stored and hashed.
    pub fn text(&self) -> String {
        serde_json::to_string(self).expect("plain data serialises")
    }

    /// Every (document id, sha256) the evidence vouches for.
    pub fn hashes(&self) -> Vec<(&str, &str)> {
        self.document
            .iter()
            .map(|d| (d.id.as_str(), d.sha256.as_str()))
            .chain(
                self.documents
                    .iter()
                    .map(|d| (d.id.as_str(), d.sha256.as_str())),
            )
            .collect()
    }
}
