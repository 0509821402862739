//! Markdown → HTML that is safe to put into the page.
//!
//! Model answers and memory texts are untrusted: a model can be talked into writing `<script>`, and a
//! memory may come from an imported file. So rendering is two steps: pulldown-cmark turns the markdown
//! into HTML with every raw-HTML fragment demoted to plain text and every image demoted to its alt text
//! (the app loads nothing remote: privacy and the CSP), then ammonia keeps only an allow-list of tags and
//! attributes. Only after sanitising do we add the copy buttons of code blocks, which we write ourselves.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// The tags a rendered answer may contain (before copy buttons are added).
const ALLOWED_TAGS: [&str; 25] = [
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
];

const LINK_REL: &str = "noopener noreferrer nofollow";

/// Where a code block ends in sanitised output. Sanitised HTML is a serialised DOM in which text is
/// escaped and no attribute value may contain `<` (see `keep_attribute`), so this string occurs exactly
/// once per code block, at its end.
const CODE_BLOCK_END: &str = "</pre>";

fn parser_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

static SANITISER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = Builder::empty();
    builder
        .tags(ALLOWED_TAGS.into_iter().collect())
        .generic_attributes(HashSet::new())
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href"])),
            ("ol", HashSet::from(["start"])),
            ("code", HashSet::from(["class"])),
        ]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        // A relative link would navigate inside the app; there is no page a model could sensibly link to.
        .url_relative(UrlRelative::Deny)
        .link_rel(Some(LINK_REL))
        .set_tag_attribute_value("a", "target", "_blank")
        .strip_comments(true)
        .attribute_filter(keep_attribute);
    builder
});

/// Second line of defence after the allow-lists: code classes must look like `language-rust`, and no
/// attribute value may carry `<` or `>` (so `CODE_BLOCK_END` cannot hide inside one).
fn keep_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    if value.contains(['<', '>']) {
        return None;
    }
    if (element, attribute) == ("code", "class") {
        let language = value.strip_prefix("language-")?;
        let plausible = !language.is_empty()
            && language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+#.-".contains(c));
        return plausible.then_some(Cow::Borrowed(value));
    }
    Some(Cow::Borrowed(value))
}

/// Renders markdown (CommonMark with tables, strikethrough and task lists) to sanitised HTML.
///
/// Raw HTML in `text` is shown as text; images become their alt text (or their address as text when
/// they have none); links keep only http, https and mailto targets and open in a new tab; task-list
/// boxes become ☐/☑. Each code block is followed by
/// `<button type="button" class="copy-code" data-copy-index="N">Copy</button>`, N counting code blocks
/// from 0 in the order of [`code_blocks`]. Any prefix of a document renders to balanced HTML, so an
/// answer can be re-rendered as it streams in.
pub fn render_markdown(text: &str) -> String {
    let mut unsanitised = String::with_capacity(text.len() + text.len() / 2);
    pulldown_cmark::html::push_html(
        &mut unsanitised,
        demote_unsafe_events(Parser::new_ext(text, parser_options())).into_iter(),
    );
    let sanitised = SANITISER.clean(&unsanitised).to_string();
    add_copy_buttons(&sanitised)
}

/// The exact text of each code block in `text` (fenced or indented), in document order: what the copy
/// button with the same index copies. An unterminated fence runs to the end, as in the rendering.
pub fn code_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut open_block: Option<String> = None;
    for event in Parser::new_ext(text, parser_options()) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => open_block = Some(String::new()),
            Event::Text(code) => {
                if let Some(block) = open_block.as_mut() {
                    block.push_str(&code);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(open_block.take()),
            _ => {}
        }
    }
    blocks
}

/// Rewrites the events that could bring in live HTML or remote content into harmless ones.
fn demote_unsafe_events<'a>(events: impl Iterator<Item = Event<'a>>) -> Vec<Event<'a>> {
    let mut demoted = Vec::new();
    // For each image being read: where its alt text starts in `demoted`, and its address.
    let mut open_images: Vec<(usize, CowStr<'a>)> = Vec::new();
    for event in events {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => demoted.push(Event::Text(html)),
            // A block of raw HTML, now text, still deserves its own paragraph.
            Event::Start(Tag::HtmlBlock) => demoted.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => demoted.push(Event::End(TagEnd::Paragraph)),
            // A checkbox would be a form control; a character says the same.
            Event::TaskListMarker(done) => {
                demoted.push(Event::Text(if done { "☑ " } else { "☐ " }.into()))
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                open_images.push((demoted.len(), dest_url))
            }
            Event::End(TagEnd::Image) => {
                if let Some((alt_start, address)) = open_images.pop() {
                    if demoted.len() == alt_start {
                        demoted.push(Event::Text(address));
                    }
                }
            }
            other => demoted.push(other),
        }
    }
    demoted
}

fn add_copy_buttons(sanitised: &str) -> String {
    let mut with_buttons = String::with_capacity(sanitised.len() + 256);
    let mut rest = sanitised;
    let mut index = 0usize;
    while let Some(position) = rest.find(CODE_BLOCK_END) {
        let (before, after) = rest.split_at(position + CODE_BLOCK_END.len());
        with_buttons.push_str(before);
        with_buttons.push_str(&format!(
            r#"<button type="button" class="copy-code" data-copy-index="{index}">Copy</button>"#
        ));
        index += 1;
        rest = after;
    }
    with_buttons.push_str(rest);
    with_buttons
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tag of rendered output, read the way a browser would (text is escaped, so `<` starts a tag).
    #[derive(Debug)]
    struct TagToken {
        name: String,
        closing: bool,
        attributes: Vec<(String, String)>,
    }

    fn tags_of(html: &str) -> Vec<TagToken> {
        let mut tokens = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            rest = &rest[start + 1..];
            let end = rest.find('>').expect("every tag is closed");
            let inside = &rest[..end];
            rest = &rest[end + 1..];
            let closing = inside.starts_with('/');
            let inside = inside.trim_start_matches('/').trim_end_matches('/');
            let name_end = inside.find(' ').unwrap_or(inside.len());
            let name = inside[..name_end].to_ascii_lowercase();
            let mut attributes = Vec::new();
            let mut attribute_text = &inside[name_end..];
            while let Some(equals) = attribute_text.find("=\"") {
                let attribute_name = attribute_text[..equals].trim().to_ascii_lowercase();
                let value_and_rest = &attribute_text[equals + 2..];
                let close = value_and_rest
                    .find('"')
                    .expect("attribute values are quoted");
                attributes.push((attribute_name, value_and_rest[..close].to_string()));
                attribute_text = &value_and_rest[close + 1..];
            }
            assert!(
                attribute_text.trim().is_empty(),
                "unquoted attribute left in <{inside}>"
            );
            tokens.push(TagToken {
                name,
                closing,
                attributes,
            });
        }
        tokens
    }

    fn assert_balanced(html: &str) {
        const VOID: [&str; 2] = ["br", "hr"];
        let mut open: Vec<String> = Vec::new();
        for tag in tags_of(html) {
            if VOID.contains(&tag.name.as_str()) {
                continue;
            }
            if tag.closing {
                assert_eq!(
                    open.pop().as_deref(),
                    Some(tag.name.as_str()),
                    "unbalanced in {html}"
                );
            } else {
                open.push(tag.name);
            }
        }
        assert!(open.is_empty(), "unclosed {open:?} in {html}");
    }

    fn xss_corpus() -> Vec<String> {
        let corpus = include_str!("../../tests/data/xss_corpus.txt");
        corpus
            .split("\n%%%%\n")
            .map(|record| {
                record
                    .lines()
                    .filter(|line| !line.starts_with("%% "))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .filter(|payload| !payload.trim().is_empty())
            .collect()
    }

    /// The attributes rendered output may have, per tag; everything else is a failure.
    fn attribute_allowed(tag: &str, attribute: &str) -> bool {
        matches!(
            (tag, attribute),
            ("a", "href" | "rel" | "target")
                | ("ol", "start")
                | ("code", "class")
                | ("button", "type" | "class" | "data-copy-index")
        )
    }

    #[test]
    fn xss_corpus_renders_nothing_live() {
        let payloads = xss_corpus();
        assert!(
            payloads.len() >= 30,
            "corpus has {} payloads",
            payloads.len()
        );
        const FORBIDDEN: [&str; 17] = [
            "<script", "<img", "<svg", "<math", "<iframe", "<object", "<embed", "<style", "<meta",
            "<base", "<form", "<link", "<input", "<video", "<audio", "<frame", "<body",
        ];
        for payload in &payloads {
            let html = render_markdown(payload);
            let lower = html.to_ascii_lowercase();
            for forbidden in FORBIDDEN {
                assert!(
                    !lower.contains(forbidden),
                    "{forbidden} in {html:?} from {payload:?}"
                );
            }
            for tag in tags_of(&html) {
                let allowed_tag = ALLOWED_TAGS.contains(&tag.name.as_str()) || tag.name == "button";
                assert!(allowed_tag, "<{}> in {html:?}", tag.name);
                for (name, value) in &tag.attributes {
                    assert!(
                        attribute_allowed(&tag.name, name),
                        "{name}= on <{}> in {html:?} from {payload:?}",
                        tag.name
                    );
                    if name == "href" {
                        assert!(
                            ["http://", "https://", "mailto:"]
                                .iter()
                                .any(|scheme| value.starts_with(scheme)),
                            "href {value:?} from {payload:?}"
                        );
                    }
                }
            }
            assert_balanced(&html);
        }
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render_markdown("Say <b>hi</b> to <script>alert(1)</script>");
        assert!(html.contains("&lt;b&gt;hi&lt;/b&gt;"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        let block = render_markdown("<div onclick=\"x()\">\nhello\n</div>\n");
        assert!(block.starts_with("<p>&lt;div"), "{block}");
    }

    #[test]
    fn links_open_in_a_new_tab_without_referrer() {
        let html =
            render_markdown("[docs](https://example.org/a?b=1&c=2) and <mailto:me@example.org>");
        assert!(
            html.contains(
                r#"<a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">docs</a>"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"href="mailto:me@example.org""#), "{html}");
    }

    #[test]
    fn unsafe_and_relative_links_keep_their_text_but_lose_their_target() {
        for source in [
            "[run](javascript:alert(1))",
            "[run](/settings)",
            "[run](data:text/html,hi)",
        ] {
            let html = render_markdown(source);
            assert!(!html.contains("href"), "{html}");
            assert!(html.contains(">run</a>"), "{html}");
        }
    }

    #[test]
    fn images_become_their_alt_text_or_address() {
        let html = render_markdown("See ![a cat](https://example.org/cat.png) here");
        assert_eq!(html, "<p>See a cat here</p>\n");
        let html = render_markdown("![](https://example.org/cat.png)");
        assert_eq!(html, "<p>https://example.org/cat.png</p>\n");
    }

    #[test]
    fn tables_strikethrough_and_task_lists_render() {
        let html =
            render_markdown("| a | b |\n|:--|--:|\n| 1 | ~~2~~ |\n\n- [x] done\n- [ ] todo\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<td><del>2</del></td>"), "{html}");
        assert!(
            !html.contains("style"),
            "alignment styles are dropped: {html}"
        );
        assert!(html.contains("<li>☑ done</li>"), "{html}");
        assert!(html.contains("<li>☐ todo</li>"), "{html}");
    }

    #[test]
    fn code_blocks_get_language_classes_and_numbered_copy_buttons() {
        let source =
            "```rust\nfn main() {}\n```\n\ntext\n\n    indented <b>\n\n```\"><x\nodd\n```\n";
        let html = render_markdown(source);
        assert!(
            html.contains(concat!(
                r#"<pre><code class="language-rust">fn main() {}"#,
                "\n",
                r#"</code></pre><button type="button" class="copy-code" data-copy-index="0">Copy</button>"#
            )),
            "{html}"
        );
        assert!(html.contains(r#"data-copy-index="1""#), "{html}");
        assert!(
            html.contains(r#"<pre><code>odd"#),
            "an implausible language is dropped: {html}"
        );
        assert!(html.contains(r#"data-copy-index="2""#), "{html}");
        assert_eq!(
            code_blocks(source),
            vec!["fn main() {}\n", "indented <b>\n", "odd\n"]
        );
    }

    #[test]
    fn nothing_in_an_attribute_can_fake_the_end_of_a_code_block() {
        let html = render_markdown(r#"[a](https://example.org/</pre> "</pre>") and `</pre>`"#);
        assert!(!html.contains("copy-code"), "{html}");
    }

    #[test]
    fn every_prefix_of_a_streaming_answer_renders_balanced() {
        let answer = concat!(
            "# Setting up\n\nFirst **install** the *tools* with `cargo`, see [the book](https://doc.rust-lang.org/book/).\n\n",
            "1. Open a terminal\n2. Run this:\n\n   ```bash\n   cargo install trunk\n   ```\n\n3. Done ~~maybe~~.\n\n",
            "> Note: <b>bold</b> claims need ![proof](https://example.org/p.png).\n\n",
            "| Step | Time |\n|------|-----:|\n| build | 3 s |\n| test | 5 s |\n\n",
            "- [x] wrote code\n- [ ] wrote tests\n\n",
            "```rust\nfn main() {\n    println!(\"<hi>\");\n}\n```\n\n",
            "    indented\n    code\n\n---\n\nThat's all. <https://example.org>\n"
        );
        for (end, _) in answer.char_indices().skip(1) {
            let prefix = &answer[..end];
            let html = render_markdown(prefix);
            assert_balanced(&html);
            let buttons = html.matches(r#"class="copy-code""#).count();
            assert_eq!(buttons, code_blocks(prefix).len(), "prefix {prefix:?}");
        }
    }
}
