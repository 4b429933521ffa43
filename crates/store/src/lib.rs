//! limes-store
