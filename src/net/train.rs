//! Training
