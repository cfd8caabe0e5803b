//! What a failure means for the SQS message (or the direct invocation) that
//! carried the work. Every error a handler can meet says which of the three
//! it is, and every handler maps the three to SQS outcomes the same way
//! ([`crate::batch`]).

/// The fate of a message whose work failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Disposition {
    /// A fault that passes with time (throttling, a timeout, a lost
    /// connection, a 5xx, a serialization conflict): fail the message so SQS
    /// delivers it again after its visibility timeout.
    Retry,
    /// A fault no retry mends and no record can hold (a corrupt manifest,
    /// SQL the warehouse refuses, a broken invariant): fail the message on
    /// every delivery so that it reaches the dead-letter queue, where an
    /// operator sees it and can redrive it once the cause is fixed.
    DeadLetter,
    /// The outcome is recorded where operators look (rejects, an error
    /// record, the ledger): the message succeeds and is deleted.
    Done,
}

impl Disposition {
    /// A fault that may pass is retried; one that cannot goes to the DLQ.
    pub fn of_fault(transient: bool) -> Disposition {
        if transient { Disposition::Retry } else { Disposition::DeadLetter }
    }

    /// Whether the message must come back (SQS `batchItemFailures`).
    pub fn fails_message(self) -> bool {
        self != Disposition::Done
    }

    /// The metric and log label.
    pub fn label(self) -> &'static str {
        match self {
            Disposition::Retry => "retry",
            Disposition::DeadLetter => "dead_letter",
            Disposition::Done => "done",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_recorded_outcome_lets_the_message_go() {
        assert!(Disposition::Retry.fails_message());
        assert!(Disposition::DeadLetter.fails_message());
        assert!(!Disposition::Done.fails_message());
        assert_eq!(Disposition::of_fault(true), Disposition::Retry);
        assert_eq!(Disposition::of_fault(false), Disposition::DeadLetter);
    }
}
