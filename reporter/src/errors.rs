//! Printing an error with its causes. The crate's errors keep each cause in
//! [`source`](std::error::Error::source) and out of their own message, so that it is
//! printed once; whoever turns one into text for a person (a log field, a configuration
//! message) prints the chain with [`chain`].

use std::error::Error;

/// `error: cause: cause of the cause`, each once. Some libraries (reqwest, hyper) repeat
/// their cause in their own message; a cause already in the text is not added again.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {0}")]
    struct Outer(&'static str, #[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("request failed: connection refused")]
    struct Repeating(#[source] std::io::Error);

    #[test]
    fn every_cause_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(chain(&Outer("/x", io())), "cannot read /x: no such file");
        let refused = std::io::Error::other("connection refused");
        assert_eq!(
            chain(&Repeating(refused)),
            "request failed: connection refused"
        );
    }
}
