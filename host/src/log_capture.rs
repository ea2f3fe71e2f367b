//! (tests only) Log lines captured in memory: a `MakeWriter` into a shared
//! buffer, for a subscriber or a layer set up by a unit test. It uses no
//! module of the crate, so any layer's tests may use it. (The integration
//! tests, which cannot see `#[cfg(test)]` items, have their own in
//! `host/tests/host/support.rs`.)

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything written through any clone of it, in order.
#[derive(Clone, Default)]
pub(crate) struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// What has been written so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> LogCapture {
        self.clone()
    }
}

/// Captures every log line at any level written on this thread (and by
/// the tasks a current-thread test runtime runs on it) until the guard is
/// dropped.
pub(crate) fn capture_logs() -> (LogCapture, tracing::subscriber::DefaultGuard) {
    let buffer = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::LogCapture;

    #[test]
    fn every_clone_writes_into_one_buffer_in_order() {
        let capture = LogCapture::default();
        let mut a = tracing_subscriber::fmt::MakeWriter::make_writer(&capture);
        let mut b = capture.clone();
        a.write_all(b"one\n").unwrap();
        b.write_all(b"two\n").unwrap();
        a.flush().unwrap();
        assert_eq!(capture.text(), "one\ntwo\n");
    }
}
