//! The document's file name: a caller's name made safe to show and to save, or a default
//! one from the type.

/// The longest name kept, in bytes: what most file systems allow for one path component.
pub const MAX_NAME_BYTES: usize = 255;
/// The stem of a default name.
pub const DEFAULT_STEM: &str = "document";
/// An extension longer than this is not kept apart when a long name is shortened.
const MAX_KEPT_EXTENSION_BYTES: usize = 16;

/// `name` made safe: its last path component (a recipient saving it gets no folders, and
/// no `..`), without control characters (no line breaks or escapes in a chat's file
/// list) or surrounding spaces, at most [`MAX_NAME_BYTES`] bytes (cut on a character
/// boundary, keeping a short extension). `None` when nothing is left.
pub fn sanitise(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return None;
    }
    Some(shorten(cleaned, MAX_NAME_BYTES))
}

/// `name` cut to at most `max` bytes on a character boundary; a short extension (`.pdf`)
/// is kept, so that the shortened name still opens with the right application.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let extension = name
        .rfind('.')
        .filter(|&dot| dot > 0 && name.len() - dot <= MAX_KEPT_EXTENSION_BYTES + 1)
        .map_or("", |dot| &name[dot..]);
    let stem = &name[..name.len() - extension.len()];
    let mut end = max - extension.len();
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{extension}", stem[..end].trim_end())
}

/// The name of a file the caller did not name: `document.<extension>`.
pub fn default_name(extension: &str) -> String {
    format!("{DEFAULT_STEM}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_path_component_is_kept() {
        assert_eq!(sanitise("invoice-0425.pdf").unwrap(), "invoice-0425.pdf");
        assert_eq!(sanitise("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(
            sanitise(r"C:\Users\ana\Relatório.docx").unwrap(),
            "Relatório.docx"
        );
        assert_eq!(sanitise("a/b\\c.txt").unwrap(), "c.txt");
        assert_eq!(sanitise("  spaced name.pdf  ").unwrap(), "spaced name.pdf");
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(sanitise("in\nvoice\u{0}.pdf\r").unwrap(), "invoice.pdf");
        assert_eq!(sanitise("\u{1b}[31mred.txt").unwrap(), "[31mred.txt");
    }

    #[test]
    fn nothing_left_is_none() {
        for name in ["", "   ", "/", "dir/", "a\\", "\n\t", ".", "..", "x/.."] {
            assert_eq!(sanitise(name), None, "{name:?}");
        }
    }

    #[test]
    fn a_long_name_is_cut_on_a_char_boundary_keeping_its_extension() {
        let long = format!("{}.pdf", "é".repeat(200));
        let cut = sanitise(&long).unwrap();
        assert!(cut.len() <= MAX_NAME_BYTES, "{}", cut.len());
        assert!(cut.ends_with("é.pdf"), "{cut}");
        assert_eq!(cut.len(), 254, "125 two-byte characters and .pdf");

        let no_extension = "x".repeat(300);
        assert_eq!(sanitise(&no_extension).unwrap(), "x".repeat(255));
        // A "extension" too long to be one is cut like the rest.
        let dotted = format!("a.{}", "b".repeat(300));
        assert_eq!(sanitise(&dotted).unwrap().len(), 255);
        let exact = "y".repeat(255);
        assert_eq!(sanitise(&exact).unwrap(), exact);
    }

    #[test]
    fn a_default_name_is_document_and_the_extension() {
        assert_eq!(default_name("pdf"), "document.pdf");
        assert_eq!(default_name("bin"), "document.bin");
    }
}
