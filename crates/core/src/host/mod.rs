//! Host connections (being written).
