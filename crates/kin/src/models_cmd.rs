//! `kin models list | info | pull`.

use anyhow::Result;
use kin_models::{FetchConfig, ModelCard, Registry, Status};

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
    println!("{:<24} {:<12} {:>5}  {:<14} {:<5} {:<14} {}", "MODEL", "MODALITY", "DIM", "POOLING", "NORM", "LICENCE", "STATUS");
    for c in cards {
        let pooling = serde_json::to_value(c.pooling).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
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
    let value = serde_json::to_value(card)?;
    println!("{}", card.name);
    if let Some(obj) = value.as_object() {
        for (key, v) in obj {
            if key == "name" {
                continue;
            }
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("  {key:<13} {text}");
        }
    }
    Ok(())
}
