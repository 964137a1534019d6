//! Where the time of a run goes: each stage's wall time, logged in one debug line (`-v`), so an
//! unchanged re-apply can be seen to be discovery and reads only.

use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;

/// Wall time per stage, in the order the stages first ran.
#[derive(Debug)]
pub struct Stages {
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Stages {
    pub fn start() -> Self {
        Self { last: Instant::now(), laps: Vec::new() }
    }

    /// Ends the stage `name` now: the time since the last lap is added to it.
    pub fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        let took = now - self.last;
        self.last = now;
        match self.laps.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += took,
            None => self.laps.push((name, took)),
        }
    }

    /// `discovery 41ms, reads 12ms, …` plus `extra`, at debug level.
    pub fn log(&self, extra: &str) {
        let laps: Vec<String> = self.laps.iter().map(|(n, d)| format!("{n} {}ms", d.as_millis())).collect();
        debug!("timing: {}{}", laps.join(", "), if extra.is_empty() { String::new() } else { format!("; {extra}") });
    }
}
