//! One read per plate text of a tracked object.
//!
//! Sources that track objects (Frigate, AXIS LPV) report the same vehicle many times as
//! it crosses the picture. Each report with a plate text the object has not shown yet is
//! a read (a camera that improves its reading, `B12ABC` then `B123ABC`, gives both, as
//! the camera believed each); repeats of the last text are dropped. Observations without
//! an object id are always reads.

use std::collections::{HashMap, VecDeque};

use limes_camera_formats::Observation;

use crate::{ends_track, plate_text};

/// Remembers the last plate text of up to `capacity` tracked objects, forgetting the
/// oldest first.
#[derive(Debug)]
pub(crate) struct TrackDedupe {
    last: HashMap<(String, String), String>,
    order: VecDeque<(String, String)>,
    capacity: usize,
}

impl TrackDedupe {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { last: HashMap::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Whether `o`, from `source`, is a read to keep.
    pub(crate) fn first_report(&mut self, source: &str, o: &Observation) -> bool {
        let (Some(object), Some(text)) = (&o.object_id, plate_text(o)) else {
            return true;
        };
        let key = (source.to_owned(), object.clone());
        let new = self.last.get(&key).is_none_or(|t| t != text);
        if ends_track(o) {
            self.last.remove(&key);
            return new;
        }
        if new {
            if self.last.insert(key.clone(), text.to_owned()).is_none() {
                self.order.push_back(key);
            }
            // Ended tracks leave their keys in `order`; bound it too.
            while self.last.len() > self.capacity || self.order.len() > 2 * self.capacity {
                match self.order.pop_front() {
                    Some(old) => {
                        self.last.remove(&old);
                    }
                    None => break,
                }
            }
        }
        new
    }
}
