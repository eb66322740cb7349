//! The document's MIME type: checking a given one, choosing one when none is given, and the
//! extension a type stands for (for a default file name).

/// What WhatsApp shows for a file of no known type.
pub const OCTET_STREAM: &str = "application/octet-stream";
pub const PDF: &str = "application/pdf";

/// The longest MIME type accepted (RFC 6838 allows 127 characters for each of type and
/// subtype; parameters such as `; charset=utf-8` follow).
pub const MAX_MIME_CHARS: usize = 255;

/// Where the chosen type came from, in the order it is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MimeOrigin {
    /// The caller's `mime_type`.
    Given,
    /// The `data:` URI's prefix.
    DataUri,
    /// The file's first bytes.
    Sniffed,
    /// The file name's extension.
    FileName,
    /// None of those: [`OCTET_STREAM`].
    Default,
}

/// `text` as a MIME type, `type/subtype` with optional `; name=value` parameters, its type
/// and subtype lowercased; the reason it is not one otherwise.
pub fn normalise(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    let (essence, parameters) = match text.split_once(';') {
        Some((essence, parameters)) => (essence.trim(), Some(parameters.trim())),
        None => (text, None),
    };
    let Some((kind, subtype)) = essence.split_once('/') else {
        return Err("must be a MIME type, type/subtype (e.g. application/pdf)");
    };
    if !is_token(kind) || !is_token(subtype) {
        return Err("must be a MIME type, type/subtype (e.g. application/pdf)");
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    let essence = essence.to_ascii_lowercase();
    Ok(match parameters {
        Some(parameters) if !parameters.is_empty() => format!("{essence}; {parameters}"),
        _ => essence,
    })
}

/// RFC 6838's restricted-name: a letter or digit, then letters, digits and `!#$&-^_.+`.
fn is_token(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
}

/// `type/subtype` of a MIME type, without parameters.
pub fn essence(mimetype: &str) -> &str {
    mimetype.split(';').next().unwrap_or(mimetype).trim()
}

/// The type to send: the caller's `mime_type` (already [`normalise`]d); else the `data:`
/// URI's type (when it is one); else what the bytes are; else what the file name's
/// extension says; else [`OCTET_STREAM`].
pub fn choose(
    given: Option<&str>,
    data_uri: Option<&str>,
    bytes: &[u8],
    file_name: Option<&str>,
) -> (String, MimeOrigin) {
    if let Some(given) = given {
        return (given.to_string(), MimeOrigin::Given);
    }
    if let Some(declared) = data_uri.and_then(|declared| normalise(declared).ok()) {
        return (declared, MimeOrigin::DataUri);
    }
    if let Some(sniffed) = infer::get(bytes) {
        return (sniffed.mime_type().to_string(), MimeOrigin::Sniffed);
    }
    if let Some(guessed) = file_name.and_then(|name| mime_guess::from_path(name).first_raw()) {
        return (guessed.to_string(), MimeOrigin::FileName);
    }
    (OCTET_STREAM.to_string(), MimeOrigin::Default)
}

/// Types whose first extension in `mime_guess`'s table (which lists them alphabetically) is
/// not the one people use: `text/plain` would be `.asm`.
const USUAL_EXTENSIONS: [(&str, &str); 2] = [("text/plain", "txt"), (OCTET_STREAM, "bin")];

/// The extension for a file of `mimetype` whose bytes are `bytes` (without the dot): the
/// sniffed type's own when the bytes are of that type; else the usual one; else the
/// subtype when it is an extension of the type (`pdf`, `csv`, `zip`); else the first the
/// table lists; else `bin`.
pub fn extension(mimetype: &str, bytes: &[u8]) -> &'static str {
    let essence = essence(mimetype);
    if let Some(sniffed) = infer::get(bytes).filter(|sniffed| sniffed.mime_type() == essence) {
        return sniffed.extension();
    }
    if let Some((_, usual)) = USUAL_EXTENSIONS.iter().find(|(kind, _)| *kind == essence) {
        return usual;
    }
    let Some(listed) = mime_guess::get_mime_extensions_str(essence) else {
        return "bin";
    };
    let subtype = essence.split('/').nth(1).unwrap_or_default();
    listed
        .iter()
        .find(|extension| **extension == subtype)
        .or_else(|| listed.first())
        .copied()
        .unwrap_or("bin")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF_BYTES: &[u8] = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n";
    const PNG_BYTES: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn a_mime_type_is_type_slash_subtype() {
        assert_eq!(normalise("application/pdf").unwrap(), "application/pdf");
        assert_eq!(normalise(" Application/PDF ").unwrap(), "application/pdf");
        assert_eq!(
            normalise("text/plain;charset=UTF-8").unwrap(),
            "text/plain; charset=UTF-8"
        );
        assert_eq!(
            normalise("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
                .unwrap(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        for bad in [
            "pdf",
            "application/",
            "/pdf",
            "application pdf",
            "application/pdf/x",
            "appl ication/pdf",
            "application/p\u{7f}df",
            "text/plain; x=\u{1}",
            "",
        ] {
            assert!(normalise(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_given_type_wins_then_the_data_uri_then_the_bytes_then_the_name() {
        let choose = |given, data_uri, bytes, name| choose(given, data_uri, bytes, name);
        assert_eq!(
            choose(
                Some("text/csv"),
                Some("image/png"),
                PDF_BYTES,
                Some("a.txt")
            ),
            ("text/csv".to_string(), MimeOrigin::Given)
        );
        assert_eq!(
            choose(None, Some("image/png"), PDF_BYTES, Some("a.txt")),
            ("image/png".to_string(), MimeOrigin::DataUri)
        );
        // A data URI whose type is not one is passed over.
        assert_eq!(
            choose(None, Some("nonsense"), PDF_BYTES, Some("a.txt")),
            (PDF.to_string(), MimeOrigin::Sniffed)
        );
        assert_eq!(
            choose(None, None, PNG_BYTES, Some("a.txt")),
            ("image/png".to_string(), MimeOrigin::Sniffed)
        );
        assert_eq!(
            choose(None, None, b"name,total\nA,1\n", Some("report.CSV")),
            ("text/csv".to_string(), MimeOrigin::FileName)
        );
        assert_eq!(
            choose(None, None, b"plain words", Some("notes")),
            (OCTET_STREAM.to_string(), MimeOrigin::Default)
        );
        assert_eq!(
            choose(None, None, &[0, 1, 2, 3], None),
            (OCTET_STREAM.to_string(), MimeOrigin::Default)
        );
    }

    #[test]
    fn the_extension_of_a_type() {
        assert_eq!(extension(PDF, PDF_BYTES), "pdf");
        assert_eq!(extension(PDF, b"not really a pdf"), "pdf");
        assert_eq!(extension("image/png", PNG_BYTES), "png");
        assert_eq!(extension("text/plain; charset=utf-8", b"hi"), "txt");
        assert_eq!(extension(OCTET_STREAM, &[0, 1]), "bin");
        assert_eq!(extension("text/csv", b"a,b"), "csv");
        assert_eq!(extension("application/msword", b""), "doc");
        assert_eq!(extension("application/x-unknown-thing", b""), "bin");
    }
}
