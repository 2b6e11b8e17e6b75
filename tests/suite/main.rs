//! The integration tests, one module per file, built as one test binary: one link instead of
//! one per file. (tests/thread_cache.rs stays a binary of its own: it counts its process's
//! threads.)

#[path = "../common/mod.rs"]
mod common;

mod access;
mod binaries;
mod client_faults;
mod echo_server;
mod exports;
mod first_minutes;
mod interactive;
mod json_keys;
mod ladder;
mod listening;
mod manual;
mod measure;
mod metrics;
mod monitor;
mod objectives;
mod path;
mod per_source;
mod ping;
mod python_interop;
mod rate;
mod readme;
mod server_faults;
mod server_limits;
mod server_logging;
mod service;
mod traffic_dump;
mod udp;
mod udp_measure;
