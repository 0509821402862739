//! Documents → memory chunks.
//!
//! A file the user adds (or text they paste) is decoded, turned into readable text with its headings
//! found, and cut into chunks that each become one `Kind::DocumentChunk` memory. The embedding model
//! reads at most 256 tokens, so a chunk is kept under a conservative token estimate; it carries the
//! headings it sits under as context, and repeats a sentence or two of the chunk before it so a thought
//! cut at a boundary can still be found.

use std::ops::Range;
use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::memory::{Kind, Memory, MemoryId, Millis, Source};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DocumentError {
    #[error("{source_name}: this looks like a binary file ({reason}). Add text, Markdown or HTML files.")]
    Binary { source_name: String, reason: String },
    #[error("{source_name}: there is nothing to add, it contains no text.")]
    NothingToAdd { source_name: String },
    #[error("{source_name} is a PDF, which Casebook cannot read. Open it, copy its text and paste that, or save it as a text file and add that.")]
    Pdf { source_name: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentFormat {
    PlainText,
    Markdown,
    Html,
}

/// How the bytes of a text file were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    /// Also covers Latin-1 (ISO-8859-1), whose printable characters it shares.
    Windows1252,
}

/// A heading found in the document's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heading {
    /// 1 for a top-level heading, up to 6.
    pub level: u8,
    /// The heading's words, without markup.
    pub title: String,
    /// Where the heading (with any markup, e.g. `## `) sits in [`ExtractedDocument::text`].
    pub range: Range<usize>,
}

/// A document turned into text, ready to be chunked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractedDocument {
    pub format: DocumentFormat,
    pub encoding: TextEncoding,
    /// The readable text; Markdown stays Markdown. Line breaks are `\n`.
    pub text: String,
    /// In document order.
    pub headings: Vec<Heading>,
    /// Bytes that were not valid in the detected encoding and became U+FFFD; the UI says so when > 0.
    pub replaced_characters: usize,
}

/// Turns a file's bytes into text. The type comes from the content first (PDFs and other binary
/// formats are refused), then from the file name's extension.
pub fn extract_text(file_name: &str, bytes: &[u8]) -> Result<ExtractedDocument, DocumentError> {
    if is_pdf(bytes) {
        return Err(DocumentError::Pdf {
            source_name: file_name.to_string(),
        });
    }
    if let Some(kind) = binary_signature(bytes) {
        return Err(DocumentError::Binary {
            source_name: file_name.to_string(),
            reason: kind.to_string(),
        });
    }
    let decoded = decode(bytes).map_err(|reason| DocumentError::Binary {
        source_name: file_name.to_string(),
        reason,
    })?;
    let DecodedText {
        text,
        encoding,
        replaced_characters,
    } = decoded;
    let (format, text, headings) = match format_of(file_name, &text) {
        DocumentFormat::Html => {
            let (readable, headings) = html_text(&text);
            (DocumentFormat::Html, readable, headings)
        }
        DocumentFormat::Markdown => {
            let headings = markdown_headings(&text);
            (DocumentFormat::Markdown, text, headings)
        }
        DocumentFormat::PlainText => (DocumentFormat::PlainText, text, Vec::new()),
    };
    ensure_some_text(
        file_name,
        ExtractedDocument {
            format,
            encoding,
            text,
            headings,
            replaced_characters,
        },
    )
}

/// Pasted text is read as Markdown: plain prose is valid Markdown, and pasted notes often carry headings.
pub fn extract_pasted_text(text: &str) -> Result<ExtractedDocument, DocumentError> {
    let text = normalise_line_breaks(text);
    ensure_some_text(
        "The pasted text",
        ExtractedDocument {
            format: DocumentFormat::Markdown,
            encoding: TextEncoding::Utf8,
            headings: markdown_headings(&text),
            text,
            replaced_characters: 0,
        },
    )
}

fn ensure_some_text(
    source_name: &str,
    document: ExtractedDocument,
) -> Result<ExtractedDocument, DocumentError> {
    if document.text.trim().is_empty() {
        Err(DocumentError::NothingToAdd {
            source_name: source_name.to_string(),
        })
    } else {
        Ok(document)
    }
}

// ---------------------------------------------------------------------------------------------------
// Detecting and decoding

/// PDF readers accept the header anywhere in the first kilobyte. Reading PDFs would take a PDF parser
/// (about 0.5–0.7 MB more gzipped wasm) whose failure on a malformed file may be a panic, which aborts
/// the whole app in a release build; so PDFs are refused with a way around it.
fn is_pdf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(5).any(|window| window == b"%PDF-")
}

/// Names the binary formats people most often pick by mistake, so the error can say what the file is.
fn binary_signature(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: [(&[u8], &str); 9] = [
        (
            b"PK\x03\x04",
            "a ZIP archive; Word, Excel and EPUB files are ZIP archives, save it as text",
        ),
        (
            b"\xD0\xCF\x11\xE0",
            "an old Microsoft Office file; save it as text",
        ),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"RIFF", "a RIFF media file"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"\x7FELF", "a program"),
        (b"7z\xBC\xAF", "a 7-Zip archive"),
    ];
    SIGNATURES
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, kind)| *kind)
}

struct DecodedText {
    text: String,
    encoding: TextEncoding,
    replaced_characters: usize,
}

/// Above this share of control characters a file is not text, whatever its encoding claims.
const MAX_CONTROL_SHARE: f64 = 0.05;

fn decode(bytes: &[u8]) -> Result<DecodedText, String> {
    let decoded = if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        decode_utf16(rest, u16::from_le_bytes, TextEncoding::Utf16Le)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        decode_utf16(rest, u16::from_be_bytes, TextEncoding::Utf16Be)
    } else {
        let (body, had_bom) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => (rest, true),
            None => (bytes, false),
        };
        if body.contains(&0) {
            return Err("it contains NUL bytes".to_string());
        }
        match std::str::from_utf8(body) {
            Ok(text) => DecodedText {
                text: text.to_string(),
                encoding: TextEncoding::Utf8,
                replaced_characters: 0,
            },
            // A byte-order mark says UTF-8 for sure, so a bad byte is damage, not another encoding.
            Err(_) if had_bom => DecodedText {
                text: String::from_utf8_lossy(body).into_owned(),
                encoding: TextEncoding::Utf8,
                // from_utf8_lossy puts one U+FFFD for each invalid sequence.
                replaced_characters: body
                    .utf8_chunks()
                    .filter(|chunk| !chunk.invalid().is_empty())
                    .count(),
            },
            Err(_) => DecodedText {
                text: body.iter().map(|&byte| windows_1252_char(byte)).collect(),
                encoding: TextEncoding::Windows1252,
                replaced_characters: 0,
            },
        }
    };
    let total = decoded.text.chars().count();
    let control = decoded
        .text
        .chars()
        .filter(|&c| {
            (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0C}')) || c == '\u{FFFD}'
        })
        .count();
    if total > 0 && control as f64 > total as f64 * MAX_CONTROL_SHARE {
        return Err(format!(
            "{}% of its characters are control characters",
            (control * 100).div_ceil(total)
        ));
    }
    Ok(DecodedText {
        text: normalise_line_breaks(&decoded.text),
        ..decoded
    })
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16, encoding: TextEncoding) -> DecodedText {
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    let mut replaced_characters = usize::from(bytes.len() % 2 == 1);
    let mut text: String = char::decode_utf16(units)
        .map(|decoded| {
            decoded.unwrap_or_else(|_| {
                replaced_characters += 1;
                '\u{FFFD}'
            })
        })
        .collect();
    if bytes.len() % 2 == 1 {
        text.push('\u{FFFD}');
    }
    DecodedText {
        text,
        encoding,
        replaced_characters,
    }
}

/// Windows-1252 differs from Latin-1 only in 0x80–0x9F; the five bytes it leaves undefined map to the
/// C1 controls of the same value, as browsers do.
fn windows_1252_char(byte: u8) -> char {
    const HIGH_CONTROLS: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match byte {
        0x80..=0x9F => HIGH_CONTROLS[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

fn normalise_line_breaks(text: &str) -> String {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_string()
    }
}

fn format_of(file_name: &str, text: &str) -> DocumentFormat {
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "md" | "markdown" | "mdown" | "mkd" | "mdx" => DocumentFormat::Markdown,
        "html" | "htm" | "xhtml" => DocumentFormat::Html,
        _ if looks_like_html(text) => DocumentFormat::Html,
        _ => DocumentFormat::PlainText,
    }
}

fn looks_like_html(text: &str) -> bool {
    let start: String = text
        .trim_start()
        .chars()
        .take(15)
        .collect::<String>()
        .to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

// ---------------------------------------------------------------------------------------------------
// Markdown

/// Top-level headings only: a heading inside a list or quote is part of that block's text.
fn markdown_headings(text: &str) -> Vec<Heading> {
    let mut headings = Vec::new();
    let mut depth = 0usize;
    for (event, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) if depth == 0 => {
                let title = markdown_heading_title(text.get(range.clone()).unwrap_or_default());
                if !title.is_empty() {
                    headings.push(Heading {
                        level: level as u8,
                        title,
                        range,
                    });
                }
                depth += 1;
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    headings
}

/// The words of a heading as written (links and emphasis markers stay, so no word of it is lost),
/// without the `#` marks of an ATX heading or the underline of a setext one.
fn markdown_heading_title(source: &str) -> String {
    let trimmed = source.trim();
    let title = if trimmed.starts_with('#') {
        let without_opening = trimmed.trim_start_matches('#');
        let without_closing = without_opening.trim_end_matches('#');
        // A closing run of `#` only counts when a space separates it from the words.
        if without_closing.ends_with([' ', '\t']) || without_closing.trim().is_empty() {
            without_closing.to_string()
        } else {
            without_opening.to_string()
        }
    } else {
        let mut lines: Vec<&str> = trimmed.lines().collect();
        lines.pop();
        lines.join(" ")
    };
    collapse_whitespace(&title)
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------------
// HTML

/// Block-level tags: each starts a new paragraph of the extracted text.
const HTML_BLOCK_TAGS: [&str; 22] = [
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "caption",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "hr",
    "form",
];
const HTML_HEADING_TAGS: [&str; 6] = ["h1", "h2", "h3", "h4", "h5", "h6"];
const HTML_LINE_TAGS: [&str; 4] = ["li", "tr", "td", "th"];
/// Elements whose content is not the document's text: code, styling, navigation and page chrome.
const HTML_DROPPED_TAGS: [&str; 17] = [
    "script", "style", "noscript", "template", "head", "title", "nav", "aside", "footer", "svg",
    "math", "iframe", "object", "canvas", "select", "textarea", "button",
];

/// ammonia (html5ever underneath) parses the page as a browser would, decodes every entity, drops the
/// non-text elements with their content and unwraps all other tags but the structural ones. Its output
/// is a normalised serialisation (only those tags, no attributes, no comments, text escaped with four
/// entities), which a small scanner then turns into text.
static HTML_STRUCTURE: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(
            HTML_BLOCK_TAGS
                .into_iter()
                .chain(HTML_HEADING_TAGS)
                .chain(HTML_LINE_TAGS)
                .chain(["br"])
                .collect(),
        )
        .clean_content_tags(HTML_DROPPED_TAGS.into_iter().collect())
        .generic_attributes(Default::default())
        .tag_attributes(Default::default())
        .link_rel(None)
        .strip_comments(true);
    builder
});

/// The readable text of a page and the headings in it.
fn html_text(html: &str) -> (String, Vec<Heading>) {
    let normalised = HTML_STRUCTURE.clean(html).to_string();
    let mut writer = HtmlTextWriter::default();
    let mut rest = normalised.as_str();
    while let Some(tag_start) = rest.find('<') {
        writer.text(&rest[..tag_start]);
        let after = &rest[tag_start + 1..];
        let Some(tag_end) = after.find('>') else {
            writer.text(after);
            rest = "";
            break;
        };
        writer.tag(&after[..tag_end]);
        rest = &after[tag_end + 1..];
    }
    writer.text(rest);
    let HtmlTextWriter {
        mut text, headings, ..
    } = writer;
    text.truncate(text.trim_end().len());
    (text, headings)
}

#[derive(Default)]
struct HtmlTextWriter {
    text: String,
    headings: Vec<Heading>,
    /// Whitespace inside `<pre>` is kept as written.
    preformatted_depth: usize,
    /// Whitespace was seen since the last word; it becomes one space before the next word.
    pending_space: bool,
    /// Level and start of the heading being written.
    open_heading: Option<(u8, usize)>,
    /// Cells written in the current table row.
    cells_in_row: usize,
}

impl HtmlTextWriter {
    fn tag(&mut self, tag: &str) {
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/').trim_end_matches('/').trim();
        if let Some(level) = HTML_HEADING_TAGS.iter().position(|&h| h == name) {
            self.paragraph_break();
            if closing {
                self.close_heading();
            } else {
                self.open_heading = Some((level as u8 + 1, self.text.len()));
            }
            return;
        }
        match (name, closing) {
            ("br", _) => self.line_break(),
            ("pre", false) => {
                self.paragraph_break();
                self.preformatted_depth += 1;
            }
            ("pre", true) => {
                self.preformatted_depth = self.preformatted_depth.saturating_sub(1);
                self.paragraph_break();
            }
            ("li", false) => {
                self.line_break();
                self.text.push_str("- ");
            }
            ("tr", false) => {
                self.line_break();
                self.cells_in_row = 0;
            }
            ("td" | "th", false) => {
                if self.cells_in_row > 0 {
                    self.text.push_str(" | ");
                }
                self.cells_in_row += 1;
                self.pending_space = false;
            }
            _ if HTML_BLOCK_TAGS.contains(&name) => self.paragraph_break(),
            _ => {}
        }
    }

    fn close_heading(&mut self) {
        if let Some((level, start)) = self.open_heading.take() {
            let end = self.text.trim_end().len();
            let title = self
                .text
                .get(start..end)
                .map(collapse_whitespace)
                .unwrap_or_default();
            if !title.is_empty() {
                self.headings.push(Heading {
                    level,
                    title,
                    range: start..end,
                });
            }
        }
    }

    fn text(&mut self, escaped: &str) {
        let decoded = escaped
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&nbsp;", "\u{A0}")
            .replace("&quot;", "\"")
            .replace("&amp;", "&");
        if self.preformatted_depth > 0 {
            self.text.push_str(&decoded);
            return;
        }
        for c in decoded.chars() {
            if c.is_whitespace() {
                self.pending_space = true;
                continue;
            }
            if self.pending_space && !self.text.is_empty() && !self.text.ends_with([' ', '\n']) {
                self.text.push(' ');
            }
            self.pending_space = false;
            self.text.push(c);
        }
    }

    fn line_break(&mut self) {
        self.trim_trailing_spaces();
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        self.pending_space = false;
    }

    fn paragraph_break(&mut self) {
        self.line_break();
        if !self.text.is_empty() && !self.text.ends_with("\n\n") {
            self.text.push('\n');
        }
    }

    fn trim_trailing_spaces(&mut self) {
        let kept = self.text.trim_end_matches([' ', '\t']).len();
        self.text.truncate(kept);
    }
}

// ---------------------------------------------------------------------------------------------------
// Chunking

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkOptions {
    /// Upper bound on [`estimate_tokens`] of a chunk's text, heading path included. The model reads 256
    /// tokens, two of which are its start and end markers; keep this at 64 or more.
    pub max_tokens: usize,
    /// Upper bound on the words of a chunk's text.
    pub max_words: usize,
    /// A chunk repeats up to this many tokens (at most two sentences) from the end of the one before.
    pub overlap_tokens: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            max_tokens: 240,
            max_words: 200,
            overlap_tokens: 48,
        }
    }
}

/// A part of a document that becomes one memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// 0, 1, 2… in document order.
    pub index: u32,
    /// The memory's text: the heading path as context ("Guide › Install › Linux: …"), then the part of
    /// the document.
    pub text: String,
    /// Titles of the headings the chunk sits under, outermost first (long ones shortened with "…").
    pub heading_path: Vec<String>,
    /// The part of [`ExtractedDocument::text`] the chunk holds, overlap included.
    pub byte_range: Range<usize>,
}

/// All chunks of a document at once; see [`Chunker`] to show progress or stop half-way.
pub fn chunk(document: &ExtractedDocument, options: ChunkOptions) -> Vec<Chunk> {
    Chunker::new(document, options).collect()
}

const HEADING_SEPARATOR: &str = " › ";
/// Sentences that a chunk may repeat from the one before it.
const MAX_OVERLAP_ATOMS: usize = 2;
/// A heading in the path gets at most this share of the token budget, so the path of six nested
/// headings leaves most of a chunk for the document itself.
const HEADING_SHARE_OF_BUDGET: usize = 16;

/// Cuts a document into chunks one at a time, so the caller can report progress between chunks and
/// stop when the user cancels. Splits at headings first, then paragraphs, sentences, lines, words, and
/// inside a word only when one word alone is too long. Deterministic; never yields an empty chunk, and
/// every word of the document is in some chunk, in order.
pub struct Chunker<'a> {
    text: &'a str,
    options: ChunkOptions,
    sections: Vec<Section>,
    next_section: usize,
    current: Option<SectionCutter>,
    next_index: u32,
    bytes_done: usize,
}

/// The text under one heading, up to the next heading.
struct Section {
    path: Vec<String>,
    /// The text to cut: the body, from the heading itself when its title had to be shortened in the
    /// path (so none of its words is lost).
    to_cut: Range<usize>,
    /// A heading with no text and no subheadings still becomes a chunk of its own.
    heading_only: Option<Range<usize>>,
}

/// The smallest piece of text a chunk is made of: a sentence, or a part of one that was too long.
struct Atom {
    range: Range<usize>,
    tokens: usize,
    words: usize,
}

struct SectionCutter {
    path: Vec<String>,
    prefix: String,
    atoms: Vec<Atom>,
    /// The first atom no chunk has held yet.
    next_atom: usize,
    /// Where the next chunk starts: before `next_atom` when it repeats the end of the previous chunk.
    overlap_start: usize,
    /// Token and word budgets for the atoms of one chunk (the prefix takes the rest).
    budget: usize,
    word_budget: usize,
}

impl<'a> Chunker<'a> {
    pub fn new(document: &'a ExtractedDocument, options: ChunkOptions) -> Chunker<'a> {
        Chunker {
            text: &document.text,
            options,
            sections: sections_of(document, options),
            next_section: 0,
            current: None,
            next_index: 0,
            bytes_done: 0,
        }
    }

    /// How far through the document's text chunking has got, in bytes; see [`Chunker::bytes_total`].
    pub fn bytes_done(&self) -> usize {
        self.bytes_done
    }

    pub fn bytes_total(&self) -> usize {
        self.text.len()
    }

    fn emit(&mut self, text: String, heading_path: Vec<String>, byte_range: Range<usize>) -> Chunk {
        let index = self.next_index;
        self.next_index += 1;
        self.bytes_done = self.bytes_done.max(byte_range.end);
        Chunk {
            index,
            text,
            heading_path,
            byte_range,
        }
    }
}

impl Iterator for Chunker<'_> {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        loop {
            if let Some(cutter) = self.current.as_mut() {
                if let Some(atoms) = cutter.next_atoms(self.options) {
                    let (Some(first), Some(last)) = (
                        cutter.atoms.get(atoms.start),
                        cutter.atoms.get(atoms.end - 1),
                    ) else {
                        continue;
                    };
                    let range = first.range.start..last.range.end;
                    let body = self.text.get(range.clone()).unwrap_or_default();
                    let text = format!("{}{body}", cutter.prefix);
                    let path = cutter.path.clone();
                    return Some(self.emit(text, path, range));
                }
                self.current = None;
            }
            let section = self.sections.get(self.next_section)?;
            self.next_section += 1;
            if let Some(range) = section.heading_only.clone() {
                let (text, path) = (section.path.join(HEADING_SEPARATOR), section.path.clone());
                return Some(self.emit(text, path, range));
            }
            self.current = Some(SectionCutter::new(self.text, section, self.options));
        }
    }
}

fn sections_of(document: &ExtractedDocument, options: ChunkOptions) -> Vec<Section> {
    let text = document.text.as_str();
    let heading_budget = (options.max_tokens / HEADING_SHARE_OF_BUDGET).max(2);
    let mut sections = Vec::with_capacity(document.headings.len() + 1);
    let preamble_end = document
        .headings
        .first()
        .map_or(text.len(), |heading| heading.range.start);
    sections.push(Section {
        path: Vec::new(),
        to_cut: 0..preamble_end,
        heading_only: None,
    });
    let mut open: Vec<(u8, String)> = Vec::new();
    for (position, heading) in document.headings.iter().enumerate() {
        while open
            .last()
            .is_some_and(|(level, _)| *level >= heading.level)
        {
            open.pop();
        }
        let (shown_title, shortened) = shorten_heading(&heading.title, heading_budget);
        open.push((heading.level, shown_title));
        let next = document.headings.get(position + 1);
        let body_end = next.map_or(text.len(), |next| next.range.start);
        let start = if shortened {
            heading.range.start
        } else {
            heading.range.end
        };
        let to_cut = start..body_end.max(start);
        let has_text = text
            .get(to_cut.clone())
            .is_some_and(|s| !s.trim().is_empty());
        let has_subheadings = next.is_some_and(|next| next.level > heading.level);
        sections.push(Section {
            path: open.iter().map(|(_, title)| title.clone()).collect(),
            to_cut,
            heading_only: (!has_text && !has_subheadings).then(|| heading.range.clone()),
        });
    }
    sections
}

/// The title as shown in a chunk's heading path: whole if it fits `budget` tokens, else its first
/// words and "…". Says whether it was shortened.
fn shorten_heading(title: &str, budget: usize) -> (String, bool) {
    if estimate_tokens(title) <= budget {
        return (title.to_string(), false);
    }
    let ellipsis_budget = budget.saturating_sub(1);
    let mut shortened = String::new();
    for word in title.split_whitespace() {
        let candidate_tokens = estimate_tokens(&shortened) + estimate_tokens(word);
        if candidate_tokens > ellipsis_budget {
            break;
        }
        if !shortened.is_empty() {
            shortened.push(' ');
        }
        shortened.push_str(word);
    }
    if shortened.is_empty() {
        let mut counter = TokenCounter::default();
        for c in title.chars() {
            counter.push(c);
            if counter.total() > ellipsis_budget {
                break;
            }
            shortened.push(c);
        }
    }
    shortened.push('…');
    (shortened, true)
}

impl SectionCutter {
    fn new(text: &str, section: &Section, options: ChunkOptions) -> SectionCutter {
        let prefix = if section.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", section.path.join(HEADING_SEPARATOR))
        };
        let budget = options
            .max_tokens
            .saturating_sub(estimate_tokens(&prefix))
            .max(1);
        let word_budget = options
            .max_words
            .saturating_sub(prefix.split_whitespace().count())
            .max(1);
        let limits = AtomLimits {
            tokens: budget,
            words: word_budget,
            piece_tokens: options.overlap_tokens.clamp(1, budget),
        };
        let mut atoms = Vec::new();
        for paragraph in paragraphs(text, section.to_cut.clone()) {
            for sentence in sentences(text, paragraph) {
                cut_to_fit(text, sentence, limits, &mut atoms);
            }
        }
        SectionCutter {
            path: section.path.clone(),
            prefix,
            atoms,
            next_atom: 0,
            overlap_start: 0,
            budget,
            word_budget,
        }
    }

    /// The atoms of the next chunk, as a range of indices into `atoms`.
    fn next_atoms(&mut self, options: ChunkOptions) -> Option<Range<usize>> {
        let first_new = self.atoms.get(self.next_atom)?;
        let fits = |tokens: usize, words: usize| tokens <= self.budget && words <= self.word_budget;
        let mut start = self.overlap_start.min(self.next_atom);
        let mut tokens: usize = self.atoms[start..self.next_atom]
            .iter()
            .map(|atom| atom.tokens)
            .sum();
        let mut words: usize = self.atoms[start..self.next_atom]
            .iter()
            .map(|atom| atom.words)
            .sum();
        // The repeated sentences must leave room for something new.
        if !fits(tokens + first_new.tokens, words + first_new.words) {
            start = self.next_atom;
            tokens = 0;
            words = 0;
        }
        let mut end = self.next_atom;
        while let Some(atom) = self.atoms.get(end) {
            if end > start && !fits(tokens + atom.tokens, words + atom.words) {
                break;
            }
            tokens += atom.tokens;
            words += atom.words;
            end += 1;
        }
        let first_new_index = self.next_atom;
        self.next_atom = end;
        self.overlap_start = self.overlap_start_after(first_new_index..end, options);
        Some(start..end)
    }

    /// The last sentence or two of what the chunk added, if they are short enough to repeat.
    fn overlap_start_after(&self, added: Range<usize>, options: ChunkOptions) -> usize {
        let mut start = added.end;
        let mut tokens = 0;
        while start > added.start && added.end - start < MAX_OVERLAP_ATOMS {
            let Some(atom) = self.atoms.get(start - 1) else {
                break;
            };
            if tokens + atom.tokens > options.overlap_tokens {
                break;
            }
            tokens += atom.tokens;
            start -= 1;
        }
        start
    }
}

#[derive(Clone, Copy)]
struct AtomLimits {
    /// What one atom may hold at most: a whole chunk's budget.
    tokens: usize,
    words: usize,
    /// Size of the pieces a too-long sentence is cut into, so that they can serve as overlap.
    piece_tokens: usize,
}

fn measure(text: &str, range: Range<usize>) -> Atom {
    let slice = text.get(range.clone()).unwrap_or_default();
    Atom {
        tokens: estimate_tokens(slice),
        words: slice.split_whitespace().count(),
        range,
    }
}

/// Adds `range` as one atom if it fits, else its lines, else groups of its words, else pieces of a
/// word.
fn cut_to_fit(text: &str, range: Range<usize>, limits: AtomLimits, atoms: &mut Vec<Atom>) {
    let atom = measure(text, range.clone());
    if atom.tokens <= limits.tokens && atom.words <= limits.words {
        atoms.push(atom);
        return;
    }
    let lines = lines(text, range.clone());
    if lines.len() > 1 {
        for line in lines {
            cut_to_fit(text, line, limits, atoms);
        }
        return;
    }
    let mut group: Option<Atom> = None;
    for word in words(text, range) {
        let word = measure(text, word);
        if word.tokens > limits.piece_tokens {
            atoms.extend(group.take());
            cut_word(text, word.range, limits.piece_tokens, atoms);
            continue;
        }
        match group.as_mut() {
            Some(open) if open.tokens + word.tokens <= limits.piece_tokens => {
                open.range.end = word.range.end;
                open.tokens += word.tokens;
                open.words += 1;
            }
            _ => {
                atoms.extend(group.take());
                group = Some(word);
            }
        }
    }
    atoms.extend(group);
}

/// Cuts one overlong word into pieces of at most `piece_tokens` tokens each (at least one character).
fn cut_word(text: &str, range: Range<usize>, piece_tokens: usize, atoms: &mut Vec<Atom>) {
    let Some(word) = text.get(range.clone()) else {
        return;
    };
    let mut piece_start = 0;
    let mut counter = TokenCounter::default();
    for (offset, c) in word.char_indices() {
        let mut grown = counter;
        grown.push(c);
        if grown.fragment_total() > piece_tokens && offset > piece_start {
            atoms.push(Atom {
                range: range.start + piece_start..range.start + offset,
                tokens: counter.fragment_total(),
                words: 1,
            });
            piece_start = offset;
            grown = TokenCounter::default();
            grown.push(c);
        }
        counter = grown;
    }
    atoms.push(Atom {
        range: range.start + piece_start..range.end,
        tokens: counter.fragment_total(),
        words: 1,
    });
}

/// Trims `relative` (a range within `range`'s slice) and makes it absolute, or None if only whitespace.
fn trimmed(text: &str, absolute_start: usize, relative: Range<usize>) -> Option<Range<usize>> {
    let slice = text.get(absolute_start + relative.start..absolute_start + relative.end)?;
    let start = absolute_start + relative.start + (slice.len() - slice.trim_start().len());
    let end = absolute_start + relative.start + slice.trim_end().len();
    (start < end).then_some(start..end)
}

/// Paragraphs are separated by blank lines, except inside a fenced code block.
fn paragraphs(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let Some(slice) = text.get(range.clone()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut paragraph_start: Option<usize> = None;
    let mut in_fence = false;
    let mut line_start = 0;
    for line in slice.split_inclusive('\n') {
        let line_end = line_start + line.len();
        let content = line.trim();
        if content.is_empty() && !in_fence {
            if let Some(start) = paragraph_start.take() {
                found.extend(trimmed(text, range.start, start..line_start));
            }
        } else {
            if content.starts_with("```") || content.starts_with("~~~") {
                in_fence = !in_fence;
            }
            paragraph_start.get_or_insert(line_start);
        }
        line_start = line_end;
    }
    if let Some(start) = paragraph_start {
        found.extend(trimmed(text, range.start, start..slice.len()));
    }
    found
}

/// Sentences end at `.`, `!`, `?` or `…` (with any closing quotes or brackets) before whitespace, or at
/// an ideographic full stop.
fn sentences(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let Some(slice) = text.get(range.clone()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut sentence_start = 0;
    let mut characters = slice.char_indices().peekable();
    while let Some((_, c)) = characters.next() {
        let ideographic = matches!(c, '。' | '！' | '？');
        if !(ideographic || matches!(c, '.' | '!' | '?' | '…')) {
            continue;
        }
        while characters
            .next_if(|&(_, next)| matches!(next, '"' | '\'' | ')' | ']' | '”' | '’' | '»'))
            .is_some()
        {}
        let end = characters.peek().map_or(slice.len(), |&(offset, _)| offset);
        let at_space = characters
            .peek()
            .is_none_or(|&(_, next)| next.is_whitespace());
        if ideographic || at_space {
            found.extend(trimmed(text, range.start, sentence_start..end));
            sentence_start = end;
        }
    }
    found.extend(trimmed(text, range.start, sentence_start..slice.len()));
    found
}

fn lines(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let Some(slice) = text.get(range.clone()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut line_start = 0;
    for line in slice.split_inclusive('\n') {
        found.extend(trimmed(
            text,
            range.start,
            line_start..line_start + line.len(),
        ));
        line_start += line.len();
    }
    found
}

fn words(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let Some(slice) = text.get(range.clone()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut word_start: Option<usize> = None;
    for (offset, c) in slice.char_indices() {
        match (c.is_whitespace(), word_start) {
            (true, Some(start)) => {
                found.push(range.start + start..range.start + offset);
                word_start = None;
            }
            (false, None) => word_start = Some(offset),
            _ => {}
        }
    }
    if let Some(start) = word_start {
        found.push(range.start + start..range.end);
    }
    found
}

// ---------------------------------------------------------------------------------------------------
// Token estimate

/// A conservative estimate of how many WordPiece tokens the embedding model's tokenizer makes of
/// `text` (its start and end markers not counted). Measured against the model's tokenizer on chunks of
/// SciFact abstracts (technical, many numbers) and STS-B sentences (everyday English), the true count
/// was at most 0.95 and 0.86 of this estimate; everyday English comes to about 1.9 estimated tokens a
/// word.
pub fn estimate_tokens(text: &str) -> usize {
    let mut counter = TokenCounter::default();
    text.chars().for_each(|c| counter.push(c));
    counter.total()
}

/// Letters in a row that still count as one token: most short words are in the vocabulary.
const SHORT_WORD_LETTERS: usize = 4;
/// Letters per token in longer words, which WordPiece often cuts into pieces.
const LETTERS_PER_PIECE: usize = 3;
/// Digits per token: numbers are cut into short pieces.
const DIGITS_PER_PIECE: usize = 2;

#[derive(Default, Clone, Copy)]
struct TokenCounter {
    /// Tokens of everything before the current word.
    finished: usize,
    letters: usize,
    digits: usize,
}

impl TokenCounter {
    fn push(&mut self, c: char) {
        if c.is_ascii_digit() {
            self.digits += 1;
        } else if is_word_letter(c) {
            self.letters += 1;
        } else {
            self.finished += self.word_tokens(true);
            self.letters = 0;
            self.digits = 0;
            if !c.is_whitespace() {
                // Punctuation, symbols and letters of other scripts (CJK, Cyrillic…): one token each.
                self.finished += 1;
            }
        }
    }

    fn word_tokens(&self, whole_word: bool) -> usize {
        let letter_tokens = if whole_word && (1..=SHORT_WORD_LETTERS).contains(&self.letters) {
            1
        } else {
            self.letters.div_ceil(LETTERS_PER_PIECE)
        };
        letter_tokens + self.digits.div_ceil(DIGITS_PER_PIECE)
    }

    fn total(&self) -> usize {
        self.finished + self.word_tokens(true)
    }

    /// The count for a piece cut out of a longer word: without the short-word allowance, so that the
    /// pieces of a word never add up to less than the whole word.
    fn fragment_total(&self) -> usize {
        self.finished + self.word_tokens(false)
    }
}

/// Letters WordPiece joins into words: ASCII ones and the accented Latin letters the uncased model
/// folds onto them.
fn is_word_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (('\u{C0}'..='\u{24F}').contains(&c) && c.is_alphabetic())
}

// ---------------------------------------------------------------------------------------------------
// Documents in the memory

/// The largest file added as a document: about 2,000 pages of plain text.
pub const MAX_DOCUMENT_BYTES: usize = 10_000_000;

/// A document the user added, as the documents list shows it; its chunks are the memories `memory_ids`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub id: String,
    /// The file's name, or the title given to pasted text.
    pub name: String,
    pub format: DocumentFormat,
    /// The size of the readable text, in bytes.
    pub text_bytes: usize,
    pub added_at: Millis,
    pub pool: String,
    pub memory_ids: Vec<MemoryId>,
}

/// The memories `chunks` of document `document_id` become, in `pool`, with ids from `new_id`.
pub fn chunk_memories(
    document_id: &str,
    chunks: &[Chunk],
    pool: &str,
    now: Millis,
    mut new_id: impl FnMut() -> MemoryId,
) -> Vec<Memory> {
    chunks
        .iter()
        .map(|chunk| {
            let mut memory = Memory::new(
                new_id(),
                Kind::DocumentChunk,
                chunk.text.clone(),
                Source::Document {
                    document_id: document_id.to_owned(),
                    chunk_index: chunk.index,
                },
                now,
            );
            memory.pool = pool.to_owned();
            memory
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(str::to_lowercase)
            .collect()
    }

    /// Every word of the document appears in the chunks' texts, in document order.
    fn assert_every_word_kept(document: &ExtractedDocument, chunks: &[Chunk]) {
        let chunk_words: Vec<String> = chunks.iter().flat_map(|c| words_of(&c.text)).collect();
        let mut position = 0;
        for word in words_of(&document.text) {
            match chunk_words[position..].iter().position(|w| *w == word) {
                Some(found) => position += found + 1,
                None => panic!("{word:?} is missing from the chunks (or out of order)"),
            }
        }
    }

    /// Every non-whitespace byte outside headings is inside some chunk's range.
    fn assert_text_covered(document: &ExtractedDocument, chunks: &[Chunk]) {
        for (offset, c) in document.text.char_indices() {
            let in_heading = document.headings.iter().any(|h| h.range.contains(&offset));
            let covered = chunks
                .iter()
                .any(|chunk| chunk.byte_range.contains(&offset));
            assert!(
                c.is_whitespace() || in_heading || covered,
                "{c:?} at byte {offset} is in no chunk"
            );
        }
    }

    fn assert_within_limits(chunks: &[Chunk], options: ChunkOptions) {
        assert!(!chunks.is_empty());
        for (position, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.index as usize, position);
            assert!(!chunk.text.trim().is_empty(), "empty chunk {position}");
            let tokens = estimate_tokens(&chunk.text);
            assert!(
                tokens <= options.max_tokens,
                "chunk {position} has {tokens} tokens"
            );
            let words = chunk.text.split_whitespace().count();
            assert!(
                words <= options.max_words,
                "chunk {position} has {words} words"
            );
        }
    }

    fn checked_chunks(document: &ExtractedDocument) -> Vec<Chunk> {
        let options = ChunkOptions::default();
        let chunks = chunk(document, options);
        assert_within_limits(&chunks, options);
        assert_text_covered(document, &chunks);
        chunks
    }

    /// Prose of numbered sentences of ordinary length, so overlap and sizes can be checked.
    fn prose(sentences: usize) -> String {
        (0..sentences)
            .map(|n| {
                let end = if n % 5 == 4 { ".\n\n" } else { ". " };
                format!(
                    "Sentence number {n} talks about the harbour and the weather on that day{end}"
                )
            })
            .collect()
    }

    #[test]
    fn plain_utf8_text_is_read_as_is() {
        let document =
            extract_text("notes.txt", "Grüße aus Köln.\r\nZweite Zeile.".as_bytes()).unwrap();
        assert_eq!(document.format, DocumentFormat::PlainText);
        assert_eq!(document.encoding, TextEncoding::Utf8);
        assert_eq!(document.text, "Grüße aus Köln.\nZweite Zeile.");
        assert!(document.headings.is_empty());
    }

    #[test]
    fn a_utf8_byte_order_mark_is_dropped_and_damage_is_counted() {
        let document = extract_text("a.txt", b"\xEF\xBB\xBFcaf\xC3\xA9").unwrap();
        assert_eq!(document.text, "café");
        let damaged = extract_text("a.txt", b"\xEF\xBB\xBFok \xC3 then more text here").unwrap();
        assert_eq!(damaged.encoding, TextEncoding::Utf8);
        assert_eq!(damaged.text, "ok \u{FFFD} then more text here");
        assert_eq!(damaged.replaced_characters, 1);
    }

    #[test]
    fn utf16_with_byte_order_mark_is_decoded_both_ways() {
        let original = "Grüße, 世界!\r\nNext line 🙂";
        let mut little = vec![0xFF, 0xFE];
        let mut big = vec![0xFE, 0xFF];
        for unit in original.encode_utf16() {
            little.extend(unit.to_le_bytes());
            big.extend(unit.to_be_bytes());
        }
        let from_little = extract_text("u.txt", &little).unwrap();
        assert_eq!(from_little.encoding, TextEncoding::Utf16Le);
        assert_eq!(from_little.text, "Grüße, 世界!\nNext line 🙂");
        let from_big = extract_text("u.txt", &big).unwrap();
        assert_eq!(from_big.encoding, TextEncoding::Utf16Be);
        assert_eq!(from_big.text, from_little.text);
        assert_eq!(from_big.replaced_characters, 0);
    }

    #[test]
    fn legacy_windows_1252_and_latin1_text_keeps_every_character() {
        let document = extract_text(
            "old.txt",
            b"Caf\xE9 cr\xE8me \x80 5, \x93quoted\x94 \x96 na\xEFve \xA9 2001",
        )
        .unwrap();
        assert_eq!(document.encoding, TextEncoding::Windows1252);
        assert_eq!(document.text, "Café crème € 5, “quoted” – naïve © 2001");
    }

    #[test]
    fn binary_files_are_refused_with_a_reason() {
        let error = extract_text("data.bin", b"abc\0def").unwrap_err();
        assert_eq!(
            error.to_string(),
            "data.bin: this looks like a binary file (it contains NUL bytes). Add text, Markdown or HTML files."
        );
        let png = extract_text("photo.txt", b"\x89PNG\r\n\x1a\n rest").unwrap_err();
        assert!(png.to_string().contains("(a PNG image)"), "{png}");
        let docx = extract_text("report.docx", b"PK\x03\x04 rest").unwrap_err();
        assert!(docx.to_string().contains("Word"), "{docx}");
        let controls: Vec<u8> = (0..400u32)
            .map(|n| [0x01, 0x02, b'a', 0x1B][n as usize % 4])
            .collect();
        let noise = extract_text("noise.txt", &controls).unwrap_err();
        assert!(
            noise
                .to_string()
                .contains("75% of its characters are control characters"),
            "{noise}"
        );
    }

    #[test]
    fn nothing_but_whitespace_is_nothing_to_add() {
        for bytes in [&b""[..], b"  \n\t\r\n   ", b"\xEF\xBB\xBF \n"] {
            let error = extract_text("blank.md", bytes).unwrap_err();
            assert_eq!(
                error.to_string(),
                "blank.md: there is nothing to add, it contains no text."
            );
        }
        assert!(matches!(
            extract_pasted_text(" \n \n"),
            Err(DocumentError::NothingToAdd { .. })
        ));
    }

    #[test]
    fn markdown_headings_become_the_path_of_each_chunk() {
        let source = "Intro line.\n\n# Guide\n\nWelcome.\n\n## Install\n\n### Linux\n\nRun `apt install x`.\n\n```sh\n# not a heading\n\nstill code\n```\n\n### Mac ###\n\nUse brew.\n\nSetext title\n------------\n\nUnder it.\n";
        let document = extract_text("guide.md", source.as_bytes()).unwrap();
        assert_eq!(document.format, DocumentFormat::Markdown);
        let titles: Vec<(u8, &str)> = document
            .headings
            .iter()
            .map(|h| (h.level, h.title.as_str()))
            .collect();
        assert_eq!(
            titles,
            [
                (1, "Guide"),
                (2, "Install"),
                (3, "Linux"),
                (3, "Mac"),
                (2, "Setext title")
            ]
        );
        let chunks = checked_chunks(&document);
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Intro line.",
                "Guide: Welcome.",
                "Guide › Install › Linux: Run `apt install x`.\n\n```sh\n# not a heading\n\nstill code\n```",
                "Guide › Install › Mac: Use brew.",
                "Guide › Setext title: Under it.",
            ]
        );
        assert_eq!(chunks[2].heading_path, ["Guide", "Install", "Linux"]);
        assert_eq!(&document.text[chunks[3].byte_range.clone()], "Use brew.");
        assert_every_word_kept(&document, &chunks);
    }

    #[test]
    fn a_heading_without_text_under_it_is_still_kept() {
        let document = extract_pasted_text("# Notes\n\nSome text.\n\n# Empty section\n").unwrap();
        let chunks = checked_chunks(&document);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1].text, "Empty section");
        assert_every_word_kept(&document, &chunks);
    }

    #[test]
    fn a_very_long_heading_is_shortened_in_the_path_but_kept_whole() {
        let long_title = (0..60)
            .map(|n| format!("word{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let document = extract_pasted_text(&format!(
            "## {long_title}\n\nBody text.\n\n### Child\n\nMore."
        ))
        .unwrap();
        let chunks = checked_chunks(&document);
        assert!(chunks[0].heading_path[0].ends_with('…'));
        assert!(chunks[0].heading_path[0].len() < long_title.len());
        assert!(chunks.iter().any(|c| c.text.contains("word59")));
        assert_every_word_kept(&document, &chunks);
    }

    #[test]
    fn html_becomes_readable_text_with_its_headings() {
        let html = r#"<!DOCTYPE html><html><head><title>Page title</title>
            <style>body { color: red }</style><script>var secret = 1;</script></head>
            <body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
            <h1>Caf&eacute; &amp; <em>Bar</em></h1>
            <p>Opening   hours&nbsp;are <b>9&ndash;17</b>.<br>Closed on Sundays.</p>
            <!-- a comment -->
            <h2>Menu</h2>
            <ul><li>Coffee &lt;hot&gt;</li><li>Tea</li></ul>
            <table><tr><th>Item</th><th>Price</th></tr><tr><td>Cake</td><td>&euro;3</td></tr></table>
            <pre>  indented
    code</pre>
            <footer>Copyright</footer></body></html>"#;
        let document = extract_text("page.html", html.as_bytes()).unwrap();
        assert_eq!(document.format, DocumentFormat::Html);
        assert_eq!(
            document.text,
            "Café & Bar\n\nOpening hours are 9–17.\nClosed on Sundays.\n\nMenu\n\n- Coffee <hot>\n- Tea\n\nItem | Price\nCake | €3\n\n  indented\n    code"
        );
        let titles: Vec<(u8, &str)> = document
            .headings
            .iter()
            .map(|h| (h.level, h.title.as_str()))
            .collect();
        assert_eq!(titles, [(1, "Café & Bar"), (2, "Menu")]);
        let chunks = checked_chunks(&document);
        assert!(
            chunks[1]
                .text
                .starts_with("Café & Bar › Menu: - Coffee <hot>"),
            "{}",
            chunks[1].text
        );
        assert_every_word_kept(&document, &chunks);
    }

    #[test]
    fn html_is_recognised_by_its_content_without_an_extension() {
        let document =
            extract_text("download", b"  <!doctype html><p>Hello <i>there</i></p>").unwrap();
        assert_eq!(document.format, DocumentFormat::Html);
        assert_eq!(document.text, "Hello there");
        let text = extract_text("notes.txt", b"<b> is how you write bold").unwrap();
        assert_eq!(text.format, DocumentFormat::PlainText);
    }

    #[test]
    fn chunks_are_sized_for_the_model_and_overlap_by_a_sentence_or_two() {
        let document = extract_pasted_text(&prose(120)).unwrap();
        let chunks = checked_chunks(&document);
        assert!(chunks.len() >= 4, "{} chunks", chunks.len());
        for pair in chunks.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            assert!(after.byte_range.start < before.byte_range.end, "no overlap");
            let repeated = &document.text[after.byte_range.start..before.byte_range.end];
            let sentences = repeated.matches("Sentence number").count();
            assert!(
                (1..=2).contains(&sentences),
                "{sentences} sentences repeated: {repeated:?}"
            );
            assert!(
                repeated.trim_end().ends_with('.'),
                "repeats whole sentences: {repeated:?}"
            );
        }
        for chunk in &chunks[..chunks.len() - 1] {
            let words = chunk.text.split_whitespace().count();
            assert!((120..=200).contains(&words), "{words} words");
        }
        assert_every_word_kept(&document, &chunks);
    }

    #[test]
    fn chunking_is_deterministic() {
        let document = extract_pasted_text(&format!("# A\n\n{}", prose(50))).unwrap();
        assert_eq!(
            chunk(&document, ChunkOptions::default()),
            chunk(&document, ChunkOptions::default())
        );
    }

    #[test]
    fn one_enormous_word_is_cut_into_pieces_within_the_limits() {
        let word: String = (0..50_000)
            .map(|n| char::from(b'a' + (n % 26) as u8))
            .collect();
        let document = extract_text(
            "word.txt",
            format!("Before it. {word} After it.").as_bytes(),
        )
        .unwrap();
        let chunks = checked_chunks(&document);
        assert!(chunks.len() > 10);
        assert!(chunks[0].text.starts_with("Before it."));
        assert!(chunks.last().unwrap().text.ends_with("After it."));
    }

    #[test]
    fn ten_thousand_tiny_lines_keep_every_word_within_the_limits() {
        let lines: String = (0..10_000).map(|n| format!("l{n}\n")).collect();
        let document = extract_text("lines.txt", lines.as_bytes()).unwrap();
        let chunks = checked_chunks(&document);
        assert_every_word_kept(&document, &chunks);
        assert!(chunks.len() < 200, "{} chunks", chunks.len());
    }

    #[test]
    fn a_megabyte_chunks_with_progress_and_can_stop_early() {
        let mut text = String::new();
        while text.len() < 1_000_000 {
            text.push_str(&format!("## Part {}\n\n{}", text.len(), prose(40)));
        }
        let document = extract_pasted_text(&text).unwrap();
        let mut chunker = Chunker::new(&document, ChunkOptions::default());
        assert_eq!(chunker.bytes_total(), document.text.len());
        let first_three: Vec<Chunk> = chunker.by_ref().take(3).collect();
        assert_eq!(first_three.len(), 3);
        let mut last_progress = chunker.bytes_done();
        assert!(last_progress > 0 && last_progress < chunker.bytes_total());
        let mut rest = 0;
        while chunker.next().is_some() {
            assert!(chunker.bytes_done() >= last_progress);
            last_progress = chunker.bytes_done();
            rest += 1;
        }
        assert!(rest > 1000);
        assert_eq!(chunker.bytes_done(), document.text.trim_end().len());
    }

    #[test]
    fn a_pdf_is_refused_with_a_way_around_it_whatever_its_name() {
        let error = extract_text("paper.txt", b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj").unwrap_err();
        assert_eq!(
            error.to_string(),
            "paper.txt is a PDF, which Casebook cannot read. Open it, copy its text and paste that, or save it as a text file and add that."
        );
    }

    #[test]
    fn the_token_estimate_counts_words_pieces_and_punctuation() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("the cat"), 2);
        assert_eq!(estimate_tokens("internationalisation!"), 8);
        assert_eq!(estimate_tokens("in 2024"), 3);
        assert_eq!(estimate_tokens("東京"), 2);
    }

    #[test]
    fn a_document_becomes_one_memory_per_chunk_that_points_back_to_it() {
        let document = extract_text(
            "guide.md",
            b"# Guide\n\nInstall it.\n\n## Linux\n\nRun the script.",
        )
        .unwrap();
        let chunks = chunk(&document, ChunkOptions::default());
        let mut next = 0u64;
        let memories = chunk_memories("d1", &chunks, "work", 7, || {
            next += 1;
            MemoryId::new(7, next)
        });
        assert_eq!(memories.len(), chunks.len());
        for (memory, chunk) in memories.iter().zip(&chunks) {
            assert_eq!(memory.kind, Kind::DocumentChunk);
            assert_eq!(memory.text, chunk.text);
            assert_eq!(memory.pool, "work");
            assert_eq!(
                memory.source,
                Source::Document {
                    document_id: "d1".into(),
                    chunk_index: chunk.index
                }
            );
        }
        assert_ne!(memories[0].id, memories.last().unwrap().id);
    }
}
