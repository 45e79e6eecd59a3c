//! The `metallb.io` API types, unchanged from MetalLB, and the one config
//! compiler that turns them into a validated configuration. Controller, speaker
//! and CLI all go through it, so they cannot disagree about what a manifest means.

#![warn(missing_docs)]

pub mod address;
pub mod api;
pub mod community;
pub mod compact;
pub mod config;
pub mod crdgen;
pub mod duration;
pub mod fields;
pub mod manifest;
pub mod selector;
pub mod service;
