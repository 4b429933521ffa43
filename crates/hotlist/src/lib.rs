//! limes-hotlist
