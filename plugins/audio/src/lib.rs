//! WUTS audio plugin: transcodes any common audio input to Ogg/Opus for `POST /send/audio`.
pub mod codec;
