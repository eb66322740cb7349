//! vCard 3.0 text for a contact card, values escaped per RFC 6350 §3.4.
//!
//! ```text
//! BEGIN:VCARD
//! VERSION:3.0
//! N:<last_name>;<first_name>;;;
//! FN:<display_name>
//! ORG:<company>                              (when given)
//! TEL;type=CELL;waid=<digits>:+<digits>
//! EMAIL;type=INTERNET:<email>                (when given)
//! END:VCARD
//! ```
//!
//! `waid` is what makes WhatsApp offer "Message" / "Add" for the number; without first or
//! last name, `N` carries the display name as the given name. Lines end in `\n`, as the
//! vCards WhatsApp clients exchange do.

use std::fmt::Write as _;

/// A contact as the card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Card {
    pub display_name: String,
    /// Digits only, country code first.
    pub phone_digits: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
}

/// Escapes a text value: backslash, comma and semicolon get a backslash, and a line
/// break (CRLF, CR or LF) becomes `\n`.
pub fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ',' => escaped.push_str("\\,"),
            ';' => escaped.push_str("\\;"),
            '\r' => {
                chars.next_if_eq(&'\n');
                escaped.push_str("\\n");
            }
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    escaped
}

impl Card {
    /// The vCard text.
    pub fn to_vcard(&self) -> String {
        let mut card = String::with_capacity(160);
        card.push_str("BEGIN:VCARD\nVERSION:3.0\n");
        let (family, given) = match (&self.last_name, &self.first_name) {
            (None, None) => (String::new(), escape(&self.display_name)),
            (last, first) => (
                escape(last.as_deref().unwrap_or("")),
                escape(first.as_deref().unwrap_or("")),
            ),
        };
        let _ = writeln!(card, "N:{family};{given};;;");
        let _ = writeln!(card, "FN:{}", escape(&self.display_name));
        if let Some(company) = &self.company {
            let _ = writeln!(card, "ORG:{}", escape(company));
        }
        let digits = &self.phone_digits;
        let _ = writeln!(card, "TEL;type=CELL;waid={digits}:+{digits}");
        if let Some(email) = &self.email {
            let _ = writeln!(card, "EMAIL;type=INTERNET:{}", escape(email));
        }
        card.push_str("END:VCARD");
        card
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_special_characters_are_escaped() {
        assert_eq!(escape(r"a\b"), r"a\\b");
        assert_eq!(escape("Silva, Maria"), r"Silva\, Maria");
        assert_eq!(escape("WUTS; Ltda"), r"WUTS\; Ltda");
        assert_eq!(escape("one\ntwo\r\nthree\rfour"), r"one\ntwo\nthree\nfour");
        assert_eq!(escape(r"\,;"), r"\\\,\;");
        assert_eq!(escape("Olá 👋 São"), "Olá 👋 São");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn a_full_card_has_every_property() {
        let card = Card {
            display_name: "Maria Silva".into(),
            phone_digits: "5511988887777".into(),
            first_name: Some("Maria".into()),
            last_name: Some("Silva".into()),
            company: Some("WUTS".into()),
            email: Some("maria@example.com".into()),
        };
        assert_eq!(
            card.to_vcard(),
            "BEGIN:VCARD\nVERSION:3.0\nN:Silva;Maria;;;\nFN:Maria Silva\nORG:WUTS\n\
             TEL;type=CELL;waid=5511988887777:+5511988887777\n\
             EMAIL;type=INTERNET:maria@example.com\nEND:VCARD"
        );
    }

    #[test]
    fn a_minimal_card_names_the_display_name_and_escapes_it() {
        let card = Card {
            display_name: "Souza, João; \\ the\nboss".into(),
            phone_digits: "5511977776666".into(),
            ..Default::default()
        };
        assert_eq!(
            card.to_vcard(),
            "BEGIN:VCARD\nVERSION:3.0\nN:;Souza\\, João\\; \\\\ the\\nboss;;;\n\
             FN:Souza\\, João\\; \\\\ the\\nboss\n\
             TEL;type=CELL;waid=5511977776666:+5511977776666\nEND:VCARD"
        );
    }

    #[test]
    fn only_a_last_name_leaves_the_given_name_empty() {
        let card = Card {
            display_name: "Dr. Costa".into(),
            phone_digits: "5511900000000".into(),
            last_name: Some("Costa".into()),
            company: Some("Hospital, Central; SP".into()),
            ..Default::default()
        };
        let text = card.to_vcard();
        assert!(text.contains("\nN:Costa;;;;\n"), "{text}");
        assert!(text.contains("\nORG:Hospital\\, Central\\; SP\n"), "{text}");
        assert!(!text.contains("EMAIL"), "{text}");
        // Every line is one property: no raw line break inside a value.
        assert_eq!(text.lines().count(), 7, "{text}");
    }
}
