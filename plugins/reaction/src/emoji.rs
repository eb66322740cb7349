//! What a reaction may be: nothing (which removes one), or a single emoji as people type
//! it: one grapheme cluster (so `👍🏽`, `❤️`, `🇧🇷` and ZWJ families count as one) holding
//! a pictographic character.

use unicode_segmentation::UnicodeSegmentation;

/// Why `text` is not a reaction, if it is not.
pub fn problem(text: &str) -> Option<String> {
    let mut graphemes = text.graphemes(true);
    let first = graphemes.next()?;
    let count = 1 + graphemes.count();
    if count > 1 {
        return Some(format!(
            "must be one emoji (or empty, to remove the reaction), {count} characters given"
        ));
    }
    if !is_emoji(first) {
        return Some(format!(
            "must be an emoji (or empty, to remove the reaction), not {first:?}"
        ));
    }
    None
}

/// Whether one grapheme cluster is an emoji: a keycap (`1️⃣`), or one that holds a
/// character of the blocks emoji come from (an approximation of Unicode's
/// Extended_Pictographic that needs no tables).
fn is_emoji(grapheme: &str) -> bool {
    if grapheme.contains('\u{20E3}') {
        return true;
    }
    grapheme.chars().any(|c| {
        matches!(u32::from(c),
            0x1F000..=0x1FAFF   // mahjong .. pictographs, emoticons, transport, flags' letters
            | 0x2600..=0x27BF   // miscellaneous symbols, dingbats
            | 0x2300..=0x23FF   // ⌚ ⌛ ⏩ ⏰ ...
            | 0x2B00..=0x2BFF   // ⬆ ⬛ ⭐ ⭕ ...
            | 0x2190..=0x21FF   // ↔ ↩ ...
            | 0x25A0..=0x25FF   // ▪ ▶ ◀ ◻ ...
            | 0x2934..=0x2935
            | 0x3030 | 0x303D | 0x3297 | 0x3299
            | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_emoji_of_every_build_are_reactions() {
        for emoji in [
            "👍",
            "👍🏽",
            "❤️",
            "❤",
            "😂",
            "🙏",
            "🇧🇷",
            "👨‍👩‍👧‍👦",
            "1️⃣",
            "⭐",
            "✅",
            "©️",
            "🫠",
        ] {
            assert_eq!(problem(emoji), None, "{emoji}");
        }
        assert_eq!(problem(""), None, "empty removes");
    }

    #[test]
    fn text_and_several_emoji_are_not() {
        for text in ["a", "ok", "👍👍", "👍 ", " ", "1", "é"] {
            assert!(problem(text).is_some(), "{text:?}");
        }
        assert!(problem("👍👎").unwrap().contains("2 characters"));
    }
}
