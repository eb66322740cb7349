//! The caller's bytes as an `appsrc` in random-access (pull) mode, so demuxers can seek:
//! an MP4 whose index is at the end needs that (plugins/audio/src/codec/pipeline.rs serves
//! its input alike). Every read is a zero-copy slice of one buffer, which the probe and the
//! conversion share (the input is up to 64 MiB: it is never copied per pipeline).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gstreamer as gst;
use gstreamer_app as gst_app;

/// The input, shared by every pipeline that reads it.
#[derive(Clone)]
pub(crate) struct SharedBytes(pub Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// Bytes served per read when the demuxer asks for "any amount".
const DEFAULT_READ: u64 = 64 * 1024;

pub(crate) fn byte_source(input: &SharedBytes) -> gst_app::AppSrc {
    let size = input.0.len() as u64;
    let data = gst::Buffer::from_slice(input.clone());
    let position = Arc::new(AtomicU64::new(0));
    let seek_position = Arc::clone(&position);
    let callbacks = gst_app::AppSrcCallbacks::builder()
        .need_data(move |src, length| {
            let start = position.load(Ordering::SeqCst);
            if start >= size {
                let _ = src.end_of_stream();
                return;
            }
            let wanted = match length {
                0 | u32::MAX => DEFAULT_READ,
                length => u64::from(length),
            };
            let end = start.saturating_add(wanted).min(size);
            match data.copy_region(
                gst::BufferCopyFlags::MEMORY,
                (start as usize)..(end as usize),
            ) {
                Ok(mut slice) => {
                    if let Some(slice) = slice.get_mut() {
                        slice.set_offset(start);
                        slice.set_offset_end(end);
                    }
                    position.store(end, Ordering::SeqCst);
                    let _ = src.push_buffer(slice);
                }
                Err(_) => {
                    let _ = src.end_of_stream();
                }
            }
        })
        .seek_data(move |_, offset| {
            if offset > size {
                return false;
            }
            seek_position.store(offset, Ordering::SeqCst);
            true
        })
        .build();
    gst_app::AppSrc::builder()
        .name("wuts-appsrc")
        .format(gst::Format::Bytes)
        .stream_type(gst_app::AppStreamType::RandomAccess)
        .size(i64::try_from(size).unwrap_or(i64::MAX))
        .callbacks(callbacks)
        .build()
}
