//! Where a finished record goes: the one place that turns the configured [`Destination`]
//! into somewhere to put a record, for `vtcq post` and the daemon alike.
//!
//! - With Graph credentials, a record is enqueued durably in the [`Spool`]; the
//!   [`Delivery`] that [`Handoff::open`] returns with it drains the spool to Graph.
//! - Without them, a record is written durably as one JSON file in the sink folder, or
//!   printed as one JSON line on standard output (`sink.kind = "stdout"`).
//!
//! A hand-off either stores the record (`Ok`) or says why not, and then the caller still
//! holds the record: nothing is dropped here. Storing is synchronous and short (one
//! `fsync`ed file), so the daemon calls it from wherever a call ends.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::delivery::{write_record_file, Delivery, DeliveryError, DeliveryMetrics, GraphPoster};
use crate::settings::{Destination, ReporterSettings};
use crate::spool::{RecordId, Spool, SpoolError};

/// Where records go, opened.
#[derive(Debug)]
pub enum Handoff {
    /// Graph: into the spool, which a [`Delivery`] drains. The mutex is shared with the
    /// delivery (see [`Delivery::drain`]) and held only for the spool's own operations.
    Spool {
        /// The open, locked spool.
        spool: Arc<Mutex<Spool>>,
        /// Its folder (for messages).
        dir: PathBuf,
    },
    /// One JSON file per record in this folder.
    Files(PathBuf),
    /// One JSON document per line on standard output.
    Stdout,
}

/// A [`Handoff`] as opened from the settings, with the delivery stage it needs.
#[derive(Debug)]
pub struct Opened {
    /// Where records go.
    pub handoff: Handoff,
    /// The stage that drains the spool to Graph; `None` for the sinks.
    pub delivery: Option<Delivery>,
    /// Records an earlier run left in the spool (they are delivered first).
    pub recovered: usize,
}

/// Where one record was put.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    /// Durably in the spool, under this id.
    Spooled(RecordId),
    /// Durably in the sink folder, as this file.
    Written(PathBuf),
    /// Printed on standard output.
    Printed,
}

/// Why a hand-off could not be opened or a record not stored. The cause is the source.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// The spool cannot be opened (locked by another process, not writable...).
    #[error("cannot open the spool {}", dir.display())]
    OpenSpool {
        /// The spool folder.
        dir: PathBuf,
        /// Why.
        source: SpoolError,
    },
    /// The sink folder cannot be created.
    #[error("cannot create the sink folder {}", dir.display())]
    SinkFolder {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The HTTP client for Graph cannot be built.
    #[error("cannot set up delivery to graph")]
    Delivery(#[source] DeliveryError),
    /// The record cannot be spooled (the spool's error names the file and the step).
    #[error("cannot spool the record")]
    Spool(#[source] SpoolError),
    /// The record cannot be written into the sink folder.
    #[error("cannot write the record into {}", dir.display())]
    WriteFile {
        /// The sink folder.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The record cannot be printed.
    #[error("cannot write the record to standard output")]
    Stdout(#[source] io::Error),
}

impl Handoff {
    /// Opens where `settings` say records go: the spool and its delivery stage (Graph), or
    /// the sink folder (created), or standard output.
    pub fn open(settings: ReporterSettings, now: SystemTime) -> Result<Opened, HandoffError> {
        match settings.destination {
            Destination::Graph(graph) => {
                let dir = settings.spool_dir;
                let (spool, report) =
                    Spool::open(&dir, settings.spool_limits, now).map_err(|source| {
                        HandoffError::OpenSpool {
                            dir: dir.clone(),
                            source,
                        }
                    })?;
                let poster =
                    GraphPoster::new(*graph, &settings.user_agent, settings.retry.request_timeout)
                        .map_err(HandoffError::Delivery)?;
                let delivery =
                    Delivery::new(poster, settings.retry, Arc::new(DeliveryMetrics::default()));
                Ok(Opened {
                    handoff: Handoff::Spool {
                        spool: Arc::new(Mutex::new(spool)),
                        dir,
                    },
                    delivery: Some(delivery),
                    recovered: report.recovered,
                })
            }
            Destination::Files(dir) => {
                std::fs::create_dir_all(&dir).map_err(|source| HandoffError::SinkFolder {
                    dir: dir.clone(),
                    source,
                })?;
                Ok(Opened {
                    handoff: Handoff::Files(dir),
                    delivery: None,
                    recovered: 0,
                })
            }
            Destination::Stdout => Ok(Opened {
                handoff: Handoff::Stdout,
                delivery: None,
                recovered: 0,
            }),
        }
    }

    /// Stores one record (a request body, JSON): enqueued durably, written durably, or
    /// printed as one line. On `Err` nothing was stored and the caller still has it.
    pub fn store(&self, body: &[u8], now: SystemTime) -> Result<Stored, HandoffError> {
        match self {
            Handoff::Spool { spool, .. } => spool
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .enqueue(body, now)
                .map(Stored::Spooled)
                .map_err(HandoffError::Spool),
            Handoff::Files(dir) => write_record_file(dir, body, now)
                .map(Stored::Written)
                .map_err(|source| HandoffError::WriteFile {
                    dir: dir.clone(),
                    source,
                }),
            Handoff::Stdout => {
                let mut out = io::stdout().lock();
                write_json_line(&mut out, body)
                    .and_then(|()| out.flush())
                    .map(|()| Stored::Printed)
                    .map_err(HandoffError::Stdout)
            }
        }
    }

    /// The spool, when records go to Graph.
    pub fn spool(&self) -> Option<&Arc<Mutex<Spool>>> {
        match self {
            Handoff::Spool { spool, .. } => Some(spool),
            Handoff::Files(_) | Handoff::Stdout => None,
        }
    }

    /// The spool's folder, when records go to Graph.
    pub fn spool_dir(&self) -> Option<&Path> {
        match self {
            Handoff::Spool { dir, .. } => Some(dir),
            Handoff::Files(_) | Handoff::Stdout => None,
        }
    }
}

/// Writes a JSON document on one line: the whitespace between tokens is left out, the
/// rest is copied as it is (keys in their order, numbers as written), so a body that is
/// already compact, as the agent's own are, comes out unchanged.
fn write_json_line(out: &mut impl Write, json: &[u8]) -> io::Result<()> {
    let mut line = Vec::with_capacity(json.len() + 1);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if byte == b'"' {
            in_string = true;
        } else if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        line.push(byte);
    }
    line.push(b'\n');
    out.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(json: &str) -> String {
        let mut out = Vec::new();
        write_json_line(&mut out, json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn json_lines_keep_everything_but_the_whitespace_between_tokens() {
        assert_eq!(
            line("{\n  \"b\": [1, 2.50],\n  \"a\": \"x y\\\" \\\\\"\n}\n"),
            "{\"b\":[1,2.50],\"a\":\"x y\\\" \\\\\"}\n"
        );
        let compact = r#"{"quality":{"deviceName":"Room 1\tA","mediaQualityList":[]}}"#;
        assert_eq!(line(compact), format!("{compact}\n"));
    }

    #[test]
    fn sinks_store_each_record_durably_once() {
        let dir = std::env::temp_dir().join(format!("vtcq-handoff-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = ReporterSettings {
            destination: Destination::Files(dir.join("records")),
            spool_dir: dir.join("spool"),
            spool_limits: crate::spool::SpoolLimits {
                max_bytes: 1 << 20,
                max_age: std::time::Duration::from_secs(60),
            },
            retry: crate::retry::RetryPolicy::default(),
            user_agent: "test".into(),
        };
        let opened = Handoff::open(settings, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
        assert!(opened.delivery.is_none() && opened.handoff.spool().is_none());
        assert!(dir.join("records").is_dir(), "the sink folder is created");
        let stored = opened
            .handoff
            .store(b"{\"quality\":{}}", SystemTime::now())
            .unwrap_or_else(|e| panic!("{e}"));
        let Stored::Written(path) = stored else {
            panic!("{stored:?}")
        };
        assert_eq!(
            std::fs::read(&path).unwrap_or_default(),
            b"{\"quality\":{}}\n"
        );
        assert!(!dir.join("spool").exists(), "no spool without Graph");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
