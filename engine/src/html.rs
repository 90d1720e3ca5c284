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
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' if breaks => out.push_str("<br>"),
            c => out.push(c),
        }
    }
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
}
