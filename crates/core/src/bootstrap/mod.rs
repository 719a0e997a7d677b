//! One-click bootstrap of a host (being written).
