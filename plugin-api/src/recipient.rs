//! Recipients as the API accepts them: a phone number or a full JID.

/// Normalises a recipient to a JID.
///
/// A phone number may contain spaces, dashes, parentheses and a leading `+`; 10 to 15
/// digits must remain, country code first. A full JID (`…@s.whatsapp.net`, `…@g.us`,
/// `…@lid`) is kept as given once its user part is checked.
pub fn normalize_recipient(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("empty input".to_string());
    }
    if let Some((user, server)) = input.split_once('@') {
        return normalize_jid(user, server);
    }
    let without_plus = input.strip_prefix('+').unwrap_or(input);
    let mut digits = String::with_capacity(without_plus.len());
    for character in without_plus.chars() {
        match character {
            '0'..='9' => digits.push(character),
            ' ' | '-' | '(' | ')' | '.' => {}
            other => {
                return Err(format!(
                    "{other:?} is not allowed in a phone number: digits with country code, or a JID"
                ));
            }
        }
    }
    if !(10..=15).contains(&digits.len()) {
        return Err(format!(
            "a phone number needs 10 to 15 digits, {} given",
            digits.len()
        ));
    }
    Ok(format!("{digits}@s.whatsapp.net"))
}

fn normalize_jid(user: &str, server: &str) -> Result<String, String> {
    let (user_part, device) = match user.split_once(':') {
        Some((user, device)) => (user, Some(device)),
        None => (user, None),
    };
    let all_digits = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
    let valid = match server {
        "s.whatsapp.net" => all_digits(user_part) && (5..=20).contains(&user_part.len()),
        "lid" => all_digits(user_part),
        // Group ids are digits, or the older `creator-timestamp` form.
        "g.us" => !user_part.is_empty() && user_part.split('-').all(all_digits),
        "newsletter" => all_digits(user_part),
        _ => {
            return Err(format!(
                "unknown JID server {server:?}: use s.whatsapp.net, g.us, lid or newsletter"
            ));
        }
    };
    if !valid || device.is_some_and(|device| !all_digits(device)) {
        return Err(format!("{user}@{server} is not a valid JID"));
    }
    Ok(format!("{user}@{server}"))
}

/// Whether a JID names a group chat.
pub fn is_group(jid: &str) -> bool {
    jid.ends_with("@g.us")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_stripped_to_digits() {
        assert_eq!(
            normalize_recipient("+55 (11) 99999-9999").unwrap(),
            "5511999999999@s.whatsapp.net"
        );
        assert_eq!(
            normalize_recipient("5511999999999").unwrap(),
            "5511999999999@s.whatsapp.net"
        );
    }

    #[test]
    fn too_few_or_many_digits_and_letters_are_refused() {
        assert!(
            normalize_recipient("123456789")
                .unwrap_err()
                .contains("10 to 15")
        );
        assert!(
            normalize_recipient("1234567890123456")
                .unwrap_err()
                .contains("16 given")
        );
        assert!(normalize_recipient("55119999abcd").is_err());
        assert_eq!(normalize_recipient("  ").unwrap_err(), "empty input");
    }

    #[test]
    fn jids_are_kept_and_checked() {
        assert_eq!(
            normalize_recipient("120363025246125486@g.us").unwrap(),
            "120363025246125486@g.us"
        );
        assert_eq!(
            normalize_recipient("5511999999999-1600000000@g.us").unwrap(),
            "5511999999999-1600000000@g.us"
        );
        assert_eq!(
            normalize_recipient("123456789012345@lid").unwrap(),
            "123456789012345@lid"
        );
        assert!(normalize_recipient("abc@s.whatsapp.net").is_err());
        assert!(normalize_recipient("123@example.com").is_err());
        assert!(is_group("1@g.us") && !is_group("1@s.whatsapp.net"));
    }
}
