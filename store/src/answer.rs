//! The bound on what one call answers: a kv page, a directory listing, a
//! glob's matches and a batch's results are each counted against
//! [`MAX_ANSWER_BYTES`] while they are built, so no call makes the broker
//! build (or send) an answer near Cap'n Proto's 80 MiB message limit
//! (`caplet::MAX_MESSAGE_WORDS`). A kv page ends early instead; the others
//! fail with `too_large` before building more.

use crate::error::{Error, Result};

/// The most one answer may hold, in bytes of keys, values, paths, names
/// and file contents, plus [`ITEM_OVERHEAD`] per item (32 MiB): twice
/// [`crate::vfs::MAX_FILE_BYTES`], less the overheads; well under the
/// message limit.
pub const MAX_ANSWER_BYTES: u64 = 32 << 20;

/// What one item (an entry, a file's content, a batch result) costs in an
/// answer beyond its bytes: its struct and pointers, rounded up.
pub const ITEM_OVERHEAD: u64 = 32;

/// The bytes counted so far against [`MAX_ANSWER_BYTES`] for one answer.
#[derive(Debug)]
pub(crate) struct Budget {
    used: u64,
    /// What is counted, for the error: `batch results`, `listing` …
    what: &'static str,
}

impl Budget {
    pub(crate) fn new(what: &'static str) -> Self {
        Budget { used: 0, what }
    }

    /// What an item of `bytes` costs.
    pub(crate) fn cost(bytes: usize) -> u64 {
        bytes as u64 + ITEM_OVERHEAD
    }

    /// Whether an item of `bytes` still fits.
    pub(crate) fn fits(&self, bytes: usize) -> bool {
        self.used + Self::cost(bytes) <= MAX_ANSWER_BYTES
    }

    /// Counts an item of `bytes`; `too_large` if it does not fit.
    pub(crate) fn take(&mut self, bytes: usize) -> Result<()> {
        if !self.fits(bytes) {
            return Err(Error::TooLarge {
                what: self.what,
                limit: MAX_ANSWER_BYTES,
            });
        }
        self.used += Self::cost(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_counts_items_and_refuses_past_the_bound() {
        let mut budget = Budget::new("listing");
        let half = (MAX_ANSWER_BYTES / 2 - ITEM_OVERHEAD) as usize;
        budget.take(half).unwrap();
        budget.take(half).unwrap();
        assert!(!budget.fits(0));
        assert_eq!(
            budget.take(0).unwrap_err().to_string(),
            "the listing would be over 33554432 bytes"
        );
    }
}
