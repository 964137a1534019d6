//! The end-to-end tests: the real binaries against the real local stack (scripts/devstack), one
//! module per tool or part of the system, all in this one test binary around the kit in
//! `tests/src` (`ekskit_tests`).
//!
//! One module: `cargo test -p ekskit-tests --test e2e kapply::`; one test: its full path
//! (`kapply::diff_dry_run_and_delete`). Each module asks [`ekskit_tests::stack_env`] for the
//! devstack components it needs; they are started when a test first needs them, while no other
//! test runs.

mod addons;
mod chaos;
mod compose;
mod deploy;
mod devstack;
mod imgbuild;
mod imgpush;
mod kapply;
mod mkeks;
mod mkpipeline;
mod mkvpc;
mod monstack;
mod pipeline;
mod scripts;
mod site_values;
mod tagbump;
mod timed;
mod upgrade;
