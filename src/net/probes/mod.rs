//! Probes
