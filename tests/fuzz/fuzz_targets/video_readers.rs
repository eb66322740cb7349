//! The video plugin's readers of the caller's files, on raw bytes: the MP4 top-level box
//! walker (`media/mp4_boxes.rs`: brand, index first, fragments, a file cut short), GStreamer
//! type finding as `plan` judges it (`media::looks_like_video`), and the custom thumbnail
//! reader (`thumbnail::from_custom`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wuts_plugin_video::media::{self, readers};
use wuts_plugin_video::thumbnail;

fuzz_target!(|file: &[u8]| {
    if let Ok(layout) = readers::mp4_layout(file) {
        let mimetype = layout.mimetype();
        assert!(
            !layout.is_playable_mp4() || mimetype == "video/mp4",
            "a playable MP4 said to be {mimetype}"
        );
    }
    let _ = media::looks_like_video(file);
    let _ = thumbnail::from_custom(file);
});
