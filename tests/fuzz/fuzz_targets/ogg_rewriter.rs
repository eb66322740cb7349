//! The audio plugin's Ogg rewriter (`codec::ogg_code3::repack_to_code3`), which repacks a
//! voice note's Opus packets three to a packet. Each input is tried as it is and with its
//! pages' checksums repaired, so that mutated streams reach the code behind the reader's
//! CRC check. A stream it accepts must come out as one it accepts again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::repair_ogg_checksums;
use wuts_plugin_audio::codec::ogg_code3::repack_to_code3;

fuzz_target!(|input: &[u8]| {
    let _ = repack_to_code3(input);
    let mut repaired = input.to_vec();
    repair_ogg_checksums(&mut repaired);
    if let Ok(output) = repack_to_code3(&repaired)
        && let Err(error) = repack_to_code3(&output)
    {
        panic!("the rewriter's own output is refused: {error}");
    }
});
