//! Graph request bodies.
