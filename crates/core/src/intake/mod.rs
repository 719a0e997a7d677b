//! Intake of app code (being written).
