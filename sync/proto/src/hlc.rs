//! Hybrid logical clock (Kulkarni et al.): wall-clock milliseconds plus a
//! counter for events within one millisecond, plus the node id to break
//! ties. Timestamps are totally ordered and respect causality: anything a
//! node stamps after seeing a remote stamp sorts after it.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// One timestamp. Ordered by (wall, counter, node).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hlc {
    pub wall_ms: u64,
    pub counter: u32,
    pub node: String,
}

impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.wall_ms, self.counter, &self.node).cmp(&(other.wall_ms, other.counter, &other.node))
    }
}

impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Fixed-width text (`0001732700000000-000000-node`), so the database can
/// compare stamps as strings on both engines.
impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016}-{:06}-{}", self.wall_ms, self.counter, self.node)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("not an HLC timestamp: {0:?}")]
    Malformed(String),
    /// A remote clock too far ahead of ours is quarantined, never adopted:
    /// adopting it would drag every later local write into the future.
    #[error("remote clock {remote} is {ahead_ms} ms ahead of local time (limit {limit_ms} ms)")]
    TooFarAhead {
        remote: String,
        ahead_ms: u64,
        limit_ms: u64,
    },
    #[error("HLC counter overflow within one millisecond")]
    CounterOverflow,
}

impl Hlc {
    /// The wall time of a timestamp's text, its shape checked as
    /// [`FromStr`] does but nothing allocated (a bulk apply checks every
    /// field's clock).
    pub fn wall_ms_of(s: &str) -> Result<u64, ClockError> {
        parts(s).map(|(wall_ms, _, _)| wall_ms)
    }
}

/// Wall time, counter and node of a timestamp's text.
fn parts(s: &str) -> Result<(u64, u32, &str), ClockError> {
    let bad = || ClockError::Malformed(s.to_owned());
    let mut parts = s.splitn(3, '-');
    let (Some(wall), Some(counter), Some(node)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if wall.len() != 16 || counter.len() != 6 || node.is_empty() {
        return Err(bad());
    }
    Ok((
        wall.parse().map_err(|_| bad())?,
        counter.parse().map_err(|_| bad())?,
        node,
    ))
}

impl FromStr for Hlc {
    type Err = ClockError;

    fn from_str(s: &str) -> Result<Self, ClockError> {
        let (wall_ms, counter, node) = parts(s)?;
        Ok(Hlc {
            wall_ms,
            counter,
            node: node.to_owned(),
        })
    }
}

const MAX_COUNTER: u32 = 999_999;

/// A node's clock. Callers pass physical time in, so the clock is pure and
/// the caller persists `last()` to survive restarts.
#[derive(Debug, Clone)]
pub struct HlcClock {
    node: String,
    last_wall: u64,
    last_counter: u32,
    max_ahead_ms: u64,
}

impl HlcClock {
    pub fn new(node: impl Into<String>, max_ahead_ms: u64) -> Self {
        Self {
            node: node.into(),
            last_wall: 0,
            last_counter: 0,
            max_ahead_ms,
        }
    }

    /// Resumes from a persisted stamp so a restarted node never goes back.
    pub fn resume(node: impl Into<String>, max_ahead_ms: u64, last: &Hlc) -> Self {
        Self {
            node: node.into(),
            last_wall: last.wall_ms,
            last_counter: last.counter,
            max_ahead_ms,
        }
    }

    fn stamp(&self) -> Hlc {
        Hlc {
            wall_ms: self.last_wall,
            counter: self.last_counter,
            node: self.node.clone(),
        }
    }

    fn advance(&mut self, wall: u64, counter_floor: Option<u32>) -> Result<Hlc, ClockError> {
        if wall > self.last_wall {
            self.last_wall = wall;
            self.last_counter = counter_floor.map_or(0, |c| c + 1);
        } else {
            let next = self.last_counter.max(counter_floor.unwrap_or(0)) + 1;
            if next > MAX_COUNTER {
                return Err(ClockError::CounterOverflow);
            }
            self.last_counter = next;
        }
        Ok(self.stamp())
    }

    /// A stamp for a local event.
    pub fn now(&mut self, physical_ms: u64) -> Result<Hlc, ClockError> {
        self.advance(physical_ms.max(self.last_wall), None)
    }

    /// Merges a remote stamp (on receiving a change) and returns a local
    /// stamp that sorts after both.
    pub fn observe(&mut self, remote: &Hlc, physical_ms: u64) -> Result<Hlc, ClockError> {
        let ahead = remote.wall_ms.saturating_sub(physical_ms);
        if ahead > self.max_ahead_ms {
            return Err(ClockError::TooFarAhead {
                remote: remote.to_string(),
                ahead_ms: ahead,
                limit_ms: self.max_ahead_ms,
            });
        }
        let wall = physical_ms.max(self.last_wall).max(remote.wall_ms);
        let floor = if remote.wall_ms == wall {
            Some(remote.counter)
        } else {
            None
        };
        if wall == self.last_wall {
            let c = self.last_counter.max(floor.unwrap_or(0));
            self.last_counter = c;
            return self.advance(wall, None);
        }
        self.advance(wall, floor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn local_stamps_are_strictly_increasing_even_if_the_clock_steps_back() {
        let mut c = HlcClock::new("a", 60_000);
        let t1 = c.now(1_000).unwrap();
        let t2 = c.now(1_000).unwrap();
        let t3 = c.now(900).unwrap(); // NTP stepped the clock back
        let t4 = c.now(1_001).unwrap();
        assert!(t1 < t2 && t2 < t3 && t3 < t4, "{t1} {t2} {t3} {t4}");
        assert_eq!(t4.counter, 0);
    }

    #[test]
    fn observing_a_remote_stamp_orders_later_local_events_after_it() {
        let mut a = HlcClock::new("a", 60_000);
        let mut b = HlcClock::new("b", 60_000);
        let remote = b.now(5_000).unwrap();
        // a's physical clock is behind b's.
        let seen = a.observe(&remote, 4_000).unwrap();
        assert!(seen > remote);
        assert!(a.now(4_001).unwrap() > remote);
        // Same millisecond, higher remote counter.
        let r2 = Hlc {
            wall_ms: 5_000,
            counter: 7,
            node: "b".into(),
        };
        assert!(a.observe(&r2, 4_500).unwrap() > r2);
    }

    #[test]
    fn far_future_remote_clocks_are_refused() {
        let mut a = HlcClock::new("a", 60_000);
        let future = Hlc {
            wall_ms: 10_000_000,
            counter: 0,
            node: "evil".into(),
        };
        assert!(matches!(a.observe(&future, 1_000), Err(ClockError::TooFarAhead { .. })));
        // And not adopted.
        assert!(a.now(1_000).unwrap().wall_ms == 1_000);
    }

    #[test]
    fn text_form_sorts_like_the_stamps_and_round_trips() {
        let mut stamps = vec![
            Hlc {
                wall_ms: 2,
                counter: 0,
                node: "a".into(),
            },
            Hlc {
                wall_ms: 1,
                counter: 10,
                node: "b".into(),
            },
            Hlc {
                wall_ms: 1,
                counter: 9,
                node: "z".into(),
            },
            Hlc {
                wall_ms: 1,
                counter: 9,
                node: "a".into(),
            },
        ];
        let mut texts: Vec<String> = stamps.iter().map(ToString::to_string).collect();
        stamps.sort();
        texts.sort();
        assert_eq!(texts, stamps.iter().map(ToString::to_string).collect::<Vec<_>>());
        for s in &stamps {
            assert_eq!(&s.to_string().parse::<Hlc>().unwrap(), s);
            assert_eq!(Hlc::wall_ms_of(&s.to_string()), Ok(s.wall_ms));
        }
        for bad in ["", "1-2-a", "0000000000000001-000001-", "000000000000000x-000001-a"] {
            assert!(bad.parse::<Hlc>().is_err(), "{bad}");
            assert!(Hlc::wall_ms_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resumed_clock_never_goes_back() {
        let last = Hlc {
            wall_ms: 9_000,
            counter: 3,
            node: "a".into(),
        };
        let mut c = HlcClock::resume("a", 60_000, &last);
        assert!(c.now(1_000).unwrap() > last);
    }
}
