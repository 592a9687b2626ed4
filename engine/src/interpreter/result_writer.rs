//! A distributed Map's ResultWriter, as its children end. Each child's record goes into
//! its status's file at once (files list children in the order they ended) and a file is
//! uploaded in parts of 8 MiB as it fills (an S3 multipart upload, through the task
//! adapter of `arn:aws:states:::s3:*` like every S3 call of the Map), so neither the
//! records nor a whole file are ever held: a Map Run of millions of items writes its
//! results in constant memory. A file smaller than a part is one PutObject. At the end:
//! the PENDING records of children that never ended, then `manifest.json`, and the
//! state's result `{MapRunArn, ResultWriterDetails}`. A WriterConfig alone (no
//! Parameters) previews: the transformed results are the state's result.

use serde_json::{Value, json};
use sfnlite_states::definition::{ResultWriter, Transformation};
use sfnlite_states::eval::Env;
use sfnlite_states::eval::items::ItemList;
use sfnlite_states::eval::result_writer::{
    Body, ChildResult, Closed, ResultFile, file_key, folder, manifest, transform, writer_failed,
};
use sfnlite_states::{EvalError, StatesError};

use super::Run;
use super::recovery::Entry;

/// A part of a file being uploaded (S3 takes parts of 5 MiB or more, but for the last).
const PART_BYTES: usize = 8 * 1024 * 1024;

/// Where an export goes: the bucket, the Map Run's folder, the state that writes.
struct Destination {
    bucket: String,
    folder: String,
    state: String,
}

/// A file being uploaded in parts.
struct Upload {
    key: String,
    id: String,
    parts: Vec<Value>,
}

/// One status's files (`SUCCEEDED_0.json`, `SUCCEEDED_1.json`…), uploaded as they fill.
struct Stream {
    status: &'static str,
    body: Body,
    upload: Option<Upload>,
    written: Vec<ResultFile>,
}

/// What the ResultWriter gathers while the children end.
pub(super) enum Collected {
    /// No ResultWriter: the Map's output is its children's results.
    Nothing,
    /// A WriterConfig alone: each child's transformed results, in the items' order.
    Preview { results: Vec<Option<Vec<Value>>>, transformation: Transformation },
    /// An export to S3.
    Export(Box<Export>),
}

pub(super) struct Export {
    destination: Destination,
    succeeded: Stream,
    failed: Stream,
    /// Which children ended (the others are PENDING).
    ended: Vec<bool>,
    transformation: Transformation,
    /// Set once a write failed: nothing more is written.
    broken: bool,
}

impl Stream {
    fn new(status: &'static str, json_lines: bool) -> Stream {
        Stream { status, body: Body::new(json_lines), upload: None, written: Vec::new() }
    }

    /// A stream whose first files exist already (an earlier attempt's, kept).
    fn after(status: &'static str, json_lines: bool, earlier: Vec<ResultFile>) -> Stream {
        let body = Body::new(json_lines).starting_at(earlier.len());
        Stream { status, body, upload: None, written: earlier }
    }

    /// Appends a record; uploads what filled.
    async fn push(&mut self, run: &Run<'_>, to: &Destination, value: &Value) -> Result<(), StatesError> {
        if let Some(closed) = self.body.push(value) {
            self.close(run, to, closed).await?;
        }
        if let Some(text) = self.body.take_part(PART_BYTES) {
            if self.upload.is_none() {
                let key = file_key(&to.folder, self.status, self.body.file(), self.body.json_lines());
                let started = run.result_call(to, "createMultipartUpload", json!({"Key": key})).await?;
                let id = match started["UploadId"].as_str() {
                    Some(id) if !id.is_empty() => id.to_owned(),
                    _ => {
                        return Err(writer_failed(format!(
                            "starting the upload of s3://{}/{key} gave no UploadId",
                            to.bucket
                        )));
                    }
                };
                self.upload = Some(Upload { key, id, parts: Vec::new() });
            }
            self.upload_part(run, to, text).await?;
        }
        Ok(())
    }

    /// Uploads the next part of the file being uploaded (which stays recorded whatever
    /// happens, so that a failure can abandon it).
    async fn upload_part(&mut self, run: &Run<'_>, to: &Destination, text: String) -> Result<(), StatesError> {
        let Some(upload) = self.upload.as_mut() else { return Ok(()) };
        let number = upload.parts.len() + 1;
        let arguments =
            json!({"Key": upload.key, "UploadId": upload.id, "PartNumber": number, "Body": Value::String(text)});
        let answer = run.result_call(to, "uploadPart", arguments).await?;
        upload.parts.push(json!({"ETag": answer["ETag"], "PartNumber": number}));
        Ok(())
    }

    /// A file is complete: its last text written, its upload completed.
    async fn close(&mut self, run: &Run<'_>, to: &Destination, closed: Closed) -> Result<(), StatesError> {
        let key = file_key(&to.folder, self.status, closed.file, self.body.json_lines());
        if self.upload.is_none() {
            let body = Value::String(closed.tail);
            run.result_call(to, "putObject", json!({"Key": key, "Body": body})).await?;
        } else {
            if !closed.tail.is_empty() {
                self.upload_part(run, to, closed.tail).await?;
            }
            if let Some(upload) = &self.upload {
                let parts = json!({"Parts": upload.parts});
                let arguments = json!({"Key": upload.key, "UploadId": upload.id, "MultipartUpload": parts});
                run.result_call(to, "completeMultipartUpload", arguments).await?;
            }
            self.upload = None;
        }
        self.written.push(ResultFile { status: self.status, key, size: closed.size });
        Ok(())
    }

    /// The last file, closed: every file written.
    async fn finish(&mut self, run: &Run<'_>, to: &Destination) -> Result<Vec<ResultFile>, StatesError> {
        let body = std::mem::replace(&mut self.body, Body::new(false));
        if let Some(closed) = body.finish() {
            self.close(run, to, closed).await?;
        }
        Ok(std::mem::take(&mut self.written))
    }

    /// An upload left unfinished (after a failure) is abandoned.
    async fn abandon(&mut self, run: &Run<'_>, to: &Destination) {
        if let Some(upload) = self.upload.take() {
            let arguments = json!({"Key": upload.key, "UploadId": upload.id});
            let _ = run.result_call(to, "abortMultipartUpload", arguments).await;
        }
    }
}

impl Run<'_> {
    /// What a Map Run with `writer` gathers: an export's destination is evaluated now
    /// (its Parameters against the state's effective input). `earlier`: SUCCEEDED files an
    /// earlier attempt wrote whose children do not run again (kept, and listed first).
    pub(super) fn collector(
        &self,
        writer: Option<&ResultWriter>,
        map_run_arn: &str,
        entry: &Entry<'_>,
        env: &Env<'_>,
        total: usize,
        earlier: Vec<ResultFile>,
    ) -> Result<Collected, EvalError> {
        let Some(writer) = writer else { return Ok(Collected::Nothing) };
        let Some(parameters) = &writer.parameters else {
            return Ok(Collected::Preview { results: vec![None; total], transformation: writer.transformation });
        };
        let place = super::items::render(parameters, &entry.effective, env, "Arguments")?;
        let bucket = place["Bucket"]
            .as_str()
            .ok_or_else(|| EvalError::Raised(writer_failed("the ResultWriter's Parameters name no Bucket")))?;
        let destination = Destination {
            bucket: bucket.to_owned(),
            folder: folder(place["Prefix"].as_str().unwrap_or_default(), map_run_arn),
            state: entry.state.name.to_string(),
        };
        Ok(Collected::Export(Box::new(Export {
            destination,
            succeeded: Stream::after("SUCCEEDED", writer.json_lines, earlier),
            failed: Stream::new("FAILED", writer.json_lines),
            ended: vec![false; total],
            transformation: writer.transformation,
            broken: false,
        })))
    }

    /// A child ended: its record (a failed one always in its NONE form) goes to its file.
    pub(super) async fn collect(
        &self,
        collected: &mut Collected,
        index: usize,
        report: ChildResult,
    ) -> Result<(), StatesError> {
        let succeeded = report.status == "SUCCEEDED";
        match collected {
            Collected::Nothing => Ok(()),
            Collected::Preview { results, transformation } => {
                results[index] =
                    Some(if succeeded { transform(report, *transformation) } else { vec![report.record()] });
                Ok(())
            }
            Collected::Export(export) => {
                export.ended[index] = true;
                if export.broken {
                    return Ok(());
                }
                let written = if succeeded {
                    let mut written = Ok(());
                    for value in transform(report, export.transformation) {
                        written = export.succeeded.push(self, &export.destination, &value).await;
                        if written.is_err() {
                            break;
                        }
                    }
                    written
                } else {
                    export.failed.push(self, &export.destination, &report.record()).await
                };
                if written.is_err() {
                    export.broken = true;
                    export.succeeded.abandon(self, &export.destination).await;
                    export.failed.abandon(self, &export.destination).await;
                }
                written
            }
        }
    }

    /// The end of the ResultWriter: for an export, the PENDING records, the files' last
    /// parts and `manifest.json`, and `{MapRunArn, ResultWriterDetails}` with the SUCCEEDED
    /// files; for a preview, the transformed results. `None` without a ResultWriter.
    pub(super) async fn write_results(
        &self,
        collected: Collected,
        map_run_arn: &str,
        inputs: &ItemList,
    ) -> Result<Option<(Value, Vec<ResultFile>)>, StatesError> {
        let export = match collected {
            Collected::Nothing => return Ok(None),
            Collected::Preview { results, .. } => {
                return Ok(Some((Value::Array(results.into_iter().flatten().flatten().collect()), Vec::new())));
            }
            Collected::Export(export) => export,
        };
        if export.broken {
            return Err(writer_failed("an earlier write of the Map Run's results failed"));
        }
        let to = &export.destination;
        let mut pending = Stream::new("PENDING", export.succeeded.body.json_lines());
        let mut written = Ok(());
        for (input, _) in inputs.texts().zip(&export.ended).filter(|(_, ended)| !**ended) {
            written = pending.push(self, to, &json!({"Input": input, "Status": "PENDING"})).await;
            if written.is_err() {
                break;
            }
        }
        let mut files = Vec::new();
        let mut streams = [export.succeeded, export.failed, pending];
        if written.is_ok() {
            for stream in &mut streams {
                match stream.finish(self, to).await {
                    Ok(made) => files.extend(made),
                    Err(error) => {
                        written = Err(error);
                        break;
                    }
                }
            }
        }
        if written.is_err() {
            for stream in &mut streams {
                stream.abandon(self, to).await;
            }
        }
        written?;
        let manifest_key = format!("{}manifest.json", to.folder);
        let manifest = manifest(&to.bucket, map_run_arn, &files).to_string();
        self.result_call(to, "putObject", json!({"Key": manifest_key, "Body": manifest})).await?;
        let result =
            json!({"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": to.bucket, "Key": manifest_key}});
        files.retain(|f| f.status == "SUCCEEDED");
        Ok(Some((result, files)))
    }

    /// One S3 call of the ResultWriter (`arn:aws:states:::s3:<action>`) on its bucket; a
    /// failure is `States.ResultWriterFailed`.
    async fn result_call(&self, to: &Destination, action: &str, mut arguments: Value) -> Result<Value, StatesError> {
        let key = arguments["Key"].as_str().unwrap_or_default().to_owned();
        arguments["Bucket"] = json!(to.bucket);
        let resource = format!("arn:aws:states:::s3:{action}");
        let answer = self.s3_call(&to.state, &resource, arguments).await;
        answer.map_err(|e| writer_failed(format!("writing s3://{}/{key} ({action}): {e}", to.bucket)))
    }
}
