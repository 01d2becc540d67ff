//! `kin collection …` and `kin import`: managing collections (in the embedded store or a
//! vector database server).

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{bail, Context, Result};
use kin_core::Modality;
use kin_store::{Backend, CollectionConfig, IndexKind, Item, ItemId, Quantization, Repair};
use serde_json::{json, Value};

use crate::cli::{CollectionCommand, CreateArgs, ImportArgs};
use crate::npy;

pub fn run(store: &dyn Backend, cmd: CollectionCommand) -> Result<()> {
    match cmd {
        CollectionCommand::Create(args) if !args.spaces.is_empty() || args.preset.is_some() => {
            let config = mixed_config_from(&args, store.text_search())?;
            let c = store.create(config)?;
            println!("created mixed collection {} with {} spaces:", c.name(), c.config().spaces.len());
            for s in &c.config().spaces {
                let takes: Vec<&str> = s.ingests.iter().map(|m| m.as_str()).collect();
                let reads: Vec<&str> = s.accepts.iter().map(|m| m.as_str()).collect();
                println!(
                    "  {:<10} {} ({} dimensions), takes {}, answers {} queries{}",
                    s.settings.name,
                    s.settings.model.as_deref().unwrap_or("-"),
                    s.settings.dim,
                    if takes.is_empty() { "nothing on the way in".to_string() } else { takes.join(", ") },
                    reads.join(" and "),
                    if s.settings.text.is_some() { ", full-text index" } else { "" }
                );
            }
        }
        CollectionCommand::Create(args) => {
            if !args.routes.is_empty() {
                bail!("--route says which space takes what: it goes with --space or --preset");
            }
            let config = config_from(&args, store.text_search())?;
            let c = store.create(config)?;
            let cfg = c.config();
            let index = serde_json::to_value(cfg.index)?;
            println!(
                "created collection {} ({} dimensions, {}, {} index)",
                cfg.name,
                cfg.dim,
                cfg.metric,
                index.as_str().unwrap_or("?")
            );
        }
        CollectionCommand::List { json } => {
            let mut rows = Vec::new();
            for name in store.names()? {
                let c = store.collection(&name)?;
                rows.push(describe(c.config(), c.count()?));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<24} {:<28} {:>6} {:<7} {:<5} {:>10}",
                    "COLLECTION", "MODEL", "DIM", "METRIC", "INDEX", "ITEMS"
                );
                let text = |v: &Value| {
                    v.as_str().map(String::from).unwrap_or_else(|| if v.is_null() { "-".into() } else { v.to_string() })
                };
                for r in rows {
                    println!(
                        "{:<24} {:<28} {:>6} {:<7} {:<5} {:>10}",
                        text(&r["name"]),
                        text(&r["model"]),
                        text(&r["dim"]),
                        text(&r["metric"]),
                        text(&r["index"]),
                        text(&r["items"])
                    );
                }
            }
        }
        CollectionCommand::Info { name, json } => {
            let c = store.collection(&name)?;
            let count = c.count()?;
            let mut info = describe(c.config(), count);
            if let (Some(usage), Some(obj)) = (c.usage()?, info.as_object_mut()) {
                let mib = |b: f64| format!("{:.1} MiB", b / f64::from(1 << 20));
                let per = |b: f64| {
                    if count == 0 {
                        String::new()
                    } else {
                        format!(" ({:.0} bytes per item)", b / count as f64)
                    }
                };
                obj.insert("index_nodes".into(), json!(usage.index_nodes));
                obj.insert(
                    "index_memory".into(),
                    json!(format!("{}{}", mib(usage.index_bytes as f64), per(usage.index_bytes as f64))),
                );
                obj.insert(
                    "disk".into(),
                    json!(format!("{}{}", mib(usage.disk_bytes as f64), per(usage.disk_bytes as f64))),
                );
                if c.config().text.is_some() {
                    obj.insert("text_index_memory".into(), json!(mib(usage.text_bytes as f64)));
                }
                obj.insert("log_records".into(), json!(usage.log_records));
                if json {
                    obj.insert("index_memory_bytes".into(), json!(usage.index_bytes));
                    obj.insert("text_index_memory_bytes".into(), json!(usage.text_bytes));
                    obj.insert("disk_bytes".into(), json!(usage.disk_bytes));
                }
            }
            if let Some(spaces) = info.get_mut("spaces").and_then(Value::as_array_mut) {
                for space in spaces.iter_mut() {
                    let handle = store.space(&name, space["name"].as_str().unwrap_or_default())?;
                    space["items"] = json!(handle.count()?);
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else if let Some(obj) = info.as_object() {
                for (k, v) in obj {
                    if let (true, Some(spaces)) = (k == "spaces", v.as_array()) {
                        for s in spaces {
                            let list = |v: &Value| {
                                v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                            };
                            println!(
                                "space {:<10} {} ({} dimensions), {} items; takes {}; answers {}{}",
                                s["name"].as_str().unwrap_or_default(),
                                s["model"].as_str().unwrap_or_default(),
                                s["dim"],
                                s["items"],
                                list(&s["takes"]).filter(|t| !t.is_empty()).unwrap_or_else(|| "nothing".into()),
                                list(&s["answers"]).unwrap_or_default(),
                                if s["text_index"].is_null() { "" } else { "; full-text index" },
                            );
                        }
                        continue;
                    }
                    println!("{k:<16} {}", v.as_str().map(String::from).unwrap_or_else(|| v.to_string()));
                }
            }
        }
        CollectionCommand::Drop { name } => {
            store.drop_collection(&name)?;
            println!("dropped collection {name}");
        }
        CollectionCommand::Check { name, json } => {
            let check = store.check(&name)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&check.to_json())?);
            } else {
                for f in &check.files {
                    println!("{:<24} {:<16} {}", f.file.display(), f.health.as_str(), f.detail);
                }
            }
            if check.damaged() {
                bail!("collection {name} is damaged; `kin collection repair {name}` keeps every intact record");
            }
        }
        CollectionCommand::Repair { name, json } => {
            let repair = store.repair(&name)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&repair.to_json())?);
                return Ok(());
            }
            print_repair(&name, &repair);
        }
        CollectionCommand::Reindex { name, text } => {
            if !text.text && !text.no_text {
                bail!(
                    "say --text (with its settings) to index the collection's text, or --no-text to remove the index"
                );
            }
            let started = std::time::Instant::now();
            let c = store.set_text_index(&name, text.config(false))?;
            match &c.config().text {
                Some(t) => println!(
                    "indexed the text of {} items of {name} ({} over {}) in {:.1} s",
                    c.count()?,
                    t.language.as_str(),
                    t.fields.join(", "),
                    started.elapsed().as_secs_f64()
                ),
                None => println!("removed the text index of {name}"),
            }
        }
    }
    Ok(())
}

fn print_repair(name: &str, repair: &Repair) {
    if repair.aside.is_none() {
        println!("collection {name} needed no repair ({} items)", repair.items);
        return;
    }
    for lost in &repair.lost {
        let between = match lost.between {
            (Some(a), Some(b)) if b > a + 1 => format!("; log records {}..={} are lost", a + 1, b - 1),
            (Some(a), None) => format!("; log records after {a} are lost"),
            (None, Some(b)) => format!("; log records before {b} are lost"),
            _ => String::new(),
        };
        println!("{}: bytes {}..{} are damaged{between}", lost.file.display(), lost.bytes.start, lost.bytes.end);
        if lost.read_as.is_empty() {
            println!("  they no longer read as a record");
        }
        for (lsn, ids) in &lost.read_as {
            let ids: Vec<String> = ids
                .iter()
                .map(|(id, present)| format!("{id}{}", if *present { " (another write of it is kept)" } else { "" }))
                .collect();
            println!("  they read as record {lsn} of {} (unverified: they fail their checksum)", ids.join(", "));
        }
    }
    for f in &repair.rebuilt {
        println!("{}: built again from the repaired snapshot", f.display());
    }
    if let Some(aside) = &repair.aside {
        println!("the files as they were, and this report (repair.json), are in {}", aside.display());
    }
    println!("collection {name} opens, with {} items", repair.items);
}

fn describe(cfg: &CollectionConfig, items: usize) -> Value {
    if cfg.is_mixed() {
        let spaces: Vec<Value> = cfg
            .spaces
            .iter()
            .map(|s| {
                json!({
                    "name": s.settings.name, "model": s.settings.model, "dim": s.settings.dim,
                    "metric": s.settings.metric, "index": s.settings.index, "takes": s.ingests,
                    "answers": s.accepts, "text_index": s.settings.text,
                })
            })
            .collect();
        let names: Vec<&str> = cfg.spaces.iter().map(|s| s.settings.name.as_str()).collect();
        return json!({
            "name": cfg.name, "model": format!("mixed: {}", names.join(", ")), "dim": "-", "metric": "-",
            "index": "-", "spaces": spaces, "items": items,
        });
    }
    json!({
        "name": cfg.name, "model": cfg.model, "dim": cfg.dim, "metric": cfg.metric, "index": cfg.index,
        "m": cfg.m, "ef_construction": cfg.ef_construction, "quantization": cfg.quantization,
        "text_index": cfg.text,
        "items": items,
    })
}

fn config_from(args: &CreateArgs, text_search: bool) -> Result<CollectionConfig> {
    let (model, dim, text_model) = match (&args.model, args.dim) {
        (Some(spec), _) => {
            let choice = kin_ingest::model_choice(spec, args.precision)?;
            let text_only = choice.text_only();
            (choice.model, choice.dim, text_only)
        }
        (None, Some(dim)) => (String::new(), dim, false),
        (None, None) => bail!("give --model or --dim"),
    };
    let mut cfg = CollectionConfig::new(&args.name, dim);
    cfg.model = (!model.is_empty()).then_some(model);
    if let Some(metric) = &args.metric {
        cfg.metric = metric.parse()?;
    }
    cfg.index = match args.index.as_str() {
        "hnsw" => IndexKind::Hnsw,
        "flat" => IndexKind::Flat,
        other => bail!("unknown index {other:?}: expected hnsw or flat"),
    };
    cfg.quantization = match args.quantize.as_str() {
        "none" => Quantization::None,
        "int8" => Quantization::Int8,
        other => bail!("unknown quantization {other:?}: expected none or int8"),
    };
    cfg.m = args.m;
    cfg.ef_construction = args.ef_construction;
    cfg.text = args.text.config(text_model && text_search);
    Ok(cfg)
}

/// A mixed collection's settings from `--space`/`--preset` and `--route`.
fn mixed_config_from(args: &CreateArgs, text_search: bool) -> Result<CollectionConfig> {
    let mut spaces = match &args.preset {
        Some(name) => kin_ingest::preset(name)?,
        None => Vec::new(),
    };
    for spec in &args.spaces {
        let Some((name, model)) = spec.split_once('=').filter(|(n, m)| !n.is_empty() && !m.is_empty()) else {
            bail!("--space {spec:?}: expected NAME=MODEL, e.g. text=all-MiniLM-L6-v2");
        };
        match spaces.iter_mut().find(|(n, _)| n == name) {
            Some(existing) if args.preset.is_some() => existing.1 = model.to_string(),
            Some(_) => bail!("--space {name}: declared twice"),
            None => spaces.push((name.to_string(), model.to_string())),
        }
    }
    let mut routes = Vec::new();
    for spec in &args.routes {
        let Some((modality, space)) = spec.split_once('=') else {
            bail!("--route {spec:?}: expected MODALITY=SPACE, e.g. image=photos");
        };
        routes.push((modality.parse::<Modality>()?, space.to_string()));
    }
    let text = args.text.config(text_search);
    let planned = kin_ingest::plan_spaces(&spaces, &routes, text.as_ref())?;
    let mut cfg = CollectionConfig::mixed(&args.name, planned);
    for space in &mut cfg.spaces {
        if let Some(metric) = &args.metric {
            space.settings.metric = metric.parse()?;
        }
        space.settings.m = args.m;
        space.settings.ef_construction = args.ef_construction;
    }
    Ok(cfg)
}

pub fn import(store: &dyn Backend, args: ImportArgs) -> Result<()> {
    let collection = store.collection(&args.collection)?;
    let matrix = npy::read_f32(&args.vectors)?;
    let ids: Vec<ItemId> = match &args.ids {
        Some(path) => read_lines(path)?
            .into_iter()
            .map(|l| l.trim().parse::<i64>().map(ItemId::Int).unwrap_or(ItemId::Str(l)))
            .collect(),
        None => (0..matrix.rows as i64).map(ItemId::Int).collect(),
    };
    if ids.len() != matrix.rows {
        bail!("{} ids for {} vectors", ids.len(), matrix.rows);
    }
    let payloads: Vec<Value> = match &args.payloads {
        Some(path) => read_lines(path)?
            .iter()
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).with_context(|| format!("{}:{}: invalid JSON", path.display(), i + 1))
            })
            .collect::<Result<_>>()?,
        None => vec![Value::Null; matrix.rows],
    };
    if payloads.len() != matrix.rows {
        bail!("{} payloads for {} vectors", payloads.len(), matrix.rows);
    }
    let mut done = 0;
    let batch_size = args.batch_size as usize;
    let mut batch = Vec::with_capacity(batch_size.min(matrix.rows));
    for (row, (id, payload)) in ids.into_iter().zip(payloads).enumerate() {
        batch.push(Item::new(id, matrix.row(row).to_vec()).with_payload(payload));
        if batch.len() == batch_size || row + 1 == matrix.rows {
            done += batch.len();
            collection.upsert(std::mem::take(&mut batch))?;
        }
    }
    collection.checkpoint()?;
    println!("imported {done} vectors into {} ({} items)", args.collection, collection.count()?);
    Ok(())
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    let file = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    BufReader::new(file)
        .lines()
        .enumerate()
        .map(|(i, l)| l.with_context(|| format!("{}:{}: not valid UTF-8", path.display(), i + 1)))
        .filter(|l| l.as_ref().map_or(true, |s| !s.trim().is_empty()))
        .collect()
}
