//! Server-sent events, parsed from body chunks as they arrive.
//!
//! A network chunk can end anywhere: mid-line, mid-event, between the CR and LF
//! of a line ending, or inside a UTF-8 character. Bytes are buffered up to a line
//! ending and only complete lines are decoded; CR and LF are ASCII, so
//! they never occur inside a multi-byte character.

/// One event: its `event:` name (`message` when it has none) and its `data:`
/// lines joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseParser {
    /// The bytes of the line not yet ended.
    line: Vec<u8>,
    /// The last chunk ended with CR: an LF starting the next chunk belongs to it.
    after_cr: bool,
    /// No line has been read yet (a byte-order mark may start the stream).
    started: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Reads a chunk and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(after_lf) = rest.strip_prefix(b"\n") {
                rest = after_lf;
            }
        }
        while let Some(end) = rest.iter().position(|&byte| byte == b'\n' || byte == b'\r') {
            let (line, ending) = rest.split_at(end);
            self.line.extend_from_slice(line);
            rest = match ending {
                [b'\r', b'\n', after @ ..] => after,
                [b'\r'] => {
                    self.after_cr = true;
                    &[]
                }
                [_, after @ ..] => after,
                [] => &[],
            };
            events.extend(self.end_line());
        }
        self.line.extend_from_slice(rest);
        events
    }

    /// The stream ended: the last line and event count even without the blank
    /// line that would normally end them.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let last_line_event = if self.line.is_empty() {
            None
        } else {
            self.end_line()
        };
        last_line_event.or_else(|| self.dispatch())
    }

    fn end_line(&mut self) -> Option<SseEvent> {
        let bytes = std::mem::take(&mut self.line);
        let decoded = String::from_utf8_lossy(&bytes);
        let mut line: &str = &decoded;
        if !self.started {
            self.started = true;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None; // a comment, e.g. a keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id` and `retry` only matter for reconnecting, which a chat
            // completion never does; other fields are ignored by the standard.
            _ => {}
        }
        None
    }

    /// Ends the current event; as the standard says, one without data lines is
    /// dropped.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str) -> SseEvent {
        SseEvent {
            event: name.to_owned(),
            data: data.to_owned(),
        }
    }

    fn parse_in_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut events: Vec<SseEvent> =
            chunks.iter().flat_map(|chunk| parser.push(chunk)).collect();
        events.extend(parser.finish());
        events
    }

    #[test]
    fn events_have_names_joined_data_lines_and_a_default_name() {
        let stream =
            b"event: ping\ndata: {}\n\ndata: first\ndata: second\nid: 7\n\ndata:no space\n\n";
        assert_eq!(
            parse_in_chunks(&[stream]),
            vec![
                event("ping", "{}"),
                event("message", "first\nsecond"),
                event("message", "no space"),
            ]
        );
    }

    #[test]
    fn crlf_lf_and_cr_line_endings_all_end_lines() {
        let expected = vec![
            event("message", "a"),
            event("x", "b"),
            event("message", "c"),
        ];
        assert_eq!(
            parse_in_chunks(&[b"data: a\r\n\r\nevent: x\rdata: b\r\rdata: c\n\n"]),
            expected
        );
        // The CR and LF of one line ending arrive in different chunks.
        assert_eq!(
            parse_in_chunks(&[
                b"data: a\r",
                b"\n\r",
                b"\nevent: x\r",
                b"data: b\r\r",
                b"data: c\r\n",
                b"\r\n"
            ]),
            expected
        );
    }

    #[test]
    fn comments_and_events_without_data_produce_nothing() {
        assert_eq!(
            parse_in_chunks(&[
                b": OPENROUTER PROCESSING\n\n:keep-alive\n\nevent: lonely\n\ndata: x\n\n"
            ]),
            vec![event("message", "x")]
        );
    }

    #[test]
    fn an_empty_data_line_is_an_event_with_empty_data() {
        assert_eq!(
            parse_in_chunks(&[b"data\n\ndata:\n\n"]),
            vec![event("message", ""), event("message", "")]
        );
    }

    #[test]
    fn a_character_split_across_chunks_is_decoded_whole() {
        let stream = "data: héllo 🙂 世界\n\n".as_bytes();
        for split in 0..=stream.len() {
            let (first, second) = stream.split_at(split);
            assert_eq!(
                parse_in_chunks(&[first, second]),
                vec![event("message", "héllo 🙂 世界")],
                "split at byte {split}"
            );
        }
    }

    #[test]
    fn finish_flushes_a_last_event_without_its_blank_line() {
        assert_eq!(
            parse_in_chunks(&[b"data: [DONE]"]),
            vec![event("message", "[DONE]")]
        );
        assert_eq!(
            parse_in_chunks(&[b"data: [DONE]\n"]),
            vec![event("message", "[DONE]")]
        );
        let mut parser = SseParser::new();
        assert!(
            parser.push(b"data: partial").is_empty(),
            "no event before the line ends"
        );
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_skipped() {
        assert_eq!(
            parse_in_chunks(&[b"\xef\xbb", b"\xbfdata: x\n\n"]),
            vec![event("message", "x")]
        );
    }
}
