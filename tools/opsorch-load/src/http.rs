//! A minimal HTTP/1.1 client over one keep-alive TCP connection.
//!
//! Just enough for the host's responses: a status line, headers, and a body
//! framed by `Content-Length` or `Transfer-Encoding: chunked`. One request
//! is in flight per connection (no pipelining), so every response belongs to
//! the request just written. The connection is dropped after any error and
//! after `Connection: close`; the caller reconnects.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Headers larger than this are a protocol error (the host sends ~300 bytes).
const MAX_HEAD: usize = 64 * 1024;
/// Bodies larger than this are a protocol error (`/openapi.json` is the largest).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A response: status and body (headers are not kept).
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    /// Bytes read past the end of the previous response (should stay empty).
    buf: Vec<u8>,
    /// Requests answered on this connection.
    pub served: u64,
    /// The server asked to close after the last response.
    pub closed: bool,
    /// Some bytes of the current response have arrived.
    pub partial: bool,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(8192),
            served: 0,
            closed: false,
            partial: false,
        })
    }

    /// Writes one request and reads its response. `head_extra` is inserted
    /// verbatim after the fixed headers (e.g. an `Authorization` line).
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        head_extra: &str,
    ) -> io::Result<Response> {
        let mut req = Vec::with_capacity(256 + body.map_or(0, <[u8]>::len));
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(path.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nUser-Agent: opsorch-load\r\n");
        req.extend_from_slice(head_extra.as_bytes());
        if let Some(body) = body {
            req.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
            req.extend_from_slice(body.len().to_string().as_bytes());
            req.extend_from_slice(b"\r\n\r\n");
            req.extend_from_slice(body);
        } else {
            req.extend_from_slice(b"\r\n");
        }
        self.partial = !self.buf.is_empty();
        self.stream.write_all(&req).await?;
        let response = self.read_response().await?;
        self.served += 1;
        Ok(response)
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                if self.buf.is_empty() {
                    "connection closed before a response"
                } else {
                    "connection closed inside a response"
                },
            ));
        }
        self.partial = true;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        let head_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(proto("response head too large"));
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| proto("response head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| proto("bad status line"))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = status_line.starts_with("HTTP/1.0");
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse().map_err(|_| proto("bad content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        self.buf.drain(..head_end + 4);
        let body = if chunked {
            self.read_chunked().await?
        } else if let Some(len) = length {
            if len > MAX_BODY {
                return Err(proto("response body too large"));
            }
            while self.buf.len() < len {
                self.fill().await?;
            }
            self.buf.drain(..len).collect()
        } else if status == 204 || status == 304 || (100..200).contains(&status) {
            Vec::new()
        } else {
            // Body until the server closes.
            loop {
                match self.fill().await {
                    Ok(()) if self.buf.len() > MAX_BODY => {
                        return Err(proto("response body too large"))
                    }
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            close = true;
            std::mem::take(&mut self.buf)
        };
        self.closed = close;
        Ok(Response { status, body })
    }

    async fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(pos) = find(&self.buf, b"\r\n") {
                    break pos;
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(proto("chunk size line too long"));
                }
                self.fill().await?;
            };
            let size_text =
                std::str::from_utf8(&self.buf[..line_end]).map_err(|_| proto("bad chunk size"))?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| proto("bad chunk size"))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers (none expected) end with an empty line.
                loop {
                    if let Some(pos) = find(&self.buf, b"\r\n") {
                        let empty = pos == 0;
                        self.buf.drain(..pos + 2);
                        if empty {
                            return Ok(body);
                        }
                    } else {
                        self.fill().await?;
                    }
                }
            }
            if body.len() + size > MAX_BODY {
                return Err(proto("response body too large"));
            }
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }
}

fn proto(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn serve_once(reply: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut seen = Vec::new();
            // Answer each request (two at most) once its head has arrived.
            for _ in 0..2 {
                while find(&seen, b"\r\n\r\n").is_none() {
                    let n = sock.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                }
                let pos = find(&seen, b"\r\n\r\n").unwrap();
                seen.drain(..pos + 4);
                sock.write_all(reply).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn content_length_keep_alive() {
        let addr = serve_once(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}").await;
        let mut conn = Conn::connect(addr).await.unwrap();
        let r = conn.send("GET", "/", None, "").await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, &b"{}"[..]));
        let r = conn.send("GET", "/", None, "").await.unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(conn.served, 2);
        assert!(!conn.closed);
    }

    #[tokio::test]
    async fn chunked_body() {
        let addr = serve_once(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n",
        )
        .await;
        let mut conn = Conn::connect(addr).await.unwrap();
        let r = conn.send("POST", "/", Some(b"{}"), "").await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
    }

    #[tokio::test]
    async fn connection_close_is_noted() {
        let addr =
            serve_once(b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .await;
        let mut conn = Conn::connect(addr).await.unwrap();
        let r = conn.send("GET", "/x", None, "").await.unwrap();
        assert_eq!(r.status, 404);
        assert!(conn.closed);
    }
}
