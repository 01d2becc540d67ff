//! kin's shared vocabulary: the kinds of data kin embeds, the metrics vectors are compared with,
//! and detection of a modality from content.

mod metric;
mod modality;

pub use metric::{Metric, UnknownMetric};
pub use modality::{detect_modality, Modality, UnknownModality};
