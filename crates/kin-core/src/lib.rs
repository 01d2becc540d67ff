//! kin's shared vocabulary: the kinds of data kin embeds, the metrics vectors are compared with,
//! detection of a modality from content, the payload filter language, and the CPU kin runs on.

pub mod cpu;
pub mod filter;
pub mod mutate;
mod metric;
mod modality;

pub use filter::{Filter, FilterError};
pub use metric::{Metric, UnknownMetric};
pub use modality::{detect_modality, Modality, UnknownModality};
