//! A minimal HTTP/1.1 load generator's connection, for benchmarks that drive the real server on
//! a loopback port.

/// The load generator's side of one keep-alive HTTP/1.1 connection. Like wrk, it does as little
/// as a client can — each request written whole, each answer read by its `Content-Length` — so
/// that on a machine the clients share with the server, the figure is the server's cost rather
/// than a client library's.
pub struct LoadConn {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl LoadConn {
    pub async fn connect(addr: std::net::SocketAddr) -> Result<LoadConn, String> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        Ok(LoadConn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends one request and reads its answer: the status and the body.
    pub async fn send(&mut self, request: &[u8]) -> Result<(u16, &[u8]), String> {
        use tokio::io::AsyncWriteExt;
        self.stream
            .write_all(request)
            .await
            .map_err(|e| format!("http write: {e}"))?;
        self.buf.clear();
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .map_err(|_| "http: the answer's head is not UTF-8".to_string())?;
                let status = head
                    .get(9..12)
                    .and_then(|s| s.parse::<u16>().ok())
                    .ok_or_else(|| format!("http: no status in {head:?}"))?;
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.trim()
                            .eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .ok_or_else(|| format!("http: no Content-Length in {head:?}"))?;
                let total = end + 4 + length;
                while self.buf.len() < total {
                    self.read_more().await?;
                }
                return Ok((status, &self.buf[end + 4..total]));
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> Result<(), String> {
        use tokio::io::AsyncReadExt;
        self.buf.reserve(4096);
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err("http: the server closed the connection".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("http read: {e}")),
        }
    }
}
