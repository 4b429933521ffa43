//! NDJSON request bodies, read line by line in chunks as they stream in.

use axum::body::{Body, BodyDataStream, Bytes};
use futures::StreamExt;

/// One record of a stream: its index (line number minus one) and what its line parsed to.
pub(crate) type Line<T> = (usize, Result<T, String>);

/// Splits a streamed body into lines and parses each with `parse`, handing them out in
/// chunks so that the caller can commit a chunk before reading on. Blank lines are skipped;
/// a line that is not UTF-8, does not parse or is longer than `max_line` bytes is an `Err`
/// under its index and never stops the stream.
pub(crate) struct NdjsonChunks<T> {
    stream: BodyDataStream,
    parse: fn(&str) -> Result<T, String>,
    max_line: usize,
    chunk: usize,
    /// The start of the current line, when it began in an earlier piece of the body.
    buf: Vec<u8>,
    /// What is left of the piece of the body being split.
    rest: Bytes,
    /// The current line is over-long and already reported: drop it up to its newline.
    skipping: bool,
    line_no: usize,
    done: bool,
}

impl<T> NdjsonChunks<T> {
    pub(crate) fn new(body: Body, max_line: usize, chunk: usize, parse: fn(&str) -> Result<T, String>) -> Self {
        Self {
            stream: body.into_data_stream(),
            parse,
            max_line,
            chunk: chunk.max(1),
            buf: Vec::new(),
            rest: Bytes::new(),
            skipping: false,
            line_no: 0,
            done: false,
        }
    }

    fn line(&self, line: &[u8]) -> Option<Line<T>> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let parsed = std::str::from_utf8(line)
            .map_err(|e| format!("line is not valid UTF-8 (at byte {})", e.valid_up_to()))
            .and_then(self.parse);
        Some((self.line_no, parsed))
    }

    fn too_long(&self) -> String {
        format!("line is longer than {} bytes", self.max_line)
    }

    /// The next chunk of up to `chunk` records, `None` after the last; `Err` when the body
    /// broke (the client went away), with the reason.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Vec<Line<T>>>, String> {
        let mut items = Vec::new();
        while !self.done {
            while let Some(pos) = self.rest.iter().position(|&b| b == b'\n') {
                let head = self.rest.split_to(pos + 1);
                let head = &head[..pos];
                if self.skipping {
                    self.skipping = false;
                } else if self.buf.len() + head.len() > self.max_line {
                    // Whole in this piece, or completed by it: as long either way.
                    items.push((self.line_no, Err(self.too_long())));
                } else if self.buf.is_empty() {
                    items.extend(self.line(head));
                } else {
                    self.buf.extend_from_slice(head);
                    let line = std::mem::take(&mut self.buf);
                    items.extend(self.line(&line));
                }
                self.buf.clear();
                self.line_no += 1;
                if items.len() >= self.chunk {
                    return Ok(Some(items));
                }
            }
            if !self.skipping {
                self.buf.extend_from_slice(&self.rest);
                if self.buf.len() > self.max_line {
                    items.push((self.line_no, Err(self.too_long())));
                    self.buf.clear();
                    self.skipping = true;
                }
            }
            self.rest = Bytes::new();
            match self.stream.next().await {
                Some(Ok(data)) => self.rest = data,
                Some(Err(e)) => return Err(e.to_string()),
                None => {
                    self.done = true;
                    if !self.skipping {
                        let last = std::mem::take(&mut self.buf);
                        items.extend(self.line(&last));
                    }
                }
            }
        }
        Ok((!items.is_empty()).then_some(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record of `text` sent in pieces of `piece` bytes, read in chunks of 2.
    async fn lines(text: &[u8], piece: usize) -> Vec<Vec<Line<String>>> {
        let pieces: Vec<Result<Bytes, std::io::Error>> =
            text.chunks(piece).map(|p| Ok(Bytes::copy_from_slice(p))).collect();
        let body = Body::from_stream(futures::stream::iter(pieces));
        let parse = |s: &str| if s.starts_with('{') { Ok(s.to_owned()) } else { Err(format!("bad {s}")) };
        let mut chunks = NdjsonChunks::new(body, 8, 2, parse);
        let mut out = Vec::new();
        while let Some(chunk) = chunks.next_chunk().await.unwrap() {
            out.push(chunk);
        }
        assert_eq!(chunks.next_chunk().await, Ok(None), "nothing after the end");
        out
    }

    #[tokio::test]
    async fn lines_are_the_same_however_the_body_is_cut() {
        // Records, a blank line, CRLF, a line not JSON, an over-long line, invalid UTF-8, and
        // a last line without its newline.
        let text = b"{a}\n\n{b}\r\nxy\n{ccccccccccccc}\n{\xff}\n{d}\n{e}";
        let ok = |i: usize, s: &str| (i, Ok(s.to_owned()));
        let want = vec![
            vec![ok(0, "{a}"), ok(2, "{b}")],
            vec![(3, Err("bad xy".to_owned())), (4, Err("line is longer than 8 bytes".to_owned()))],
            vec![(5, Err("line is not valid UTF-8 (at byte 1)".to_owned())), ok(6, "{d}")],
            vec![ok(7, "{e}")],
        ];
        for piece in 1..=text.len() {
            assert_eq!(lines(text, piece).await, want, "pieces of {piece} bytes");
        }
        assert_eq!(lines(b"", 1).await, Vec::<Vec<Line<String>>>::new());
        assert_eq!(lines(b"\n\n  \n", 2).await, Vec::<Vec<Line<String>>>::new());
    }
}
