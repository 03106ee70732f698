//! rasgi
