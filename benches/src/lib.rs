//! Shared helpers for the vtcq benchmarks.
