//! The log writer: a background thread that writes log lines in batches.
//!
//! Request handlers never wait on the terminal or a pipe for their audit
//! record: [`LogWriter`] appends each line to a shared buffer, and a
//! background thread writes the buffer out. The thread is woken when a line
//! lands in an empty buffer, then waits `FIXED.log_gather` for more before writing,
//! so under load one wake-up and one `write` carry hundreds of lines, where
//! a wake-up per line would cost more than formatting the line.
//!
//! Nothing is dropped: when the buffer holds `FIXED.log_high_water` bytes (the
//! output is stuck), writers wait for it to drain. Dropping the
//! [`LogGuard`] writes out what is buffered and stops the thread.
//!
//! It replaces `tracing-appender`'s non-blocking writer, which woke its
//! thread for nearly every audit record: that cost 8-15% of the library
//! call rate under load (measured with `scripts/bench`, see
//! `docs/BENCHMARKS.md`, "Log writer").

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::http::audit::{AuditLog, AuditWriter};
use crate::settings::FIXED;
use tracing_subscriber::fmt::MakeWriter;

/// Where log lines go: cheap to clone, one per subscriber layer.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Keeps the writer thread alive; dropping it flushes and stops it.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when the buffer stops being empty, and on close.
    filled: Condvar,
    /// Signalled when the thread takes the buffer.
    drained: Condvar,
}

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    closed: bool,
}

/// Starts the writer thread over `out`. If the thread cannot start, lines
/// are written by the caller instead.
pub fn spawn<W: Write + Send + 'static>(out: W) -> (LogWriter, LogGuard) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        filled: Condvar::new(),
        drained: Condvar::new(),
    });
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || shared.write_loop(out))
    };
    let thread = match thread {
        Ok(thread) => Some(thread),
        Err(e) => {
            eprintln!("cannot start the log writer thread ({e}); logging to stderr directly");
            shared.lock().closed = true;
            None
        }
    };
    (
        LogWriter {
            shared: shared.clone(),
        },
        LogGuard { shared, thread },
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Only buffer appends and swaps happen under the lock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.lock();
        if state.closed {
            // No thread to write for us (shut down, or never started).
            drop(state);
            let _ = std::io::stderr().write_all(line);
            return;
        }
        while state.buffer.len() >= FIXED.log_high_water && !state.closed {
            state = self.drained.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let was_empty = state.buffer.is_empty();
        state.buffer.extend_from_slice(line);
        drop(state);
        if was_empty {
            self.filled.notify_one();
        }
    }

    fn write_loop<W: Write>(&self, mut out: W) {
        let mut batch = Vec::new();
        loop {
            let mut state = self.lock();
            while state.buffer.is_empty() && !state.closed {
                state = self.filled.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.buffer.is_empty() {
                break; // closed and drained
            }
            if !state.closed {
                drop(state);
                std::thread::sleep(FIXED.log_gather);
                state = self.lock();
            }
            std::mem::swap(&mut state.buffer, &mut batch);
            drop(state);
            self.drained.notify_all();
            // A log line that cannot be written has nowhere else to go.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            if batch.capacity() > FIXED.log_high_water {
                batch = Vec::new();
            }
        }
    }
}

impl LogGuard {
    /// An audit log whose records are appended to this writer's buffer
    /// directly, in order with the log lines around them.
    pub fn audit_log(&self) -> AuditLog {
        AuditLog::to_writer(Arc::new(LogWriter {
            shared: self.shared.clone(),
        }))
    }
}

impl AuditWriter for LogWriter {
    fn write_line(&self, line: &[u8]) {
        self.shared.append(line);
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.filled.notify_all();
        self.shared.drained.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.shared.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that records what reached it, and how many writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(buf);
            sink.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_and_in_few_writes() {
        let sink = Sink::default();
        let (writer, guard) = spawn(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        writer
                            .write_all(format!("t{t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        for t in 0..4 {
            let numbers: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("t{t} line ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(numbers, (0..5000).collect::<Vec<_>>(), "thread {t}");
        }
        assert!(writes < 20_000 / 10, "{writes} writes for 20000 lines");
    }

    #[test]
    fn a_stuck_output_makes_writers_wait_not_drop() {
        // The output blocks until released; writers fill the buffer past
        // the high-water mark and must wait, then everything arrives.
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        struct Gated(Arc<(Mutex<bool>, Condvar)>, Sink);
        impl Write for Gated {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let (lock, cvar) = &*self.0;
                let mut open = lock.lock().unwrap();
                while !*open {
                    open = cvar.wait(open).unwrap();
                }
                self.1.write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let (writer, guard) = spawn(Gated(gate.clone(), sink.clone()));
        let line = vec![b'x'; 1023]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        let lines = 3 * FIXED.log_high_water / line.len();
        let producer = {
            let mut writer = writer.clone();
            let line = line.clone();
            std::thread::spawn(move || {
                for _ in 0..lines {
                    writer.write_all(&line).unwrap();
                }
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!producer.is_finished(), "the writer should be held back");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        producer.join().unwrap();
        drop(guard);
        assert_eq!(sink.0.lock().unwrap().0.len(), lines * line.len());
    }

    #[test]
    fn lines_written_after_shutdown_still_reach_stderr_path() {
        let sink = Sink::default();
        let (mut writer, guard) = spawn(sink.clone());
        writer.write_all(b"before\n").unwrap();
        drop(guard);
        assert_eq!(sink.0.lock().unwrap().0, b"before\n");
        // After shutdown the line goes to stderr directly, not the sink,
        // and the call returns rather than waiting for a thread.
        writer.write_all(b"after\n").unwrap();
        assert_eq!(sink.0.lock().unwrap().0, b"before\n");
    }
}
