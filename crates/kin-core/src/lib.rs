//! kin's shared vocabulary: the kinds of data kin embeds, the metrics vectors are compared with,
//! detection of a modality from content, the payload filter language, the CPU kin runs on, and the
//! fault points the crash and I/O-fault tests use.

pub mod cpu;
pub mod fault;
pub mod filter;
mod metric;
mod modality;
pub mod mutate;

pub use filter::{Filter, FilterError};
pub use metric::{Metric, UnknownMetric};
pub use modality::{detect_modality, Modality, UnknownModality};
