//! Media files to embed: read and classified by their content, decoded and preprocessed for a
//! model, streamed (audio windows, video frames and clips through ffmpeg) into timed segments;
//! and the pipeline that prepares the next batch while the model works on the current one.
//!
//! Shared by the command line and the HTTP server. Errors are messages for a summary line: they
//! say why one file cannot be embedded, and the caller names the file.

mod file;
pub mod video;

pub use file::{
    embed_audio_file, embed_file, embed_stream, embed_video_clips, embed_video_frames, hash_file, modalities,
    pipelined, prepare_image, prepare_image_file, read_media, sniff, whole_vector, AudioSegments, Segment,
    MAX_FILE_BYTES,
};
