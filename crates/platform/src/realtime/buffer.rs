//! The replay buffer: the latest events this node saw (its own and other
//! replicas'), in the order it delivered them, so a Server-Sent Events
//! client that reconnects with `Last-Event-ID` gets what it missed.
//!
//! Pure data structure; the hub in `realtime` holds it behind a lock.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{Event, Signal};

/// What a reconnecting subscriber gets before live events.
#[derive(Debug, PartialEq)]
pub enum Replay {
    /// Every signal after the named event, in delivery order. A `Resync`
    /// among them marks a moment when this node may have missed events
    /// (its bus connection dropped).
    After(Vec<Signal>),
    /// The named event is not here (too old, or never seen by this node):
    /// what was missed cannot be known, so the client must re-read.
    Unknown,
}

/// The last `capacity` signals, oldest first.
#[derive(Debug)]
pub struct ReplayBuffer {
    entries: VecDeque<Signal>,
    capacity: usize,
}

impl ReplayBuffer {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
        }
    }

    /// Appends a signal, forgetting the oldest beyond capacity.
    pub fn push(&mut self, signal: Signal) {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(signal);
    }

    /// Whether an event with this id is held (an echo or a duplicate).
    pub fn contains(&self, id: &str) -> bool {
        self.entries
            .iter()
            .rev()
            .any(|s| matches!(s, Signal::Event(e) if e.id == id))
    }

    /// What came after the event `id`.
    pub fn after(&self, id: &str) -> Replay {
        let position = self
            .entries
            .iter()
            .rposition(|s| matches!(s, Signal::Event(e) if e.id == id));
        match position {
            Some(i) => Replay::After(self.entries.iter().skip(i + 1).cloned().collect()),
            None => Replay::Unknown,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The held events, oldest first (for tests and diagnostics).
    pub fn events(&self) -> impl Iterator<Item = &Arc<Event>> {
        self.entries.iter().filter_map(|s| match s {
            Signal::Event(e) => Some(e),
            Signal::Resync | Signal::Access(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> Signal {
        Signal::Event(Arc::new(Event {
            id: format!("e{n}"),
            topic: "orders".into(),
            kind: "order.updated".into(),
            data: serde_json::json!({"n": n}),
            at: chrono::Utc::now(),
            truncated: false,
            json: Default::default(),
            sse: Default::default(),
        }))
    }

    fn ids(replay: Replay) -> Vec<String> {
        match replay {
            Replay::After(signals) => signals
                .into_iter()
                .map(|s| match s {
                    Signal::Event(e) => e.id.clone(),
                    Signal::Resync => "resync".into(),
                    Signal::Access(_) => "access".into(),
                })
                .collect(),
            Replay::Unknown => vec!["unknown".into()],
        }
    }

    #[test]
    fn replays_what_came_after_the_last_seen_event() {
        let mut buffer = ReplayBuffer::new(10);
        for n in 1..=4 {
            buffer.push(event(n));
        }
        assert_eq!(ids(buffer.after("e2")), ["e3", "e4"]);
        assert_eq!(ids(buffer.after("e4")), Vec::<String>::new());
        assert!(buffer.contains("e1"));
        assert!(!buffer.contains("e9"));
    }

    #[test]
    fn an_evicted_or_foreign_id_asks_for_a_resync() {
        let mut buffer = ReplayBuffer::new(3);
        for n in 1..=5 {
            buffer.push(event(n));
        }
        assert_eq!(buffer.len(), 3);
        assert_eq!(ids(buffer.after("e1")), ["unknown"], "evicted");
        assert_eq!(ids(buffer.after("e2")), ["unknown"], "evicted");
        assert_eq!(ids(buffer.after("e3")), ["e4", "e5"]);
        assert_eq!(ids(buffer.after("nonsense")), ["unknown"]);
    }

    #[test]
    fn a_gap_in_the_bus_is_replayed_as_a_resync() {
        let mut buffer = ReplayBuffer::new(10);
        buffer.push(event(1));
        buffer.push(Signal::Resync);
        buffer.push(event(2));
        assert_eq!(ids(buffer.after("e1")), ["resync", "e2"]);
        assert_eq!(buffer.events().count(), 2);
    }
}
