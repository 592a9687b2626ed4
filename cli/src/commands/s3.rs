//! `sfnlite s3 cp|ls|cat|rm|mb`: the data tasks and Athena see, handled the way `aws s3` does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use sfnlite_adapters::s3::{ListRequest, ObjectStore, PutRequest, S3Error, S3Url};
use sfnlite_states::timestamp::format_millis;

use super::Failure;
use super::services::Services;
use crate::args::{S3Command, S3CpArgs};

fn url(text: &str) -> Result<S3Url, Failure> {
    S3Url::parse(text).ok_or_else(|| Failure::usage(anyhow!("'{text}' is not an s3://bucket/key address")))
}

fn s3_failure(what: &str, error: S3Error) -> Failure {
    Failure { error: anyhow!("{what}: {} ({})", error.message, error.code), exit_code: 1 }
}

fn content_type_of(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase().as_str() {
        "json" => "application/json",
        "csv" => "text/csv",
        "txt" | "log" | "sql" => "text/plain",
        "gz" => "application/gzip",
        "parquet" => "application/octet-stream",
        "html" => "text/html",
        _ => "binary/octet-stream",
    }
}

async fn list_all(
    store: &dyn ObjectStore,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
) -> Result<(Vec<(String, u64, i64)>, Vec<String>), S3Error> {
    let mut objects = Vec::new();
    let mut prefixes = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .list_objects(ListRequest {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                delimiter: delimiter.map(str::to_owned),
                max_keys: 1000,
                continuation_token: token.take(),
                start_after: None,
            })
            .await?;
        objects.extend(page.contents.into_iter().map(|o| (o.key, o.size, o.last_modified)));
        prefixes.extend(page.common_prefixes);
        match page.next_continuation_token {
            Some(next) => token = Some(next),
            None => return Ok((objects, prefixes)),
        }
    }
}

fn local_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            local_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

async fn upload(
    store: &dyn ObjectStore,
    file: &Path,
    target: &S3Url,
    content_type: Option<&str>,
) -> Result<(), Failure> {
    let body = std::fs::read(file).map_err(|e| Failure::usage(anyhow!("cannot read {}: {e}", file.display())))?;
    store
        .put_object(PutRequest {
            bucket: target.bucket.clone(),
            key: target.key.clone(),
            body,
            content_type: Some(content_type.unwrap_or_else(|| content_type_of(file)).to_owned()),
            metadata: Default::default(),
        })
        .await
        .map_err(|e| s3_failure(&format!("upload {} to {target}", file.display()), e))?;
    eprintln!("upload: {} to {target}", file.display());
    Ok(())
}

async fn download(store: &dyn ObjectStore, source: &S3Url, file: &Path) -> Result<(), Failure> {
    let (body, _) = store
        .get_object(&source.bucket, &source.key)
        .await
        .map_err(|e| s3_failure(&format!("download {source}"), e))?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Failure::usage(anyhow!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(file, body).map_err(|e| Failure::usage(anyhow!("cannot write {}: {e}", file.display())))?;
    eprintln!("download: {source} to {}", file.display());
    Ok(())
}

fn base_name(text: &str) -> &str {
    text.trim_end_matches('/').rsplit('/').next().unwrap_or(text)
}

async fn cp(store: &dyn ObjectStore, args: &S3CpArgs) -> Result<(), Failure> {
    let (source, destination) = (S3Url::parse(&args.source), S3Url::parse(&args.destination));
    let content_type = args.content_type.as_deref();
    match (source, destination) {
        (None, None) => Err(Failure::usage(anyhow!("one side of cp must be an s3:// address"))),
        (None, Some(target)) => {
            let path = PathBuf::from(&args.source);
            if args.recursive {
                let mut files = Vec::new();
                local_files(&path, &mut files)
                    .map_err(|e| Failure::usage(anyhow!("cannot read {}: {e}", path.display())))?;
                for file in files {
                    let relative = file.strip_prefix(&path).unwrap_or(&file).to_string_lossy().replace('\\', "/");
                    upload(store, &file, &target.join(&relative), content_type).await?;
                }
                Ok(())
            } else {
                let target = if target.key.is_empty() || target.key.ends_with('/') {
                    target.join(base_name(&args.source))
                } else {
                    target
                };
                upload(store, &path, &target, content_type).await
            }
        }
        (Some(source), None) => {
            let path = PathBuf::from(&args.destination);
            if args.recursive {
                let prefix = source.as_folder();
                let (objects, _) =
                    list_all(store, &prefix.bucket, &prefix.key, None).await.map_err(|e| s3_failure("list", e))?;
                for (key, _, _) in objects {
                    // A key that would land outside the destination folder is skipped, as `aws s3` does.
                    let relative = key.strip_prefix(prefix.key.as_str()).unwrap_or(&key);
                    let safe = !relative.is_empty()
                        && !relative.starts_with('/')
                        && relative.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
                    if !safe {
                        eprintln!(
                            "warning: skipping s3://{}/{key}: it would be written outside {}",
                            prefix.bucket,
                            path.display()
                        );
                        continue;
                    }
                    download(store, &S3Url { bucket: prefix.bucket.clone(), key: key.clone() }, &path.join(relative))
                        .await?;
                }
                Ok(())
            } else {
                let file = if path.is_dir() || args.destination.ends_with('/') {
                    path.join(base_name(&source.key))
                } else {
                    path
                };
                download(store, &source, &file).await
            }
        }
        (Some(source), Some(target)) => {
            let pairs = if args.recursive {
                let prefix = source.as_folder();
                let (objects, _) =
                    list_all(store, &prefix.bucket, &prefix.key, None).await.map_err(|e| s3_failure("list", e))?;
                objects
                    .into_iter()
                    .map(|(key, _, _)| {
                        let to = target.join(&key[prefix.key.len()..]);
                        (S3Url { bucket: prefix.bucket.clone(), key }, to)
                    })
                    .collect()
            } else {
                let to = if target.key.is_empty() || target.key.ends_with('/') {
                    target.join(base_name(&source.key))
                } else {
                    target
                };
                vec![(source, to)]
            };
            for (from, to) in pairs {
                store
                    .copy_object(&from.bucket, &from.key, &to.bucket, &to.key)
                    .await
                    .map_err(|e| s3_failure(&format!("copy {from} to {to}"), e))?;
                eprintln!("copy: {from} to {to}");
            }
            Ok(())
        }
    }
}

pub(crate) fn s3(command: S3Command, services: Services) -> Result<ExitCode, Failure> {
    let store = services.s3;
    sfnlite_adapters::service::handle().block_on(async move {
        let store = store.as_ref();
        let mut out = std::io::stdout().lock();
        match command {
            S3Command::Cp(args) => cp(store, &args).await?,
            S3Command::Ls(args) => match args.url {
                None => {
                    return Err(Failure::usage(anyhow!(
                        "give s3://bucket[/prefix] to list (use `sfnlite config` to see the data root)"
                    )));
                }
                Some(text) => {
                    let target = url(&text)?;
                    let delimiter = (!args.recursive).then_some("/");
                    let (objects, prefixes) = list_all(store, &target.bucket, &target.key, delimiter)
                        .await
                        .map_err(|e| s3_failure(&format!("list {target}"), e))?;
                    for prefix in prefixes {
                        let _ =
                            writeln!(out, "{:>30} PRE {}", "", &prefix[target.key.rfind('/').map_or(0, |i| i + 1)..]);
                    }
                    for (key, size, modified) in objects {
                        let shown = if args.recursive {
                            key.as_str()
                        } else {
                            &key[target.key.rfind('/').map_or(0, |i| i + 1)..]
                        };
                        let _ = writeln!(out, "{} {size:>10} {shown}", format_millis(modified));
                    }
                }
            },
            S3Command::Cat(arg) => {
                let target = url(&arg.url)?;
                let (body, _) = store
                    .get_object(&target.bucket, &target.key)
                    .await
                    .map_err(|e| s3_failure(&format!("read {target}"), e))?;
                let _ = out.write_all(&body);
            }
            S3Command::Rm(args) => {
                let target = url(&args.url)?;
                let keys = if args.recursive {
                    let (objects, _) =
                        list_all(store, &target.bucket, &target.key, None).await.map_err(|e| s3_failure("list", e))?;
                    objects.into_iter().map(|(k, _, _)| k).collect()
                } else {
                    vec![target.key.clone()]
                };
                for key in keys {
                    store
                        .delete_object(&target.bucket, &key)
                        .await
                        .map_err(|e| s3_failure(&format!("delete s3://{}/{key}", target.bucket), e))?;
                    eprintln!("delete: s3://{}/{key}", target.bucket);
                }
            }
            S3Command::Mb(arg) => {
                let target = url(&arg.url)?;
                store
                    .create_bucket(&target.bucket)
                    .await
                    .map_err(|e| s3_failure(&format!("make bucket {}", target.bucket), e))?;
                eprintln!("make_bucket: {}", target.bucket);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
