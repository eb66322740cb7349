//! Recipients as the API accepts them: a phone number or a full JID.

/// The digits a phone number may have, country code included (E.164 allows at most 15).
pub const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// The fewest digits a recipient's phone number may have. Stricter than [`PHONE_DIGITS`]:
/// the send routes have always asked for 10, and a shorter recipient is almost always a
/// number without its country code.
pub const MIN_RECIPIENT_DIGITS: usize = 10;

/// Why a text is not a phone number (see [`normalize_phone`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("empty input")]
    Empty,
    #[error("{0:?} is not allowed in a phone number")]
    Character(char),
    #[error("a phone number needs 7 to 15 digits, {0} given")]
    Length(usize),
    #[error("a phone number starts with its country code, never with 0")]
    LeadingZero,
}

/// The API's one phone-number rule, for recipients, the `POST /paircode` phone and the
/// WhatsApp driver's pair-code request alike; returns the digits.
///
/// Surrounding whitespace and one leading `+` are dropped, and so are spaces, dashes,
/// dots and parentheses anywhere; what remains must be 7 to 15 digits ([`PHONE_DIGITS`]),
/// country code first, so it never starts with 0. Anything else (letters, a second `+`,
/// an `@`) is refused.
pub fn normalize_phone(input: &str) -> Result<String, PhoneError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(PhoneError::Empty);
    }
    let without_plus = input.strip_prefix('+').unwrap_or(input);
    let mut digits = String::with_capacity(without_plus.len());
    for character in without_plus.chars() {
        match character {
            '0'..='9' => digits.push(character),
            ' ' | '-' | '(' | ')' | '.' => {}
            other => return Err(PhoneError::Character(other)),
        }
    }
    if !PHONE_DIGITS.contains(&digits.len()) {
        return Err(PhoneError::Length(digits.len()));
    }
    if digits.starts_with('0') {
        return Err(PhoneError::LeadingZero);
    }
    Ok(digits)
}

/// Normalises a recipient to a JID.
///
/// A phone number follows [`normalize_phone`], with at least [`MIN_RECIPIENT_DIGITS`]
/// digits. A full JID (`…@s.whatsapp.net`, `…@g.us`, `…@lid`) is kept as given once its
/// user part is checked.
pub fn normalize_recipient(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err(PhoneError::Empty.to_string());
    }
    if let Some((user, server)) = input.split_once('@') {
        return normalize_jid(user, server);
    }
    let too_short_or_long = |given: usize| {
        format!("a phone number needs {MIN_RECIPIENT_DIGITS} to 15 digits, {given} given")
    };
    let digits = normalize_phone(input).map_err(|error| match error {
        PhoneError::Character(other) => format!(
            "{other:?} is not allowed in a phone number: digits with country code, or a JID"
        ),
        PhoneError::Length(given) => too_short_or_long(given),
        PhoneError::Empty | PhoneError::LeadingZero => error.to_string(),
    })?;
    if digits.len() < MIN_RECIPIENT_DIGITS {
        return Err(too_short_or_long(digits.len()));
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
    fn one_phone_rule_keeps_the_digits() {
        assert_eq!(
            normalize_phone(" +55 (11) 9999.9999-9 ").unwrap(),
            "5511999999999"
        );
        assert_eq!(normalize_phone("2901234").unwrap(), "2901234");
        assert_eq!(normalize_phone("").unwrap_err(), PhoneError::Empty);
        assert_eq!(
            normalize_phone("123456").unwrap_err(),
            PhoneError::Length(6)
        );
        assert_eq!(
            normalize_phone("1234567890123456").unwrap_err(),
            PhoneError::Length(16)
        );
        assert_eq!(
            normalize_phone("011999999999").unwrap_err(),
            PhoneError::LeadingZero
        );
        assert_eq!(
            normalize_phone("++5511999999999").unwrap_err(),
            PhoneError::Character('+')
        );
        assert_eq!(
            normalize_phone("55119999x9999").unwrap_err(),
            PhoneError::Character('x')
        );
    }

    #[test]
    fn a_recipient_number_needs_ten_digits_and_its_country_code() {
        assert!(
            normalize_recipient("2901234")
                .unwrap_err()
                .contains("10 to 15 digits, 7 given")
        );
        assert!(normalize_recipient("05511999999999").is_err());
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
