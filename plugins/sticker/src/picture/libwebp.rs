//! The two libwebp calls a sticker needs, lossy still and lossy animated encoding, over
//! `libwebp-sys` (Google's libwebp, built from the current source it bundles; the `webp`
//! crate's bindings pin a libwebp from before the CVE-2023-4863 fix, which is why they
//! are not used). Every buffer libwebp allocates is freed by a drop guard, on every path.
//!
//! Only pixels this plugin made reach libwebp: RGBA of exactly `width * height * 4`
//! bytes, checked before any call.

use std::ffi::{CStr, c_int};
use std::mem::MaybeUninit;

use libwebp_sys as sys;

/// How the encoder trades size for quality and time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// 0 (smallest) to 100 (best), lossy.
    pub quality: f32,
    /// Effort, 0 (fast) to 6 (slow).
    pub method: i32,
}

/// One frame of an animation: its pixels and how long it shows.
pub struct AnimationFrame<'a> {
    pub rgba: &'a [u8],
    pub delay_ms: u32,
}

fn encoder_abi() -> c_int {
    sys::WEBP_ENCODER_ABI_VERSION as c_int
}

fn config(settings: Settings) -> Result<sys::WebPConfig, String> {
    let mut config = MaybeUninit::<sys::WebPConfig>::uninit();
    // SAFETY: the call initialises every field of the config it is given, and says so.
    let initialised = unsafe {
        sys::WebPConfigInitInternal(
            config.as_mut_ptr(),
            sys::WebPPreset::WEBP_PRESET_DEFAULT,
            settings.quality,
            encoder_abi(),
        )
    };
    if initialised == 0 {
        return Err("libwebp could not be set up".to_string());
    }
    // SAFETY: initialised above.
    let mut config = unsafe { config.assume_init() };
    config.lossless = 0;
    config.method = settings.method;
    config.alpha_compression = 1;
    // SAFETY: a valid, initialised config.
    if unsafe { sys::WebPValidateConfig(&config) } == 0 {
        return Err("libwebp refused the encoder settings".to_string());
    }
    Ok(config)
}

/// A picture holding its pixels in libwebp's buffers, freed when dropped.
struct Picture(sys::WebPPicture);

impl Picture {
    fn from_rgba(rgba: &[u8], width: u32, height: u32) -> Result<Picture, String> {
        let expected = width as usize * height as usize * 4;
        if rgba.len() != expected || width == 0 || height == 0 {
            return Err(format!(
                "{} bytes are not {width}x{height} RGBA pixels",
                rgba.len()
            ));
        }
        let mut picture = MaybeUninit::<sys::WebPPicture>::uninit();
        // SAFETY: the call initialises every field of the picture it is given.
        if unsafe { sys::WebPPictureInitInternal(picture.as_mut_ptr(), encoder_abi()) } == 0 {
            return Err("libwebp could not make a picture".to_string());
        }
        // SAFETY: initialised above; from here on, dropping frees it.
        let mut picture = Picture(unsafe { picture.assume_init() });
        picture.0.use_argb = 1;
        picture.0.width = width as c_int;
        picture.0.height = height as c_int;
        // SAFETY: `rgba` holds `height` rows of `width * 4` bytes (checked above); libwebp
        // copies them into the picture's own buffer.
        let imported = unsafe {
            sys::WebPPictureImportRGBA(&mut picture.0, rgba.as_ptr(), (width * 4) as c_int)
        };
        if imported == 0 {
            return Err("libwebp could not take the pixels".to_string());
        }
        Ok(picture)
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: an initialised picture; freeing one without buffers does nothing.
        unsafe { sys::WebPPictureFree(&mut self.0) }
    }
}

/// The output buffer of a still encode, freed when dropped.
struct MemoryWriter(sys::WebPMemoryWriter);

impl Drop for MemoryWriter {
    fn drop(&mut self) {
        // SAFETY: initialised by WebPMemoryWriterInit; clearing frees what was written.
        unsafe { sys::WebPMemoryWriterClear(&mut self.0) }
    }
}

/// `width` x `height` RGBA pixels as a still lossy WebP (alpha kept).
pub fn encode_still(
    rgba: &[u8],
    width: u32,
    height: u32,
    settings: Settings,
) -> Result<Vec<u8>, String> {
    let config = config(settings)?;
    let mut picture = Picture::from_rgba(rgba, width, height)?;
    let mut writer = MaybeUninit::<sys::WebPMemoryWriter>::uninit();
    // SAFETY: the call initialises the writer (empty).
    unsafe { sys::WebPMemoryWriterInit(writer.as_mut_ptr()) };
    // SAFETY: initialised above.
    let mut writer = MemoryWriter(unsafe { writer.assume_init() });
    picture.0.writer = Some(sys::WebPMemoryWrite);
    picture.0.custom_ptr = (&raw mut writer.0).cast();
    // SAFETY: a valid config, and a picture whose writer appends to `writer`, which
    // outlives the call.
    if unsafe { sys::WebPEncode(&config, &mut picture.0) } == 0 {
        return Err(format!("WebP encoding failed ({:?})", picture.0.error_code));
    }
    if writer.0.mem.is_null() || writer.0.size == 0 {
        return Err("WebP encoding wrote nothing".to_string());
    }
    // SAFETY: libwebp wrote `size` bytes at `mem`, which stays allocated until `writer`
    // is dropped, after the copy.
    Ok(unsafe { std::slice::from_raw_parts(writer.0.mem, writer.0.size) }.to_vec())
}

/// An animation encoder, deleted when dropped.
struct AnimationEncoder(*mut sys::WebPAnimEncoder);

impl AnimationEncoder {
    fn error(&self, what: &str) -> String {
        // SAFETY: a live encoder; the message is a C string it owns (or null).
        let message = unsafe { sys::WebPAnimEncoderGetError(self.0) };
        if message.is_null() {
            return what.to_string();
        }
        // SAFETY: non-null, NUL-terminated, valid while the encoder lives.
        let message = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        format!("{what}: {message}")
    }
}

impl Drop for AnimationEncoder {
    fn drop(&mut self) {
        // SAFETY: made by WebPAnimEncoderNewInternal, deleted once.
        unsafe { sys::WebPAnimEncoderDelete(self.0) }
    }
}

/// The output of an animation encode, freed when dropped.
struct Data(sys::WebPData);

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: empty, or assembled by libwebp (its buffer, freed once).
        unsafe { sys::WebPDataClear(&mut self.0) }
    }
}

/// `frames` of `width` x `height` RGBA as a lossy animated WebP that loops forever, each
/// frame shown for its delay (the last one's included: libwebp is told where it ends).
pub fn encode_animation(
    frames: &[AnimationFrame<'_>],
    width: u32,
    height: u32,
    settings: Settings,
) -> Result<Vec<u8>, String> {
    let config = config(settings)?;
    let mut options = MaybeUninit::<sys::WebPAnimEncoderOptions>::uninit();
    let mux_abi = sys::WEBP_MUX_ABI_VERSION as c_int;
    // SAFETY: the call initialises every field of the options it is given.
    if unsafe { sys::WebPAnimEncoderOptionsInitInternal(options.as_mut_ptr(), mux_abi) } == 0 {
        return Err("libwebp could not set up an animation".to_string());
    }
    // SAFETY: initialised above.
    let mut options = unsafe { options.assume_init() };
    options.anim_params.loop_count = 0;
    options.anim_params.bgcolor = 0;
    // SAFETY: valid options; a null result is checked.
    let encoder = unsafe {
        sys::WebPAnimEncoderNewInternal(width as c_int, height as c_int, &options, mux_abi)
    };
    if encoder.is_null() {
        return Err("libwebp could not make an animation encoder".to_string());
    }
    let encoder = AnimationEncoder(encoder);
    let mut timestamp: c_int = 0;
    for frame in frames {
        let mut picture = Picture::from_rgba(frame.rgba, width, height)?;
        // SAFETY: a live encoder, a picture of the encoder's size, a valid config; the
        // encoder copies what it keeps.
        let added =
            unsafe { sys::WebPAnimEncoderAdd(encoder.0, &mut picture.0, timestamp, &config) };
        if added == 0 {
            return Err(encoder.error("a frame could not be encoded"));
        }
        let delay = c_int::try_from(frame.delay_ms.max(1)).unwrap_or(c_int::MAX);
        timestamp = timestamp.saturating_add(delay);
    }
    // No frame: the animation ends at `timestamp`, which gives the last frame its delay.
    // SAFETY: a live encoder; null frame and config are how the end is told.
    let ended = unsafe {
        sys::WebPAnimEncoderAdd(encoder.0, std::ptr::null_mut(), timestamp, std::ptr::null())
    };
    if ended == 0 {
        return Err(encoder.error("the animation could not be ended"));
    }
    let mut data = Data(sys::WebPData::default());
    // SAFETY: a live encoder; `data` receives a buffer libwebp allocated.
    if unsafe { sys::WebPAnimEncoderAssemble(encoder.0, &mut data.0) } == 0 {
        return Err(encoder.error("the animation could not be assembled"));
    }
    if data.0.bytes.is_null() || data.0.size == 0 {
        return Err("the animation is empty".to_string());
    }
    // SAFETY: `size` bytes at `bytes`, allocated until `data` is dropped, after the copy.
    Ok(unsafe { std::slice::from_raw_parts(data.0.bytes, data.0.size) }.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: Settings = Settings {
        quality: 80.0,
        method: 4,
    };

    #[test]
    fn a_still_decodes_back_to_its_size_and_alpha() {
        let mut rgba = [200u8, 120, 40, 255].repeat(64 * 32);
        rgba[3] = 0;
        let bytes = encode_still(&rgba, 64, 32, SETTINGS).unwrap();
        let back = image::load_from_memory(&bytes).unwrap().into_rgba8();
        assert_eq!(back.dimensions(), (64, 32));
        assert_eq!(back.get_pixel(0, 0).0[3], 0);
        assert_eq!(back.get_pixel(10, 10).0[3], 255);
    }

    #[test]
    fn pixels_of_the_wrong_length_never_reach_libwebp() {
        assert!(encode_still(&[0; 15], 2, 2, SETTINGS).is_err());
        assert!(encode_still(&[], 0, 0, SETTINGS).is_err());
        let frames = [AnimationFrame {
            rgba: &[0; 12],
            delay_ms: 100,
        }];
        assert!(encode_animation(&frames, 2, 2, SETTINGS).is_err());
    }

    #[test]
    fn an_animation_keeps_every_frame_and_the_last_delay() {
        let red = [255u8, 0, 0, 255].repeat(16 * 16);
        let blue = [0u8, 0, 255, 255].repeat(16 * 16);
        let frames = [
            AnimationFrame {
                rgba: &red,
                delay_ms: 100,
            },
            AnimationFrame {
                rgba: &blue,
                delay_ms: 300,
            },
        ];
        let bytes = encode_animation(&frames, 16, 16, SETTINGS).unwrap();
        let decoder =
            image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(bytes.as_slice())).unwrap();
        assert!(decoder.has_animation());
        use image::AnimationDecoder as _;
        let decoded: Vec<_> = decoder.into_frames().collect_frames().unwrap();
        assert_eq!(decoded.len(), 2);
        let delays: Vec<u32> = decoded
            .iter()
            .map(|frame| frame.delay().numer_denom_ms().0 / frame.delay().numer_denom_ms().1)
            .collect();
        assert_eq!(delays, [100, 300]);
    }
}
