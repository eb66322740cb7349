//! What is known about the caller's file: its size within the caps, its MIME type, its
//! name and, for a PDF, its page count. Any bytes are a document: only an empty file and
//! one over the cap are refused.

use std::sync::Arc;

use wuts_plugin_api::PluginError;

use crate::config::DocumentConfig;
use crate::mime::{self, MimeOrigin};
use crate::name;
use crate::pdf;

/// The file to send and its facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The caller's bytes, unchanged (shared with a page count that outlives its deadline).
    pub bytes: Arc<Vec<u8>>,
    pub mimetype: String,
    pub mime_origin: MimeOrigin,
    /// Sanitised, or the default name.
    pub file_name: String,
    /// For a PDF whose pages could be counted.
    pub page_count: Option<u32>,
}

/// What the caller said about the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Declared<'a> {
    /// `mime_type`, already checked.
    pub mime_type: Option<&'a str>,
    /// A `data:` URI's type.
    pub data_uri: Option<&'a str>,
    /// `file_name`, already sanitised.
    pub file_name: Option<&'a str>,
}

/// Refuses an empty file (`DOCUMENT_EMPTY`) and one over `max_bytes`
/// (`DOCUMENT_TOO_LARGE`), naming the field it came from.
pub fn check_size(size: u64, max_bytes: u64, field: &str) -> Result<(), PluginError> {
    if size == 0 {
        return Err(PluginError::bad_request(
            "DOCUMENT_EMPTY",
            format!("{field}: the document is empty"),
        ));
    }
    if size > max_bytes {
        return Err(too_large(field, &format!("{size} bytes given")));
    }
    Ok(())
}

/// `DOCUMENT_TOO_LARGE` for `field`, with what was found.
pub fn too_large(field: &str, found: &str) -> PluginError {
    PluginError::bad_request(
        "DOCUMENT_TOO_LARGE",
        format!("{field}: the document is too large: {found}"),
    )
}

/// Checks the size, chooses the type and the name, and counts a PDF's pages (within
/// `page_count_max_bytes`). CPU-bound for a PDF: call it off the HTTP threads.
pub fn prepare(
    bytes: Vec<u8>,
    declared: Declared<'_>,
    config: &DocumentConfig,
    field: &str,
) -> Result<Document, PluginError> {
    check_size(bytes.len() as u64, config.max_bytes, field)?;
    let (mimetype, mime_origin) = mime::choose(
        declared.mime_type,
        declared.data_uri,
        &bytes,
        declared.file_name,
    );
    let file_name = match declared.file_name {
        Some(given) => given.to_string(),
        None => name::default_name(mime::extension(&mimetype, &bytes)),
    };
    let bytes = Arc::new(bytes);
    let countable =
        mime::essence(&mimetype) == mime::PDF && bytes.len() as u64 <= config.page_count_max_bytes;
    let page_count = countable
        .then(|| pdf::page_count(&bytes, pdf::DEADLINE))
        .flatten();
    Ok(Document {
        bytes,
        mimetype,
        mime_origin,
        file_name,
        page_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DocumentConfig {
        DocumentConfig::default()
    }

    #[track_caller]
    fn refused(bytes: Vec<u8>, config: &DocumentConfig) -> String {
        prepare(bytes, Declared::default(), config, "document")
            .unwrap_err()
            .code
    }

    #[test]
    fn a_pdf_is_named_typed_and_counted() {
        let pdf = pdf::sample(3);
        let document = prepare(pdf.clone(), Declared::default(), &config(), "document").unwrap();
        assert_eq!(*document.bytes, pdf, "the bytes go as they came");
        assert_eq!(document.mimetype, "application/pdf");
        assert_eq!(document.mime_origin, MimeOrigin::Sniffed);
        assert_eq!(document.file_name, "document.pdf");
        assert_eq!(document.page_count, Some(3));
    }

    #[test]
    fn a_given_name_and_type_are_kept() {
        let declared = Declared {
            mime_type: Some("application/pdf"),
            data_uri: None,
            file_name: Some("invoice-0425.pdf"),
        };
        let document = prepare(pdf::sample(2), declared, &config(), "document_url").unwrap();
        assert_eq!(document.file_name, "invoice-0425.pdf");
        assert_eq!(document.mime_origin, MimeOrigin::Given);
        assert_eq!(document.page_count, Some(2));
    }

    #[test]
    fn a_broken_pdf_is_still_a_document_without_a_count() {
        let broken = b"%PDF-1.7\n1 0 obj <</Type /Catalog /Pages 9 0 R".to_vec();
        let document = prepare(broken, Declared::default(), &config(), "document").unwrap();
        assert_eq!(document.mimetype, "application/pdf");
        assert_eq!(document.file_name, "document.pdf");
        assert_eq!(document.page_count, None);
        // Called a PDF but not one: sent as such, uncounted.
        let declared = Declared {
            mime_type: Some("application/pdf"),
            ..Declared::default()
        };
        let text = b"this is text".to_vec();
        let document = prepare(text, declared, &config(), "document").unwrap();
        assert_eq!(
            (document.mimetype.as_str(), document.page_count),
            ("application/pdf", None)
        );
    }

    #[test]
    fn pages_are_not_counted_over_the_cap_or_for_other_types() {
        let capped = DocumentConfig {
            page_count_max_bytes: 100,
            ..config()
        };
        let document = prepare(pdf::sample(3), Declared::default(), &capped, "document").unwrap();
        assert_eq!(document.page_count, None);
        let declared = Declared {
            mime_type: Some("application/octet-stream"),
            ..Declared::default()
        };
        let document = prepare(pdf::sample(3), declared, &config(), "document").unwrap();
        assert_eq!(
            (document.file_name.as_str(), document.page_count),
            ("document.bin", None)
        );
    }

    #[test]
    fn any_bytes_are_a_document() {
        let document = prepare(
            vec![0, 159, 146, 150, 7],
            Declared::default(),
            &config(),
            "document",
        )
        .unwrap();
        assert_eq!(document.mimetype, "application/octet-stream");
        assert_eq!(document.mime_origin, MimeOrigin::Default);
        assert_eq!(document.file_name, "document.bin");
        let declared = Declared {
            data_uri: Some("text/plain"),
            ..Declared::default()
        };
        let document = prepare(b"hello".to_vec(), declared, &config(), "document").unwrap();
        assert_eq!(
            (document.mimetype.as_str(), document.file_name.as_str()),
            ("text/plain", "document.txt")
        );
    }

    #[test]
    fn empty_and_too_large_are_refused_with_their_codes() {
        assert_eq!(refused(Vec::new(), &config()), "DOCUMENT_EMPTY");
        let small = DocumentConfig {
            max_bytes: 4,
            ..config()
        };
        assert_eq!(refused(vec![1; 5], &small), "DOCUMENT_TOO_LARGE");
        assert!(prepare(vec![1; 4], Declared::default(), &small, "document").is_ok());
        let error = check_size(0, 10, "document_url").unwrap_err();
        assert_eq!(
            (error.status, error.message.as_str()),
            (400, "document_url: the document is empty")
        );
    }
}
