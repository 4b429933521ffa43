//! limes-sim
