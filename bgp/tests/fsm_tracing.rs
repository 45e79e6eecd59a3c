//! State changes are logged as tracing debug events with `from`, `to` and `event`.

#[path = "fsm_common.rs"]
mod common;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use common::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};

type Fields = HashMap<&'static str, String>;

/// Records every event's fields; spans are not used by the FSM.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Fields>>>);

struct Collect(Fields);

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Collect(Fields::new());
        event.record(&mut fields);
        if let Ok(mut events) = self.0.lock() {
            events.push(fields.0);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn every_state_change_is_logged_with_from_to_and_event() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let mut h = Harness::new(config());
        h.established();
        h.run_for(90_000);
    });
    let events = recorder.0.lock().map(|e| e.clone()).unwrap_or_default();
    let changes: Vec<(String, String, String)> = events
        .iter()
        .filter_map(|f| {
            Some((
                f.get("from")?.clone(),
                f.get("to")?.clone(),
                f.get("event")?.clone(),
            ))
        })
        .collect();
    let expected = [
        ("Idle", "Connect", "ManualStart"),
        ("Connect", "OpenSent", "TcpConnectionSucceeded"),
        ("OpenSent", "OpenConfirm", "OpenReceived"),
        ("OpenConfirm", "Established", "KeepaliveReceived"),
        ("Established", "Idle", "HoldTimerExpires"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(changes, expected);
}
