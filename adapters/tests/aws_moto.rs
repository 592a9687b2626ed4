//! The AWS backends against moto's server (PyPI `moto[server]`), which speaks the S3 and
//! Athena protocols on loopback. The test installs moto under `target/` when Python cannot
//! import it (`.ci/run` installs it beforehand).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sfnlite_adapters::athena::AthenaApi;
use sfnlite_adapters::aws::{AwsSettings, backends};
use sfnlite_adapters::s3::{ListRequest, ObjectStore, PutRequest};

use crate::block_on;

struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python_path() -> Option<PathBuf> {
    let imports = |path: Option<&PathBuf>| {
        let mut command = Command::new("python3");
        command.args(["-c", "import moto.server, flask"]).stdout(Stdio::null()).stderr(Stdio::null());
        if let Some(p) = path {
            command.env("PYTHONPATH", p);
        }
        command.status().is_ok_and(|s| s.success())
    };
    if imports(None) {
        return None;
    }
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/moto-python");
    if !imports(Some(&target)) {
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--target"])
            .arg(&target)
            .arg("moto[server]")
            .status()
            .expect("python3 runs");
        assert!(status.success(), "installing moto[server] failed: run `python3 -m pip install 'moto[server]'`");
    }
    Some(target)
}

fn start_moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new("python3");
    command
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(path) = python_path() {
        command.env("PYTHONPATH", path);
    }
    let child = command.spawn().expect("moto's server starts (python3 -m moto.server)");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto's server did not start listening on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { child, url: format!("http://127.0.0.1:{port}") }
}

#[test]
fn aws_backends_speak_to_a_real_server() {
    // SAFETY: set before any thread of this test reads the environment; the SDK's
    // credential chain reads these (moto accepts any keys).
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    }
    let moto = start_moto();
    let settings = AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.url.clone()),
        profile: None,
        force_path_style: true,
    };
    let (athena, s3) = backends(&settings);
    let s3: Arc<dyn ObjectStore> = s3;
    let athena: Arc<dyn AthenaApi> = athena;
    block_on(async {
        s3.create_bucket("sfnlite-test").await.unwrap();
        let put = s3
            .put_object(PutRequest {
                bucket: "sfnlite-test".into(),
                key: "dir/a.txt".into(),
                body: b"hello".to_vec(),
                content_type: Some("text/plain".into()),
                metadata: Default::default(),
            })
            .await
            .unwrap();
        assert_eq!(put.etag, "\"5d41402abc4b2a76b9719d911017c592\"");
        let (body, meta) = s3.get_object("sfnlite-test", "dir/a.txt").await.unwrap();
        assert_eq!(
            (body.as_slice(), meta.content_type.as_str(), meta.content_length),
            (b"hello".as_slice(), "text/plain", 5)
        );
        assert_eq!(s3.get_object("sfnlite-test", "nope").await.unwrap_err().code, "NoSuchKey");
        assert_eq!(s3.head_object("sfnlite-test", "nope").await.unwrap_err().code, "NoSuchKey");
        assert_eq!(s3.get_object("no-such-bucket-x", "k").await.unwrap_err().code, "NoSuchBucket");
        s3.copy_object("sfnlite-test", "dir/a.txt", "sfnlite-test", "dir/b c.txt").await.unwrap();
        let page = s3
            .list_objects(ListRequest {
                bucket: "sfnlite-test".into(),
                prefix: "dir/".into(),
                max_keys: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.contents.len(), 1);
        assert!(page.next_continuation_token.is_some(), "paged at MaxKeys");
        s3.delete_object("sfnlite-test", "dir/a.txt").await.unwrap();
        assert!(s3.head_object("sfnlite-test", "dir/a.txt").await.is_err());

        let started = athena
            .start_query_execution(json!({
                "QueryString": "SELECT 1",
                "QueryExecutionContext": {"Database": "default"},
                "ResultConfiguration": {"OutputLocation": "s3://sfnlite-test/results/"},
                "WorkGroup": "primary",
            }))
            .await
            .unwrap();
        let id = started["QueryExecutionId"].as_str().unwrap().to_owned();
        let done = athena.wait_for_query(id.clone()).await.unwrap();
        let execution = &done["QueryExecution"];
        assert_eq!(execution["QueryExecutionId"], id.as_str());
        assert_eq!(execution["Query"], "SELECT 1");
        assert_eq!(execution["Status"]["State"], "SUCCEEDED");
        assert!(execution["Status"]["SubmissionDateTime"].is_i64(), "epoch milliseconds: {execution}");
        assert_eq!(execution["QueryExecutionContext"]["Database"], "default");
        let results = athena.get_query_results(json!({"QueryExecutionId": id})).await.unwrap();
        assert!(results["ResultSet"]["Rows"].is_array(), "{results}");
        assert!(results.get("UpdateCount").is_some());
        assert_eq!(athena.stop_query_execution(id).await.unwrap(), json!({}));
    });
}
