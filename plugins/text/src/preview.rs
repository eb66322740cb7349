//! Link previews, asked for with `"linkPreview": true`: the first http(s) URL of the text
//! is fetched through the host (under its `[fetch]` policy) and its page's title and
//! description go into the `extendedTextMessage` as clients send them: `matchedText` (the
//! URL as written), `title`, `description`, `previewType: NONE` (Baileys
//! `generateWAMessageContent`, whose `linkPreview` / `getUrlInfo` this follows). A page
//! that cannot be fetched, or has no title, gives no preview: the text is sent without
//! one, never refused. Thumbnails are not made.

use wuts_plugin_api::Host;

/// How much of a page is read for its title and description.
const MAX_PAGE_BYTES: u64 = 512 * 1024;
const MAX_TITLE_CHARS: usize = 256;
const MAX_DESCRIPTION_CHARS: usize = 512;

/// What a preview shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPreview {
    /// The URL as it appears in the text.
    pub matched_text: String,
    pub title: String,
    pub description: Option<String>,
}

/// The first `http://` or `https://` URL in `text`, without trailing punctuation.
pub fn first_url(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let start = [lower.find("https://"), lower.find("http://")]
        .into_iter()
        .flatten()
        .min()?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
        .unwrap_or(rest.len());
    let url = rest[..end].trim_end_matches(|c: char| {
        matches!(
            c,
            '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']' | '}' | '\'' | '*' | '_' | '~'
        )
    });
    let host = url.split("://").nth(1).unwrap_or("");
    (!host.is_empty()).then_some(url)
}

/// Fetches the first URL of `text` and reads its preview; `None` when there is no URL or
/// nothing to show.
pub fn fetch(text: &str, host: &Host<'_>) -> Option<LinkPreview> {
    let url = first_url(text)?;
    let page = match host.fetch(url, MAX_PAGE_BYTES) {
        Ok(page) => page,
        Err(error) => {
            tracing::debug!(code = %error.code, "no link preview: the page could not be fetched");
            return None;
        }
    };
    let html = String::from_utf8_lossy(&page.bytes);
    let (title, description) = read_page(&html);
    Some(LinkPreview {
        matched_text: url.to_string(),
        title: title?,
        description,
    })
}

/// A page's title (`og:title`, else `twitter:title`, else `<title>`) and description
/// (`og:description`, else `description`), entities decoded and whitespace collapsed.
pub fn read_page(html: &str) -> (Option<String>, Option<String>) {
    let mut og_title = None;
    let mut twitter_title = None;
    let mut og_description = None;
    let mut description = None;
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(found) = lower[at..].find("<meta") {
        let start = at + found;
        let end = lower[start..]
            .find('>')
            .map_or(html.len(), |end| start + end);
        let tag = &html[start..end];
        let key = attribute(tag, "property").or_else(|| attribute(tag, "name"));
        if let (Some(key), Some(content)) = (key, attribute(tag, "content")) {
            let slot = match key.to_ascii_lowercase().as_str() {
                "og:title" => &mut og_title,
                "twitter:title" => &mut twitter_title,
                "og:description" => &mut og_description,
                "description" => &mut description,
                _ => {
                    at = end;
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(content);
            }
        }
        at = end;
    }
    let title_tag = lower.find("<title").and_then(|start| {
        let open_end = start + lower[start..].find('>')? + 1;
        let close = open_end + lower[open_end..].find("</title")?;
        Some(html[open_end..close].to_string())
    });
    let title = [og_title, twitter_title, title_tag]
        .into_iter()
        .flatten()
        .map(|text| clean(&text, MAX_TITLE_CHARS))
        .find(|text| !text.is_empty());
    let description = [og_description, description]
        .into_iter()
        .flatten()
        .map(|text| clean(&text, MAX_DESCRIPTION_CHARS))
        .find(|text| !text.is_empty());
    (title, description)
}

/// An attribute's value in a tag (`name="value"`, `name='value'`), names matched without
/// regard to case.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut at = 0;
    while let Some(found) = lower[at..].find(name) {
        let start = at + found;
        at = start + name.len();
        let before = lower[..start].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = tag[at..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let quote = rest.chars().next()?;
        if quote == '"' || quote == '\'' {
            let value = &rest[1..];
            return Some(value[..value.find(quote)?].to_string());
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(rest.len());
        return Some(rest[..end].to_string());
    }
    None
}

/// Decodes the common entities, collapses whitespace and keeps at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let decoded = decode_entities(text);
    let collapsed: Vec<&str> = decoded.split_whitespace().collect();
    collapsed.join(" ").chars().take(max).collect()
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_url_is_found_without_trailing_punctuation() {
        assert_eq!(
            first_url("see https://example.com/a?b=1, then"),
            Some("https://example.com/a?b=1")
        );
        assert_eq!(
            first_url("(HTTP://Example.com/x)."),
            Some("HTTP://Example.com/x")
        );
        assert_eq!(
            first_url("a http://a.b and https://c.d"),
            Some("http://a.b")
        );
        assert_eq!(first_url("no link here, www.example.com"), None);
        assert_eq!(first_url("https:// nothing"), None);
    }

    #[test]
    fn open_graph_wins_over_the_title_tag() {
        let html = r#"<html><head><title>Plain title</title>
            <meta property="og:title" content="Shop &amp; More &#x1F6D2;">
            <META NAME='description' CONTENT='Fresh
               coffee, &quot;daily&quot;'>
            <meta name="og:description" content="">
            </head></html>"#;
        let (title, description) = read_page(html);
        assert_eq!(title.as_deref(), Some("Shop & More 🛒"));
        assert_eq!(description.as_deref(), Some("Fresh coffee, \"daily\""));
    }

    #[test]
    fn the_title_tag_is_the_fallback_and_a_page_without_one_has_none() {
        let (title, description) = read_page("<title>\n  Only  this </title>");
        assert_eq!(title.as_deref(), Some("Only this"));
        assert_eq!(description, None);
        assert_eq!(read_page("<p>nothing</p>"), (None, None));
        assert_eq!(
            read_page("<meta content=\"x\" property=\"og:title\"/>")
                .0
                .as_deref(),
            Some("x")
        );
    }
}
