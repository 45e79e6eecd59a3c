//! Network labs for FerroLB's interop tests.
