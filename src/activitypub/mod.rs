//! (placeholder until the `ap` branch lands)
pub mod signature;
