//! Why a document, or one item of it, was not made. Such a document is never published: the
//! previous version stays (SPEC §2), and the failure is reported with this reason.

/// A document or item that could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The format's writer failed.
    #[error("{format} writer: {message}")]
    Write {
        format: &'static str,
        message: String,
    },
    /// The output, parsed back, is not what was rendered (SPEC §2: checked before published).
    #[error("{0}")]
    Check(String),
}

impl FeedError {
    /// A failure of `format`'s writer.
    pub fn write(format: &'static str, e: impl std::fmt::Display) -> FeedError {
        FeedError::Write {
            format,
            message: e.to_string(),
        }
    }
}

/// The checks say what they found as text: each is a [`FeedError::Check`].
impl From<String> for FeedError {
    fn from(why: String) -> FeedError {
        FeedError::Check(why)
    }
}

impl From<&str> for FeedError {
    fn from(why: &str) -> FeedError {
        FeedError::Check(why.to_owned())
    }
}
