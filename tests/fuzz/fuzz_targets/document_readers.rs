//! The document plugin's readers of the caller's file, on raw bytes: the PDF page count
//! (`pdf::count_pages`, lopdf on hostile bytes; here on the fuzzer's thread and without the
//! plugin's 2-s deadline, so a slow parse shows as a hang) and the MIME type sniffed from
//! the bytes (`mime::choose` with nothing declared, and the extension of what it chose).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wuts_plugin_document::{mime, pdf};

fuzz_target!(|file: &[u8]| {
    let _ = pdf::count_pages(file);
    let (mimetype, _) = mime::choose(None, None, file, None);
    let _ = mime::extension(&mimetype, file);
});
