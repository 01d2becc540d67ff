//! What only Milvus needs: pymilvus reading what kin wrote, a restart in the middle of an
//! ingest, and clear errors for bad servers and foreign collections.

use super::*;

#[test]
fn pymilvus_reads_what_kin_wrote_with_the_documented_schema() {
    let m = milvus();
    let cfg = CollectionConfig { model: Some("all-MiniLM-L6-v2".into()), ..CollectionConfig::new(unique("py"), 4) };
    let c = m.create(cfg).unwrap();
    c.upsert(vec![
        Item {
            id: ItemId::Str("doc-1".into()),
            vector: vec![3.0, 4.0, 0.0, 0.0],
            payload: json!({"lang": "en"}),
            source: Some("a.txt".into()),
            content_hash: Some("abc".into()),
        },
        Item::new(7, vec![0.0, 0.0, 1.0, 0.0]),
    ])
    .unwrap();
    let script = r#"
import json, sys
from pymilvus import MilvusClient
uri, name = sys.argv[1], sys.argv[2]
c = MilvusClient(uri=uri)
d = c.describe_collection(name)
from pymilvus import DataType
fields = {f["name"]: (DataType(int(f["type"])).name, f.get("is_primary", False), f.get("params", {})) for f in d["fields"]}
rows = c.query(name, filter='id in ["doc-1", "7"]', output_fields=["*"])
print(json.dumps({"fields": fields, "properties": d.get("properties", {}), "rows": sorted(rows, key=lambda r: r["id"])}, default=str))
"#;
    let url = milvus_url().replace("milvus://", "http://");
    let out = Command::new(std::env::var("KIN_TEST_PYTHON").unwrap_or_else(|_| "python3".into()))
        .args(["-c", script, &url, c.name()])
        .output()
        .unwrap();
    assert!(out.status.success(), "pymilvus (scripts/test.sh installs it): {}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let fields = &got["fields"];
    assert_eq!(fields["id"][0], "VARCHAR", "{got}");
    assert_eq!(fields["id"][1], true, "{got}");
    assert_eq!(fields["int_id"][0], "BOOL");
    assert_eq!(fields["vector"][0], "FLOAT_VECTOR");
    assert_eq!(fields["vector"][2]["dim"].to_string().trim_matches('"'), "4");
    assert_eq!(fields["payload"][0], "JSON");
    assert_eq!(fields["source"][0], "VARCHAR");
    assert_eq!(fields["content_hash"][0], "VARCHAR");
    let settings: Value = serde_json::from_str(got["properties"]["kin.config"].as_str().unwrap()).unwrap();
    assert_eq!(settings["model"], "all-MiniLM-L6-v2");
    let rows = got["rows"].as_array().unwrap();
    assert_eq!(rows[0]["id"], "7");
    assert_eq!(rows[0]["int_id"], true);
    assert_eq!(rows[1]["id"], "doc-1");
    assert_eq!(rows[1]["payload"], json!({"lang": "en"}));
    assert_eq!(rows[1]["source"], "a.txt");
    assert_eq!(rows[1]["content_hash"], "abc");
    // Cosine collections keep unit vectors, as the embedded store does.
    let v: Vec<f64> = serde_json::from_value(rows[1]["vector"].clone()).unwrap();
    assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6, "{v:?}");
}

#[test]
fn a_server_restarted_mid_ingest_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = LiteServer::start(dir.path(), None);
    let port = server.port;
    let target = MilvusTarget::parse(&server.url()).unwrap();
    let m = MilvusBackend::connect_with(&target, Duration::from_secs(60)).unwrap();
    let c = m.create(CollectionConfig { metric: Metric::L2, ..CollectionConfig::new("restart", 8) }).unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let logs = Logs::default();
    let writer = {
        let (c, acked, logs) = (c.clone(), acked.clone(), logs.clone());
        std::thread::spawn(move || {
            // What kin reports while it retries, captured for this thread.
            let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || logs.clone()).finish();
            let _reporting = tracing::subscriber::set_default(subscriber);
            let mut rng = Rng(3);
            for batch in 0..60i64 {
                let items: Vec<Item> = (0..20).map(|i| Item::new(batch * 20 + i, rng.vector(8))).collect();
                let ids: Vec<i64> = (0..20).map(|i| batch * 20 + i).collect();
                match c.upsert(items) {
                    Ok(()) => acked.lock().unwrap().extend(ids),
                    Err(e) => return Err(e.to_string()),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        })
    };
    std::thread::sleep(Duration::from_millis(600));
    server.kill();
    let during = acked.lock().unwrap().len();
    std::thread::sleep(Duration::from_secs(2));
    let _server = LiteServer::start(&server.dir.clone(), Some(port));
    writer.join().unwrap().expect("the writer retried through the restart");
    let acked = acked.lock().unwrap().clone();
    assert!(during > 0 && acked.len() == 1200, "acknowledged {during} before the kill, {} in all", acked.len());
    assert_eq!(c.count().unwrap(), 1200);
    let (page, _) = c.scan(None, 4096).unwrap();
    let mut ids: Vec<i64> = page
        .iter()
        .map(|i| match i.id {
            ItemId::Int(v) => v,
            _ => -1,
        })
        .collect();
    ids.sort();
    assert_eq!(ids, (0..1200).collect::<Vec<_>>());
    let reported = logs.text();
    assert!(reported.contains("unreachable") && reported.contains("retrying in"), "{reported}");
    assert!(reported.contains("succeeded on attempt"), "{reported}");
}

/// Log lines written into memory.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn bad_servers_and_foreign_collections_get_clear_errors() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let target = MilvusTarget::parse(&format!("milvus://127.0.0.1:{closed}")).unwrap();
    let err = MilvusBackend::connect_with(&target, Duration::from_secs(1)).err().expect("nothing listens there");
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{closed}")), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // A collection made by another client, without kin's schema.
    let name = unique("foreign");
    let script = r#"
import sys
from pymilvus import MilvusClient, DataType
c = MilvusClient(uri=sys.argv[1])
s = c.create_schema(auto_id=False, enable_dynamic_field=False)
s.add_field("pk", DataType.INT64, is_primary=True)
s.add_field("emb", DataType.FLOAT_VECTOR, dim=4)
c.create_collection(sys.argv[2], schema=s)
"#;
    let url = milvus_url().replace("milvus://", "http://");
    let out = Command::new("python3").args(["-c", script, &url, &name]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m = milvus();
    let err = m.collection(&name).err().expect("not kin's");
    assert!(matches!(err, Error::IncompatibleSchema { .. }), "{err}");
    assert!(err.to_string().contains(&name) && err.to_string().contains("not created by kin"), "{err}");
    assert!(!m.names().unwrap().contains(&name), "foreign collections are not listed as kin's");
    assert!(m.drop_collection(&name).is_err(), "kin never drops what it did not make");
}
