//! Native integration tests that need the model files (set up by scripts/setup.sh)
//! and the reference data in ../shared.

mod dedupe;
mod embedding;
mod scifact;
#[path = "../common/scifact.rs"]
mod scifact_data;
mod sts;
#[path = "../common/support.rs"]
mod support;
