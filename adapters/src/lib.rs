//! tiendo adapters.
