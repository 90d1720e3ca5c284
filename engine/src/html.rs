//! Escaping text for HTML: the one escaper of every page of HTML tiendo writes by hand (the
//! email bodies of [`crate::notify`], the HTML reports of the adapters). Templates that escape
//! by themselves (the web pages) need no call here.

/// Escapes text for HTML element content and quoted attribute values: `& < > " '`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s, false);
    out
}

/// Like [`escape`], with line breaks kept as `<br>` (multi-line cells and paragraphs).
pub fn escape_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s, true);
    out
}

/// [`escape_lines`] appended to `out` (a document's many cells, without a string each).
pub fn push_escaped_lines(out: &mut String, s: &str) {
    push_escaped(out, s, true);
}

fn push_escaped(out: &mut String, s: &str, breaks: bool) {
    push_replacing(out, s, |b, _| {
        Some(match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            b'\n' if breaks => "<br>",
            _ => return None,
        })
    });
}

/// Appends `s` to `out`, writing each ASCII byte that `replace` maps (told the byte after it)
/// as its replacement: the loop of every escaper whose special characters are ASCII (this
/// one, the Markdown reports'). The text between two replaced bytes is copied whole: a
/// 100,000-row report is mostly letters, and pushing them one by one was the largest cost of
/// writing it. Bytes of multi-byte characters are never offered, so the copies always cut `s`
/// between characters.
pub fn push_replacing(
    out: &mut String,
    s: &str,
    replace: impl Fn(u8, Option<u8>) -> Option<&'static str>,
) {
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !b.is_ascii() {
            continue;
        }
        if let Some(replacement) = replace(b, bytes.get(i + 1).copied()) {
            out.push_str(&s[plain..i]);
            out.push_str(replacement);
            plain = i + 1;
        }
    }
    out.push_str(&s[plain..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape("<script>alert(\"x\")</script> & 'y'\n"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;\n"
        );
        assert_eq!(escape_lines("a <b>\nc"), "a &lt;b&gt;<br>c");
        assert_eq!(escape("Nhiệm vụ «Cổng»"), "Nhiệm vụ «Cổng»");
    }

    proptest::proptest! {
        /// The run-copying escaper writes what escaping character by character writes.
        #[test]
        fn escaping_is_character_by_character(s in "[a-zA-Zà-ỹ &<>\"'\n\r«»]{0,40}", breaks: bool) {
            let mut reference = String::new();
            for c in s.chars() {
                match c {
                    '&' => reference.push_str("&amp;"),
                    '<' => reference.push_str("&lt;"),
                    '>' => reference.push_str("&gt;"),
                    '"' => reference.push_str("&quot;"),
                    '\'' => reference.push_str("&#39;"),
                    '\n' if breaks => reference.push_str("<br>"),
                    c => reference.push(c),
                }
            }
            let mut out = String::new();
            push_escaped(&mut out, &s, breaks);
            proptest::prop_assert_eq!(out, reference);
        }
    }
}
