//! The local services' commands and settings: `s3`, `athena query` and `config`.

use serde_json::Value;

use crate::{sfnlite, temp_file};

#[test]
fn s3_commands_seed_and_read_the_local_s3() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let local = temp_file(&files, "orders.csv", "id,total\n1,9.5\n");
    let s3 = |args: &[&str]| sfnlite().env("SFNLITE_DATA_DIR", data.path()).arg("s3").args(args).output().unwrap();
    assert!(s3(&["mb", "s3://shop"]).status.success());
    let put = s3(&["cp", local.to_str().unwrap(), "s3://shop/in/"]);
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
    assert_eq!(std::fs::read_to_string(data.path().join("shop/in/orders.csv")).unwrap(), "id,total\n1,9.5\n");
    assert_eq!(s3(&["cat", "s3://shop/in/orders.csv"]).stdout, b"id,total\n1,9.5\n");
    let listing = String::from_utf8(s3(&["ls", "s3://shop/"]).stdout).unwrap();
    assert!(listing.contains("PRE in/"), "{listing}");
    let listing = String::from_utf8(s3(&["ls", "--recursive", "s3://shop"]).stdout).unwrap();
    assert!(listing.contains("in/orders.csv") && listing.contains("15"), "{listing}");
    let back = files.path().join("back.csv");
    assert!(s3(&["cp", "s3://shop/in/orders.csv", back.to_str().unwrap()]).status.success());
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "id,total\n1,9.5\n");
    assert!(s3(&["cp", "s3://shop/in/orders.csv", "s3://shop/copy/o.csv"]).status.success());
    assert!(s3(&["rm", "--recursive", "s3://shop/in/"]).status.success());
    assert!(!data.path().join("shop/in").exists());
    let missing = s3(&["cat", "s3://shop/nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NoSuchKey"));
    let escape = s3(&["cp", local.to_str().unwrap(), "s3://shop/../escape.csv"]);
    assert_eq!(escape.status.code(), Some(1));
    assert!(!data.path().join("escape.csv").exists(), "a key cannot leave its bucket");
    assert_eq!(s3(&["cat", "/etc/passwd"]).status.code(), Some(2), "not an s3:// address");
}

#[test]
fn athena_query_runs_statements_like_the_console() {
    let data = tempfile::tempdir().unwrap();
    let athena = |args: &[&str]| {
        sfnlite().env("SFNLITE_DATA_DIR", data.path()).arg("athena").arg("query").args(args).output().unwrap()
    };
    let sql = "SELECT status, COUNT(*) AS requests FROM cf_access_logs WHERE status IN ('404', '500') GROUP BY status ORDER BY status";
    let table = athena(&[sql, "--database", "serverlessland_database"]);
    assert!(table.status.success(), "{}", String::from_utf8_lossy(&table.stderr));
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("status | requests\n"), "{text}");
    assert!(String::from_utf8_lossy(&table.stderr).contains("SUCCEEDED"));
    let csv = athena(&[sql, "--database", "serverlessland_database", "--format", "csv"]);
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("\"status\",\"requests\"\n\"404\",\""), "the result file as Athena writes it: {csv}");
    let json = athena(&[
        sql,
        "--database",
        "serverlessland_database",
        "--format",
        "json",
        "--output-location",
        "s3://sfnlite-athena-results/q/",
    ]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["Columns"], serde_json::json!(["status", "requests"]));
    assert_eq!(report["Rows"].as_array().unwrap().len(), 2);
    assert!(
        report["QueryExecution"]["ResultConfiguration"]["OutputLocation"]
            .as_str()
            .unwrap()
            .starts_with("s3://sfnlite-athena-results/q/")
    );
    let failed = athena(&["SELECT * FROM nope"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("TABLE_NOT_FOUND"));
    let rejected = athena(&["SELECT 1", "--workgroup", "nope"]);
    assert_eq!(rejected.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&rejected.stderr).contains("InvalidRequestException"));
}

#[test]
fn config_names_where_each_setting_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let config = temp_file(&dir, "custom.toml", "backend = \"aws\"\n[aws]\nregion = \"eu-west-1\"\n");
    let out = sfnlite()
        .env_remove("SFNLITE_DATA_DIR")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .arg("--config")
        .arg(&config)
        .args(["--data-dir", "/tmp/d", "config", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let row =
        |name: &str| rows.iter().find(|r| r["setting"] == name).unwrap_or_else(|| panic!("{name}: {rows:?}")).clone();
    assert_eq!(
        (row("data_dir")["value"].as_str(), row("data_dir")["source"].as_str()),
        (Some("/tmp/d"), Some("flag --data-dir"))
    );
    assert_eq!(row("backend")["value"], "aws");
    assert!(row("backend")["source"].as_str().unwrap().contains("custom.toml"));
    assert_eq!(row("aws.region")["value"], "eu-west-1");
    assert_eq!(row("aws.endpoint_url")["source"], "env AWS_ENDPOINT_URL");
    assert_eq!(row("aws.force_path_style")["value"], "true");

    let broken = temp_file(&dir, "broken.toml", "data_dir = \".x\"\n\n[athena\n");
    let out = sfnlite().arg("--config").arg(&broken).arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("broken.toml") && message.contains("line 3"), "{message}");
    let unknown = temp_file(&dir, "unknown.toml", "data_dri = \"x\"\n");
    let out = sfnlite().arg("--config").arg(&unknown).arg("config").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("data_dri"));
}
