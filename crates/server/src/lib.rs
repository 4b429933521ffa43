//! limes-server
