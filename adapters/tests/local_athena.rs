//! The embedded Athena through its API: DDL, SerDes, result files, paging, errors.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use serde_json::{Value, json};
use sfnlite_adapters::athena::{AthenaApi, QueryTimeout, Workgroup};

use crate::{block_on, local, local_with, s};

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn delimited_text_follows_lazy_simple_serde() {
    let l = local();
    l.put(
        "data",
        "people/a.tsv",
        "#header\n1\tann\t1.5\t2026-01-02\ttrue\n\t\t\t\t\n3\tbob\tx\t2026-02-30\tmaybe\n\\N\tcid\n",
    );
    l.put("data", "people/more/b.tsv.gz", gzip("#header\n7\tdee\t-0.25\t2025-12-31\tFALSE\textra\n"));
    l.put("data", "people/_SUCCESS", "ignored: hidden files are not data");
    l.ok("CREATE DATABASE hr", None);
    l.ok(
        "CREATE EXTERNAL TABLE hr.people (id INT, name STRING, score DOUBLE, joined DATE, active BOOLEAN)
         ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' LOCATION 's3://data/people/'
         TBLPROPERTIES ('skip.header.line.count'='1')",
        None,
    );
    // Quoted names are case-insensitive, as in Athena.
    assert_eq!(l.rows("SELECT COUNT(*) FROM \"HR\".\"People\"", None), [vec![s("5")]]);
    let rows = l.rows("SELECT id, name, score, joined, active FROM people ORDER BY id NULLS LAST, name", Some("hr"));
    assert_eq!(
        rows,
        vec![
            vec![s("1"), s("ann"), s("1.5"), s("2026-01-02"), s("true")],
            vec![s("3"), s("bob"), None, None, None],
            vec![s("7"), s("dee"), s("-0.25"), s("2025-12-31"), s("false")],
            // An empty field is NULL in an int column and the empty string in a string one.
            vec![None, s(""), None, None, None],
            // \N is NULL; missing trailing fields are NULL.
            vec![None, s("cid"), None, None, None],
        ]
    );
}

#[test]
fn result_files_and_column_info_are_athenas() {
    let l = local();
    l.put("data", "t/x.csv", "1,a\"b,\n2,,c\n");
    l.ok(
        "CREATE EXTERNAL TABLE t (n BIGINT, s1 STRING, s2 STRING)
         ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://data/t/'",
        None,
    );
    let done = l.run(
        "SELECT n, s1, NULLIF(s2, '') AS s2, CAST(n AS DOUBLE) / 4 AS d, CAST(n AS DECIMAL(10,2)) AS dec, n > 1 AS big FROM t ORDER BY n",
        None,
    );
    let execution = &done["QueryExecution"];
    let id = execution["QueryExecutionId"].as_str().unwrap();
    assert_eq!(execution["ResultConfiguration"]["OutputLocation"], format!("s3://results/{id}.csv"));
    assert_eq!(execution["StatementType"], "DML");
    assert_eq!(execution["WorkGroup"], "primary");
    assert!(execution["Status"]["SubmissionDateTime"].is_i64() && execution["Status"]["CompletionDateTime"].is_i64());
    assert!(execution["Statistics"]["DataScannedInBytes"].as_u64().unwrap() > 0);
    let keys: Vec<&String> = execution.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "keys in alphabetical order, as Step Functions prints them");

    let csv = std::fs::read_to_string(l.dir.path().join(format!("results/{id}.csv"))).unwrap();
    assert_eq!(
        csv,
        "\"n\",\"s1\",\"s2\",\"d\",\"dec\",\"big\"\n\"1\",\"a\"\"b\",,\"0.25\",\"1.00\",\"false\"\n\"2\",\"\",\"c\",\"0.5\",\"2.00\",\"true\"\n"
    );
    assert!(l.dir.path().join(format!("results/{id}.csv.metadata")).is_file());

    let page = block_on(l.athena.get_query_results(json!({"QueryExecutionId": id}))).unwrap();
    let columns = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"].as_array().unwrap();
    let types: Vec<(&str, i64, i64)> = columns
        .iter()
        .map(|c| (c["Type"].as_str().unwrap(), c["Precision"].as_i64().unwrap(), c["Scale"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        types,
        [
            ("bigint", 19, 0),
            ("varchar", 2147483647, 0),
            ("varchar", 2147483647, 0),
            ("double", 17, 0),
            ("decimal", 10, 2),
            ("boolean", 0, 0)
        ]
    );
    assert_eq!(columns[1]["CaseSensitive"], true);
    assert_eq!(columns[0]["CaseSensitive"], false);
    assert_eq!(columns[0]["Nullable"], "UNKNOWN");
    assert_eq!(columns[0]["CatalogName"], "hive");
    let rows = page["ResultSet"]["Rows"].as_array().unwrap();
    assert_eq!(rows[0]["Data"][0], json!({"VarCharValue": "n"}), "the header row comes first");
    assert_eq!(rows[1]["Data"][2], json!({}), "NULL is a Datum without VarCharValue");
    assert_eq!(rows[2]["Data"][1], json!({"VarCharValue": ""}), "the empty string is kept");
    assert_eq!(page["UpdateCount"], 0);
}

#[test]
fn get_query_results_pages_like_athena() {
    let l = local();
    let lines: String = (0..2500).map(|i| format!("{i}\n")).collect();
    l.put("data", "n/n.txt", lines);
    l.ok("CREATE EXTERNAL TABLE n (i INT) LOCATION 's3://data/n/'", None);
    let id = l.ok("SELECT i FROM n ORDER BY i", None);
    let mut token: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let mut request = json!({"QueryExecutionId": id});
        if let Some(t) = &token {
            request["NextToken"] = json!(t);
        }
        let page = block_on(l.athena.get_query_results(request)).unwrap();
        let rows: Vec<String> = page["ResultSet"]["Rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Data"][0]["VarCharValue"].as_str().unwrap().to_owned())
            .collect();
        pages.push(rows);
        match page.get("NextToken") {
            Some(t) => token = Some(t.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [1000, 1000, 501]);
    assert_eq!(pages[0][0], "i", "the header is on the first page only");
    assert_eq!(pages[1][0], "999");
    assert_eq!(pages[2][500], "2499");
    let small = block_on(l.athena.get_query_results(json!({"QueryExecutionId": id, "MaxResults": 2}))).unwrap();
    assert_eq!(small["ResultSet"]["Rows"].as_array().unwrap().len(), 2);
    let check = id.replace('-', "");
    let huge = format!("ffffffffffffffff.{}", &check[..8]);
    for bad in [
        json!({"QueryExecutionId": id, "MaxResults": 1001}),
        json!({"QueryExecutionId": id, "NextToken": "garbage"}),
        json!({"QueryExecutionId": id, "NextToken": huge}),
    ] {
        let error = block_on(l.athena.get_query_results(bad)).unwrap_err();
        assert_eq!(error.code, "InvalidRequestException");
    }
}

#[test]
fn csv_json_partitioned_and_parquet_tables() {
    let l = local();
    l.put("data", "csv/a.csv", "id,comment\n\"1\",\"hello, world\"\n\"2\",\"say \"\"hi\"\"\"\n");
    l.ok(
        "CREATE EXTERNAL TABLE c (id INT, comment STRING)
         ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
         WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '\"')
         LOCATION 's3://data/csv/' TBLPROPERTIES ('skip.header.line.count'='1')",
        None,
    );
    assert_eq!(
        l.rows("SELECT id, comment FROM c ORDER BY id", None),
        [vec![s("1"), s("hello, world")], vec![s("2"), s("say \"hi\"")]]
    );

    l.put(
        "data",
        "events/e.json",
        "{\"EventName\": \"Login\", \"user\": {\"name\": \"ann\", \"age\": 30}, \"tags\": [\"a\", \"b\"], \"n\": \"12\"}\n{\"eventname\": \"Logout\", \"n\": \"x\"}\n",
    );
    l.ok(
        "CREATE EXTERNAL TABLE e (eventname STRING, user STRUCT<name: STRING, age: INT>, tags ARRAY<STRING>, n INT)
         ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://data/events/'",
        None,
    );
    assert_eq!(
        l.rows("SELECT eventname, user, tags, n, cardinality(tags) FROM e ORDER BY eventname", None),
        [
            vec![s("Login"), s("{name=ann, age=30}"), s("[a, b]"), s("12"), s("2")],
            vec![s("Logout"), None, None, None, None]
        ]
    );

    l.put("data", "logs/dt=2026-01-01/a.txt", "1\n2\n");
    l.put("data", "logs/dt=2026-01-02/a.txt", "3\n");
    l.put("data", "elsewhere/b.txt", "4\n");
    l.ok("CREATE EXTERNAL TABLE p (v INT) PARTITIONED BY (dt STRING) LOCATION 's3://data/logs/'", None);
    l.ok("ALTER TABLE p ADD PARTITION (dt='2026-01-03') LOCATION 's3://data/elsewhere/'", None);
    assert_eq!(
        l.rows("SELECT dt, SUM(v) FROM p GROUP BY dt ORDER BY dt", None),
        [vec![s("2026-01-01"), s("3")], vec![s("2026-01-02"), s("3")], vec![s("2026-01-03"), s("4")]]
    );

    // Parquet: columns matched by name (case-insensitively) and cast to the declared type.
    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    let schema =
        Arc::new(Schema::new(vec![Field::new("Name", DataType::Utf8, true), Field::new("qty", DataType::Int32, true)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(vec![Some("x"), None])), Arc::new(Int32Array::from(vec![Some(5), Some(7)]))],
    )
    .unwrap();
    let mut bytes = Vec::new();
    let mut writer = datafusion::parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    l.put("data", "pq/part-0.parquet", bytes);
    l.ok(
        "CREATE EXTERNAL TABLE pq (name STRING, qty BIGINT, missing STRING) STORED AS PARQUET LOCATION 's3://data/pq/'",
        None,
    );
    assert_eq!(
        l.rows("SELECT name, qty, missing FROM pq ORDER BY qty", None),
        [vec![s("x"), s("5"), None], vec![None, s("7"), None]]
    );
}

#[test]
fn ddl_and_utility_statements() {
    let l = local();
    l.ok("CREATE DATABASE IF NOT EXISTS sales", None);
    l.ok("CREATE DATABASE IF NOT EXISTS sales", None);
    let again = l.run("CREATE DATABASE sales", None);
    assert_eq!(again["QueryExecution"]["Status"]["State"], "FAILED");
    l.ok("CREATE EXTERNAL TABLE sales.orders (id INT) LOCATION 's3://data/orders/'", None);
    let id = l.ok("SHOW TABLES IN sales", None);
    let done = l.run("SHOW TABLES IN sales", None);
    assert_eq!(done["QueryExecution"]["StatementType"], "UTILITY");
    let location = done["QueryExecution"]["ResultConfiguration"]["OutputLocation"].as_str().unwrap();
    assert!(location.ends_with(".txt"), "{location}");
    let page = block_on(l.athena.get_query_results(json!({"QueryExecutionId": id}))).unwrap();
    assert_eq!(
        page["ResultSet"]["Rows"],
        json!([{"Data": [{"VarCharValue": "orders"}]}]),
        "no header row for utility results"
    );
    let databases =
        block_on(l.athena.get_query_results(json!({"QueryExecutionId": l.ok("SHOW DATABASES", None)}))).unwrap();
    assert_eq!(databases["ResultSet"]["Rows"].as_array().unwrap().len(), 2, "default and sales");
    let create = l.run("CREATE EXTERNAL TABLE x (a INT) LOCATION 's3://data/x/'", None);
    assert_eq!(create["QueryExecution"]["StatementType"], "DDL");
    let described = l.ok("DESCRIBE sales.orders", None);
    let page = block_on(l.athena.get_query_results(json!({"QueryExecutionId": described}))).unwrap();
    assert_eq!(
        page["ResultSet"]["Rows"][0]["Data"],
        json!([{"VarCharValue": "id"}, {"VarCharValue": "int"}, {"VarCharValue": ""}])
    );
    assert_eq!(page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"].as_array().unwrap().len(), 3);
    let explained = l.ok("EXPLAIN SELECT 1", None);
    let page = block_on(l.athena.get_query_results(json!({"QueryExecutionId": explained}))).unwrap();
    let width = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"].as_array().unwrap().len();
    assert!(page["ResultSet"]["Rows"].as_array().unwrap().iter().all(|r| r["Data"].as_array().unwrap().len() == width));
    l.ok("DROP TABLE sales.orders", None);
    assert_eq!(l.run("DROP TABLE sales.orders", None)["QueryExecution"]["Status"]["State"], "FAILED");
    l.ok("DROP TABLE IF EXISTS sales.orders", None);
    l.ok("DROP DATABASE sales", None);
    // The catalog persists: a second Athena on the same data root sees the table.
    let other = sfnlite_adapters::athena::LocalAthena::new(l.s3.clone(), l.athena.workgroups().clone());
    assert!(other.catalog().unwrap().databases["default"].tables.contains_key("x"));
}

#[test]
fn failed_queries_and_rejected_requests() {
    let l = local();
    let syntax = l.run("SELEC 1", None);
    let status = &syntax["QueryExecution"]["Status"];
    assert_eq!(status["State"], "FAILED");
    assert!(status["StateChangeReason"].as_str().unwrap().starts_with("SYNTAX_ERROR"), "{status}");
    assert_eq!(status["AthenaError"]["ErrorCategory"], 2);
    assert_eq!(status["AthenaError"]["ErrorType"], 1006);
    assert_eq!(status["AthenaError"]["Retryable"], false);
    let missing = l.run("SELECT * FROM nowhere", Some("default"));
    assert_eq!(
        missing["QueryExecution"]["Status"]["StateChangeReason"],
        "TABLE_NOT_FOUND: Table 'awsdatacatalog.default.nowhere' does not exist"
    );
    let id = missing["QueryExecution"]["QueryExecutionId"].as_str().unwrap();
    let error = block_on(l.athena.get_query_results(json!({"QueryExecutionId": id}))).unwrap_err();
    assert_eq!(error.code, "InvalidRequestException");
    assert!(error.message.contains("FAILED"), "{error}");

    l.ok("CREATE EXTERNAL TABLE part (a INT) PARTITIONED BY (dt STRING) LOCATION 's3://data/part/'", None);
    for bad in [
        "ALTER TABLE part ADD PARTITION (dt='x') LOCATION 's3://data/../etc/'",
        "ALTER TABLE part ADD PARTITION (dt='..')",
    ] {
        assert_eq!(l.run(bad, None)["QueryExecution"]["Status"]["State"], "FAILED", "{bad}");
    }
    let escape = l.run("CREATE EXTERNAL TABLE esc (a INT) LOCATION 's3://data/../../etc/'", None);
    assert_eq!(escape["QueryExecution"]["Status"]["State"], "FAILED", "a LOCATION cannot leave the data root");

    let start = |request: Value| block_on(l.athena.start_query_execution(request));
    assert_eq!(start(json!({})).unwrap_err().code, "InvalidRequestException");
    assert!(
        start(json!({"QueryString": "SELECT 1", "WorkGroup": "nope"}))
            .unwrap_err()
            .message
            .contains("WorkGroup nope is not found")
    );
    assert!(start(json!({"QueryString": "SELECT 1", "ResultConfiguration": {"OutputLocation": "/tmp/x"}})).is_err());
    assert!(block_on(l.athena.get_query_execution("no-such-id".into())).is_err());
    assert!(block_on(l.athena.get_query_execution("../../etc/passwd".into())).is_err());
}

#[test]
fn output_location_precedence_and_idempotency() {
    let mut workgroups = BTreeMap::new();
    workgroups.insert("bare".to_owned(), Workgroup::default());
    workgroups.insert(
        "enforced".to_owned(),
        Workgroup {
            output_location: Some("s3://results/enforced/".into()),
            enforce_configuration: true,
            ..Workgroup::default()
        },
    );
    let l = local_with(workgroups);
    let start = |request: Value| block_on(l.athena.run_statement(request));
    let location =
        |done: &Value| done["QueryExecution"]["ResultConfiguration"]["OutputLocation"].as_str().unwrap().to_owned();
    // No location anywhere: rejected, as sample A's `ResultConfiguration: {}` would be.
    let error = start(json!({"QueryString": "SELECT 1", "WorkGroup": "bare", "ResultConfiguration": {}})).unwrap_err();
    assert!(error.message.contains("No output location provided"), "{error}");
    let requested =
        start(json!({"QueryString": "SELECT 1", "ResultConfiguration": {"OutputLocation": "s3://results/mine"}}))
            .unwrap();
    assert!(
        location(&requested).starts_with("s3://results/mine/"),
        "the request wins over the workgroup: {}",
        location(&requested)
    );
    let from_workgroup = start(json!({"QueryString": "SELECT 1", "ResultConfiguration": {}})).unwrap();
    assert!(location(&from_workgroup).starts_with("s3://results/"));
    let enforced = start(json!({"QueryString": "SELECT 1", "WorkGroup": "enforced", "ResultConfiguration": {"OutputLocation": "s3://results/mine/"}})).unwrap();
    assert!(location(&enforced).starts_with("s3://results/enforced/"), "an enforcing workgroup wins");

    let token = "0123456789abcdef0123456789abcdef";
    let first =
        block_on(l.athena.start_query_execution(json!({"QueryString": "SELECT 1", "ClientRequestToken": token})))
            .unwrap();
    let second =
        block_on(l.athena.start_query_execution(json!({"QueryString": "SELECT 1", "ClientRequestToken": token})))
            .unwrap();
    assert_eq!(first, second, "same token, same request: same query");
    assert!(
        block_on(l.athena.start_query_execution(json!({"QueryString": "SELECT 2", "ClientRequestToken": token})))
            .is_err()
    );

    let with_parameters =
        block_on(l.athena.run_statement(json!({"QueryString": "SELECT ? + ?", "ExecutionParameters": ["1", "2"]})))
            .unwrap();
    let id = with_parameters["QueryExecution"]["QueryExecutionId"].as_str().unwrap();
    let page = block_on(l.athena.get_query_results(json!({"QueryExecutionId": id}))).unwrap();
    assert_eq!(page["ResultSet"]["Rows"][1]["Data"][0]["VarCharValue"], "3");
    // A parameter is a value, never SQL text: `1 --` would comment out the rest.
    let injected = block_on(
        l.athena.run_statement(json!({"QueryString": "SELECT ? + 1 WHERE 1 = 0", "ExecutionParameters": ["1 --"]})),
    );
    let shown = format!("{injected:?}");
    assert!(shown.contains("INVALID_PARAMETER_USAGE") && shown.contains("is not a literal"), "{shown}");
    // Stopping a finished query changes nothing.
    assert_eq!(block_on(l.athena.stop_query_execution(id.into())).unwrap(), json!({}));
    let _: Arc<dyn AthenaApi> = l.api();
}

#[test]
fn stopping_a_running_query_cancels_it() {
    let l = local();
    let lines: String = (0..300_000).map(|i| format!("{i}\tsome text to parse {i}\n")).collect();
    l.put("data", "big/a.tsv", lines);
    l.ok("CREATE EXTERNAL TABLE big (i BIGINT, s STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' LOCATION 's3://data/big/'", None);
    let started =
        block_on(l.athena.start_query_execution(json!({"QueryString": "SELECT s, COUNT(*) FROM big GROUP BY s"})))
            .unwrap();
    let id = started["QueryExecutionId"].as_str().unwrap().to_owned();
    assert_eq!(block_on(l.athena.stop_query_execution(id.clone())).unwrap(), json!({}));
    let done = block_on(l.athena.wait_for_query(id.clone())).unwrap();
    let status = &done["QueryExecution"]["Status"];
    assert_eq!(status["State"], "CANCELLED", "{status}");
    assert!(status["CompletionDateTime"].is_i64());
    // It stays cancelled once the work it had started is over.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let later = block_on(l.athena.get_query_execution(id.clone())).unwrap();
    assert_eq!(later["QueryExecution"]["Status"]["State"], "CANCELLED");
    assert!(block_on(l.athena.get_query_results(json!({"QueryExecutionId": id}))).is_err());
}

#[test]
fn queries_are_bounded_by_their_workgroups_limits() {
    let mut workgroups = BTreeMap::new();
    workgroups.insert(
        "tight".to_owned(),
        Workgroup {
            output_location: Some("s3://results/".into()),
            memory_limit_mib: Some(8),
            query_timeout: Some(QueryTimeout::Text("1s".into())),
            ..Workgroup::default()
        },
    );
    // The same memory limit with time to reach it however loaded the machine is.
    workgroups.insert(
        "small".to_owned(),
        Workgroup {
            output_location: Some("s3://results/".into()),
            memory_limit_mib: Some(8),
            query_timeout: Some(QueryTimeout::Text("5m".into())),
            ..Workgroup::default()
        },
    );
    let l = local_with(workgroups);
    let run_in = |workgroup: &str, sql: &str| {
        let started =
            block_on(l.athena.start_query_execution(json!({"QueryString": sql, "WorkGroup": workgroup}))).unwrap();
        let id = started["QueryExecutionId"].as_str().unwrap().to_owned();
        block_on(l.athena.wait_for_query(id)).unwrap()["QueryExecution"]["Status"].clone()
    };
    let run = |sql: &str| run_in("tight", sql);
    let run_small = |sql: &str| run_in("small", sql);
    // A trillion rows: stopped at the workgroup's time limit, as Athena's query timeout.
    let status = run("SELECT count(*) FROM generate_series(1, 1000000000000)");
    assert_eq!(status["State"], "FAILED", "{status}");
    assert!(status["StateChangeReason"].as_str().unwrap().starts_with("EXCEEDED_TIME_LIMIT: "), "{status}");
    assert_eq!(status["AthenaError"]["ErrorType"], 206);
    // A hash join's build side cannot spill: past the memory pool, Athena's resource error.
    let status = run_small(
        "SELECT count(*) FROM generate_series(1, 3000000) a(x) JOIN generate_series(1, 3000000) b(y) ON x = y",
    );
    assert_eq!(status["State"], "FAILED", "{status}");
    assert!(status["StateChangeReason"].as_str().unwrap().starts_with("EXCEEDED_MEMORY_LIMIT: "), "{status}");
    assert_eq!((&status["AthenaError"]["ErrorType"], &status["AthenaError"]["ErrorCategory"]), (&json!(1), &json!(2)));
    // A table's files are read into memory as the query is planned: that counts too. A
    // 100 MB text in a 100 KB gzip file stops at the limit, not in the machine's memory.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut bomb, &vec![b'7'; 100_000_000]).unwrap();
    l.put("data", "bomb/big.gz", bomb.finish().unwrap());
    l.ok("CREATE EXTERNAL TABLE bomb (v STRING) LOCATION 's3://data/bomb/'", None);
    let status = run_small("SELECT count(*) FROM bomb");
    assert!(status["StateChangeReason"].as_str().unwrap().starts_with("EXCEEDED_MEMORY_LIMIT: "), "{status}");
    // So do the rows read, and the result held.
    l.put("data", "wide/rows.txt", "x\n".repeat(3_000_000));
    l.ok("CREATE EXTERNAL TABLE wide (v STRING) LOCATION 's3://data/wide/'", None);
    let status = run_small("SELECT max(v) FROM wide");
    assert!(
        status["StateChangeReason"].as_str().unwrap_or_default().starts_with("EXCEEDED_MEMORY_LIMIT: "),
        "{status}"
    );
    let status = run_small("SELECT repeat('x', 10000000)");
    assert!(status["StateChangeReason"].as_str().unwrap().starts_with("EXCEEDED_MEMORY_LIMIT: "), "{status}");
    // A malformed Parquet file that claims many rows reads for seconds: the time limit stops
    // the reader threads too (the query ends, EXCEEDED_TIME_LIMIT, and nothing reads on).
    let parquet =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/artifacts/table/timeout-parquet-claimed-rows"))
            .unwrap();
    l.put("data", "claims/part-0.parquet", parquet[1..].to_vec());
    l.ok("CREATE EXTERNAL TABLE claims (a INT) STORED AS PARQUET LOCATION 's3://data/claims/'", None);
    let status = run("SELECT count(*) FROM claims");
    assert!(status["StateChangeReason"].as_str().unwrap().starts_with("EXCEEDED_TIME_LIMIT: "), "{status}");
    // A sort bigger than the pool spills instead, and the engine carries on.
    assert_eq!(l.rows("SELECT count(DISTINCT x) FROM generate_series(1, 2000000) t(x)", None), [vec![s("2000000")]]);
    // Bad limits are refused with the setting named.
    let zero = Workgroup { memory_limit_mib: Some(0), ..Workgroup::default() };
    assert!(zero.limits().unwrap_err().contains("memory_limit_mib"));
    let words = Workgroup { query_timeout: Some(QueryTimeout::Text("soon".into())), ..Workgroup::default() };
    assert!(words.limits().unwrap_err().contains("query_timeout"));
    let micro = Workgroup { query_timeout: Some(QueryTimeout::Text("5µ".into())), ..Workgroup::default() };
    assert!(micro.limits().unwrap_err().contains("\"5µ\""));
    let minutes = Workgroup { query_timeout: Some(QueryTimeout::Text("2m".into())), ..Workgroup::default() };
    assert_eq!(minutes.limits().unwrap().timeout.as_secs(), 120);
    assert_eq!(Workgroup::default().limits().unwrap().timeout.as_secs(), 30 * 60);
}

#[test]
fn a_query_stopped_mid_scan_ends_and_the_engine_carries_on() {
    let l = local();
    let started = block_on(
        l.athena
            .start_query_execution(json!({"QueryString": "SELECT count(*) FROM generate_series(1, 1000000000000)"})),
    )
    .unwrap();
    let id = started["QueryExecutionId"].as_str().unwrap().to_owned();
    let state = || {
        let got = block_on(l.athena.get_query_execution(id.clone())).unwrap();
        got["QueryExecution"]["Status"]["State"].as_str().unwrap().to_owned()
    };
    while state() != "RUNNING" {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(block_on(l.athena.stop_query_execution(id.clone())).unwrap(), json!({}));
    assert_eq!(state(), "CANCELLED");
    // The scan was dropped with the query: other queries run (while it spun, the two query
    // threads were both busy with it).
    assert_eq!(l.rows("SELECT 40 + 2", None), [vec![s("42")]]);
    assert_eq!(state(), "CANCELLED");
}
