//! Native integration tests that need the model files (set up by scripts/setup.sh)
//! and the reference data in ../shared.

mod dedupe;
mod embedding;
mod scifact;
mod sts;
mod support;
