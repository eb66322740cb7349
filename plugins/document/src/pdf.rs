//! A PDF's page count, for `pageCount`. Best effort: a PDF that cannot be read is still a
//! file, and is sent without a count (never a 400 or 500).
//!
//! lopdf's metadata reader reads the cross-reference table, the catalog and the page tree's
//! counts, not every object; it bounds nesting depth, reference cycles and how far a stream
//! may inflate. A damaged table makes it scan the whole file to rebuild one, so the caller
//! bounds the size ([`crate::config::DocumentConfig::page_count_max_bytes`]) and this
//! module bounds the time: the read runs on a thread of its own, and is given up after
//! [`DEADLINE`] (the thread then ends on its own, holding its own handle on the bytes).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// How long a count may take. A well-formed PDF of tens of MiB takes milliseconds.
pub const DEADLINE: Duration = Duration::from_secs(2);
/// Counting threads that may run at once, those given up on included.
const MAX_RUNNING: usize = 4;
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// The counting thread's stack: the parser recurses once per nesting level (bounded by
/// lopdf), more than the few hundred KiB a default thread might have.
const STACK_BYTES: usize = 16 * 1024 * 1024;

/// The pages of the PDF `bytes`, or `None` when they cannot be told (not a PDF, damaged,
/// encrypted, no page tree) or not within `deadline`.
pub fn page_count(bytes: &Arc<Vec<u8>>, deadline: Duration) -> Option<u32> {
    // Counts given up on go on until lopdf ends them; past MAX_RUNNING of them at once
    // (hostile PDFs sent in a row), documents go without a count rather than add threads.
    let slot = Slot::take()?;
    let (sender, receiver) = mpsc::sync_channel(1);
    let bytes = Arc::clone(bytes);
    let spawned = std::thread::Builder::new()
        .name("document-pdf-pages".to_string())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let _slot = slot;
            // The receiver may be gone (the deadline passed): nobody is left to tell.
            let _ = sender.send(count_pages(&bytes));
        });
    if spawned.is_err() {
        return None;
    }
    // A panic in the parser drops the sender: `recv_timeout` then fails at once.
    receiver.recv_timeout(deadline).ok().flatten()
}

/// One of the [`MAX_RUNNING`] counting threads, given back when dropped (a panic in the
/// parser included).
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        if RUNNING.fetch_add(1, Ordering::SeqCst) >= MAX_RUNNING {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The pages of the PDF `bytes`, on this thread; lopdf reports 0 when it finds no page
/// tree (or cannot decrypt one), which is no count.
pub fn count_pages(bytes: &[u8]) -> Option<u32> {
    lopdf::Document::load_metadata_mem(bytes)
        .ok()
        .map(|metadata| metadata.page_count)
        .filter(|&pages| pages > 0)
}

/// A small valid PDF of `pages` blank pages, with a correct cross-reference table: for
/// tests (here and in the end-to-end tests, which make their own alike).
#[cfg(test)]
pub(crate) fn sample(pages: usize) -> Vec<u8> {
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            (0..pages)
                .map(|page| format!("{} 0 R", page + 3))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    ];
    objects.extend(
        (0..pages).map(|_| "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>".to_string()),
    );
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        table.push_str(&format!("{offset:010} 00000 n \n"));
    }
    table.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.extend_from_slice(table.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_multi_page_pdf_is_counted() {
        for pages in [1, 3, 12] {
            let pdf = Arc::new(sample(pages));
            assert_eq!(count_pages(&pdf), Some(pages as u32));
            assert_eq!(page_count(&pdf, DEADLINE), Some(pages as u32));
        }
    }

    #[test]
    fn a_pdf_whose_table_is_misplaced_is_repaired_or_left_uncounted() {
        // `startxref` points nowhere: lenient reading rebuilds the table by scanning.
        let pdf = sample(4);
        let marker = b"startxref\n";
        let at = pdf
            .windows(marker.len())
            .rposition(|w| w == marker)
            .unwrap()
            + marker.len();
        let end = at + pdf[at..].iter().position(|&b| b == b'\n').unwrap();
        let misplaced = [&pdf[..at], b"7", &pdf[end..]].concat();
        assert!(matches!(count_pages(&misplaced), Some(4) | None));
    }

    #[test]
    fn broken_and_non_pdfs_have_no_count() {
        let pdf = sample(5);
        let broken: [&[u8]; 5] = [
            b"",
            b"%PDF-1.7\n",
            b"%PDF-1.4\nthis is not a pdf body at all\n%%EOF",
            b"plain text, not a PDF",
            // Cut inside the catalog: no page tree left to find.
            &pdf[..40],
        ];
        for bytes in broken {
            assert_eq!(count_pages(bytes), None);
            let started = Instant::now();
            assert_eq!(page_count(&Arc::new(bytes.to_vec()), DEADLINE), None);
            assert!(started.elapsed() < DEADLINE + Duration::from_secs(1));
        }
    }

    #[test]
    fn a_count_past_the_deadline_is_given_up() {
        let pdf = Arc::new(sample(2));
        // A zero deadline cannot be met by a thread that has to start first, or, if it
        // happens to be met, gives the right count: never a wrong one.
        assert!(matches!(page_count(&pdf, Duration::ZERO), None | Some(2)));
    }
}
