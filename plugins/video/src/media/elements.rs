//! Making elements and setting their properties without panics: gstreamer-rs panics on a
//! property of the wrong type, and plugin versions differ between systems.

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

use super::error::VideoError;

/// Prefix of the names of the elements that make the output (encoders, muxer, sink):
/// an error from one of them is ours, not the input's.
pub(crate) const OUTPUT_SIDE: &str = "wuts-out-";

pub(crate) fn make(factory: &str, name: &str) -> Result<gst::Element, VideoError> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|_| VideoError::Internal(format!("GStreamer element '{factory}' is missing")))
}

/// An element with a unique name made of `prefix` (several branches may be built).
pub(crate) fn make_unnamed(factory: &str, prefix: &str) -> Result<gst::Element, VideoError> {
    gst::ElementFactory::make(factory)
        .name(format!("{prefix}{factory}-{}", unique()))
        .build()
        .map_err(|_| VideoError::Internal(format!("GStreamer element '{factory}' is missing")))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Sets `name` when the element has it with the value's type; an error otherwise.
pub(crate) fn set(
    element: &gst::Element,
    name: &str,
    value: glib::Value,
) -> Result<(), VideoError> {
    let pspec = element.find_property(name).ok_or_else(|| {
        VideoError::Internal(format!(
            "{} has no property '{name}'",
            factory_name(element)
        ))
    })?;
    if !value.type_().is_a(pspec.value_type()) {
        return Err(VideoError::Internal(format!(
            "{} property '{name}' is not of type {}",
            factory_name(element),
            value.type_()
        )));
    }
    element.set_property_from_value(name, &value);
    Ok(())
}

/// Sets `name` only if the element has it (a tuning that older versions lack).
pub(crate) fn set_if_present(element: &gst::Element, name: &str, value: glib::Value) {
    if element.find_property(name).is_some() {
        let _ = set(element, name, value);
    }
}

/// Sets an enum property by its nick ("qual", "veryfast", ...).
pub(crate) fn set_enum(element: &gst::Element, name: &str, nick: &str) -> Result<(), VideoError> {
    let value = element
        .find_property(name)
        .and_then(|pspec| glib::EnumClass::with_type(pspec.value_type()))
        .and_then(|class| class.to_value_by_nick(nick))
        .ok_or_else(|| {
            VideoError::Internal(format!(
                "{} property '{name}' has no value '{nick}'",
                factory_name(element)
            ))
        })?;
    set(element, name, value)
}

fn factory_name(element: &gst::Element) -> String {
    element
        .factory()
        .map(|factory| factory.name().to_string())
        .unwrap_or_else(|| element.name().to_string())
}

/// A capsfilter with `caps`.
pub(crate) fn capsfilter(caps: &gst::Caps, prefix: &str) -> Result<gst::Element, VideoError> {
    let filter = make_unnamed("capsfilter", prefix)?;
    set(&filter, "caps", caps.to_value())?;
    Ok(filter)
}

/// A sink that swallows a stream nobody wants (a second audio track, subtitles, a video
/// refused as too large), without prerolling: it must never hold the pipeline's state
/// change or a demuxer's thread.
pub(crate) fn discard_pad(pipeline: &gst::Bin, pad: &gst::Pad) -> Result<(), VideoError> {
    let sink = make_unnamed("fakesink", "wuts-discard-")?;
    set(&sink, "sync", false.to_value())?;
    set(&sink, "async", false.to_value())?;
    pipeline
        .add(&sink)
        .map_err(|_| VideoError::Internal("could not add a sink".to_string()))?;
    let _ = sink.sync_state_with_parent();
    let sink_pad = sink
        .static_pad("sink")
        .ok_or_else(|| VideoError::Internal("fakesink has no sink pad".to_string()))?;
    pad.link(&sink_pad)
        .map(|_| ())
        .map_err(|_| VideoError::Internal("could not link a discarded stream".to_string()))
}

/// Adds `chain` to `pipeline`, links it in order, and brings it to the pipeline's state,
/// the last element (downstream) first so that no element pushes into one still stopped.
pub(crate) fn add_chain(pipeline: &gst::Bin, chain: &[gst::Element]) -> Result<(), VideoError> {
    pipeline
        .add_many(chain)
        .map_err(|_| VideoError::Internal("could not add a branch".to_string()))?;
    gst::Element::link_many(chain)
        .map_err(|_| VideoError::Internal("could not link a branch".to_string()))?;
    for element in chain.iter().rev() {
        let _ = element.sync_state_with_parent();
    }
    Ok(())
}
