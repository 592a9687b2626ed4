//! Reading a catalog table's files into Arrow, the way Athena's SerDes read them.
//!
//! - Delimited text (LazySimpleSerDe): fields split on `field.delim` (default `\001`), `\N`
//!   (or `serialization.null.format`) is NULL, and a value that does not parse as its
//!   column's type (an empty field in an int column, `-` in a bigint one) is NULL.
//!   Missing trailing fields are NULL, extra ones ignored.
//! - Quoted CSV (OpenCSVSerde): `separatorChar`, `quoteChar`, `escapeChar`; values then
//!   parse as above.
//! - JSON (Hive and OpenX JsonSerDe): one object per line, keys matched case-insensitively.
//! - Parquet: columns matched by name and cast to the declared type.
//!
//! `skip.header.line.count` skips lines at the start of every file; `.gz` files are
//! decompressed; files whose names start with `_` or `.` are hidden, as in Hive. Partition
//! columns come from `key=value/` folders under the location and from partitions added with
//! `ALTER TABLE … ADD PARTITION`. Only the columns a query reads are parsed, files are read
//! in parallel, and nothing outside the data root is read.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    Int8Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder, new_null_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use serde_json::Value;

use super::ddl::{Format, HiveType, TableDef};
use sfnlite_states::timestamp::days_from_civil;

use crate::s3::{LocalS3, S3Url, percent_decode};

const BATCH_ROWS: usize = 8192;

/// The Arrow type of a Hive column type.
pub fn arrow_type(ty: &HiveType) -> DataType {
    match ty {
        HiveType::Boolean => DataType::Boolean,
        HiveType::TinyInt => DataType::Int8,
        HiveType::SmallInt => DataType::Int16,
        HiveType::Int => DataType::Int32,
        HiveType::BigInt => DataType::Int64,
        HiveType::Float => DataType::Float32,
        HiveType::Double => DataType::Float64,
        HiveType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
        HiveType::String { .. } => DataType::Utf8,
        HiveType::Binary => DataType::Binary,
        HiveType::Date => DataType::Date32,
        HiveType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        HiveType::Array { element } => DataType::List(Arc::new(Field::new("item", arrow_type(element), true))),
        HiveType::Map { key, value } => DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", arrow_type(key), false),
                    Field::new("value", arrow_type(value), true),
                ])),
                false,
            )),
            false,
        ),
        HiveType::Struct { fields } => DataType::Struct(Fields::from(
            fields.iter().map(|(name, ty)| Field::new(name, arrow_type(ty), true)).collect::<Vec<_>>(),
        )),
    }
}

/// What one query's scans may take. A table's files are read into memory when the query
/// is planned (outside DataFusion's memory pool), so the rows they give are counted here
/// against the workgroup's memory limit, a file is not read (nor gunzipped) past what is
/// left, and every batch checks the query's deadline: a query stops at its limits even
/// while its tables are read, on reader threads of their own.
#[derive(Debug)]
pub struct ScanBudget {
    memory_bytes: u64,
    left: AtomicI64,
    deadline: Instant,
}

/// What a scan error says when the deadline passed (`EXCEEDED_TIME_LIMIT` follows).
pub const SCAN_DEADLINE: &str = "the query's time limit passed while its tables were read";

impl ScanBudget {
    /// `memory_bytes` for the rows read, until `deadline`.
    pub fn new(memory_bytes: u64, deadline: Instant) -> ScanBudget {
        ScanBudget { memory_bytes, left: AtomicI64::new(i64::try_from(memory_bytes).unwrap_or(i64::MAX)), deadline }
    }

    fn check_time(&self) -> DfResult<()> {
        if Instant::now() >= self.deadline {
            return Err(DataFusionError::Execution(SCAN_DEADLINE.into()));
        }
        Ok(())
    }

    fn exhausted(&self, what: &str) -> DataFusionError {
        DataFusionError::ResourcesExhausted(format!(
            "{what} is more than the query may hold ({} MiB, the workgroup's memory_limit_mib)",
            self.memory_bytes >> 20
        ))
    }

    /// Counts a batch read (and checks the time).
    fn charge(&self, batch: &RecordBatch) -> DfResult<()> {
        self.check_time()?;
        let size = i64::try_from(used_bytes(batch)).unwrap_or(i64::MAX);
        if self.left.fetch_sub(size, Ordering::Relaxed) < size {
            return Err(self.exhausted("the rows its tables gave"));
        }
        Ok(())
    }

    /// The most bytes one file may take while it is read (what is left).
    fn room(&self) -> u64 {
        u64::try_from(self.left.load(Ordering::Relaxed).max(0)).unwrap_or(0)
    }
}

/// The bytes a batch's values take (not its buffers' spare capacity).
pub fn used_bytes(batch: &RecordBatch) -> usize {
    // View types keep their text in buffers the slice size leaves out: counted whole.
    batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Utf8View | DataType::BinaryView => c.get_array_memory_size(),
            _ => c.to_data().get_slice_memory_size().unwrap_or_else(|_| c.get_array_memory_size()),
        })
        .sum()
}

/// A catalog table as a DataFusion table.
#[derive(Debug)]
pub struct HiveTable {
    def: TableDef,
    schema: SchemaRef,
    store: LocalS3,
    scanned_bytes: Arc<AtomicU64>,
    budget: Arc<ScanBudget>,
}

impl HiveTable {
    /// The table `def`, whose files are in `store`; bytes read are added to `scanned_bytes`,
    /// and the rows read are charged to the query's `budget`.
    pub fn new(def: TableDef, store: LocalS3, scanned_bytes: Arc<AtomicU64>, budget: Arc<ScanBudget>) -> HiveTable {
        let fields: Vec<Field> = def
            .columns
            .iter()
            .chain(&def.partition_keys)
            .map(|c| Field::new(&c.name, arrow_type(&c.ty), true))
            .collect();
        HiveTable { schema: Arc::new(Schema::new(fields)), def, store, scanned_bytes, budget }
    }
}

/// One file to read, with its partition values (in partition key order).
#[derive(Debug, Clone)]
struct DataFile {
    path: PathBuf,
    partition_values: Vec<String>,
}

fn hidden(name: &str) -> bool {
    name.starts_with('_') || name.starts_with('.') || name.ends_with(".sfnlite-tmp")
}

/// Every visible file under `dir`, recursively, sorted.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = match fs::read_dir(dir) {
        Ok(entries) => entries.collect::<Result<_, _>>()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if hidden(&name) {
            continue;
        }
        let path = entry.path();
        // Links are not followed: they could lead out of the data root (as for S3).
        let file_type = entry.file_type()?;
        if file_type.is_symlink() {
            continue;
        }
        if file_type.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Partition folders `k1=v1/k2=v2/…` under `dir`, for the given keys in order.
fn discover_partitions(dir: &Path, keys: &[String], values: &mut Vec<String>, out: &mut Vec<(Vec<String>, PathBuf)>) {
    let Some((key, rest)) = keys.split_first() else {
        out.push((values.clone(), dir.to_path_buf()));
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((k, v)) = name.split_once('=')
            && k.eq_ignore_ascii_case(key)
            && entry.file_type().is_ok_and(|t| t.is_dir())
        {
            values.push(percent_decode(v));
            discover_partitions(&entry.path(), rest, values, out);
            values.pop();
        }
    }
}

impl HiveTable {
    fn local_dir(&self, location: &str) -> DfResult<PathBuf> {
        let url = S3Url::parse(location)
            .ok_or_else(|| DataFusionError::Plan(format!("HIVE_INVALID_METADATA: bad location '{location}'")))?;
        self.store
            .path_of(&url.bucket, &url.key)
            .map_err(|e| DataFusionError::Plan(format!("HIVE_PATH_ALREADY_EXISTS: location {location}: {e}")))
    }

    fn data_files(&self) -> DfResult<Vec<DataFile>> {
        let root = self.local_dir(&self.def.location)?;
        let io = |e: std::io::Error| DataFusionError::Execution(format!("HIVE_CANNOT_OPEN_SPLIT: {e}"));
        let mut files = Vec::new();
        if self.def.partition_keys.is_empty() {
            let mut paths = Vec::new();
            files_under(&root, &mut paths).map_err(io)?;
            files.extend(paths.into_iter().map(|path| DataFile { path, partition_values: Vec::new() }));
            return Ok(files);
        }
        let keys: Vec<String> = self.def.partition_keys.iter().map(|c| c.name.clone()).collect();
        let mut partitions = Vec::new();
        discover_partitions(&root, &keys, &mut Vec::new(), &mut partitions);
        for (values, location) in &self.def.partitions {
            let dir = self.local_dir(location)?;
            if !partitions.iter().any(|(v, _)| v == values) {
                partitions.push((values.clone(), dir));
            }
        }
        for (values, dir) in partitions {
            let mut paths = Vec::new();
            files_under(&dir, &mut paths).map_err(io)?;
            files.extend(paths.into_iter().map(|path| DataFile { path, partition_values: values.clone() }));
        }
        Ok(files)
    }
}

#[async_trait]
impl TableProvider for HiveTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let projection: Vec<usize> = projection.cloned().unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let projected = Arc::new(self.schema.project(&projection)?);
        let files = self.data_files()?;
        let reader = Reader::new(&self.def, &projection, projected.clone(), &self.budget);
        let limit = if filters.is_empty() { limit } else { None };
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(files.len().max(1));
        let next = AtomicUsize::new(0);
        let rows = AtomicUsize::new(0);
        let partitions: Vec<DfResult<Vec<RecordBatch>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut batches = Vec::new();
                        loop {
                            if limit.is_some_and(|l| rows.load(Ordering::Relaxed) >= l) {
                                break;
                            }
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(file) = files.get(i) else { break };
                            let (read, size) = reader.read_file(file)?;
                            self.scanned_bytes.fetch_add(size, Ordering::Relaxed);
                            rows.fetch_add(read.iter().map(RecordBatch::num_rows).sum(), Ordering::Relaxed);
                            batches.extend(read);
                        }
                        Ok(batches)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(DataFusionError::Execution("a reader thread failed".into()))))
                .collect()
        });
        let partitions: Vec<Vec<RecordBatch>> = partitions.into_iter().collect::<DfResult<_>>()?;
        Ok(MemorySourceConfig::try_new_exec(&partitions, projected, None)?)
    }
}

/// Reads the bytes of one data file named `name` (`.gz` is gunzipped) as the table `def`
/// reads its files, every column projected, within `memory_bytes` and `time`; the rows
/// read, or the error a query would end with. For the fuzz target (`fuzz/src/services.rs`);
/// queries read through [`HiveTable`].
pub fn decode_file(
    def: &TableDef,
    name: &str,
    bytes: Vec<u8>,
    memory_bytes: u64,
    time: Duration,
) -> Result<usize, String> {
    let fields: Vec<Field> = def.columns.iter().map(|c| Field::new(&c.name, arrow_type(&c.ty), true)).collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let projection: Vec<usize> = (0..def.columns.len()).collect();
    let budget = ScanBudget::new(memory_bytes, Instant::now() + time);
    let reader = Reader::new(def, &projection, schema, &budget);
    let file = DataFile { path: PathBuf::from(name), partition_values: Vec::new() };
    let batches = reader.decode(&file, bytes).map_err(|e| e.to_string())?;
    Ok(batches.iter().map(RecordBatch::num_rows).sum())
}

/// What a scan reads: the projected columns, split into data and partition columns.
struct Reader<'a> {
    def: &'a TableDef,
    budget: &'a ScanBudget,
    schema: SchemaRef,
    /// For each projected column: its index among the data columns, or among the partition keys.
    sources: Vec<Source>,
    skip_lines: usize,
    null_format: String,
    delimiter: u8,
    escape: Option<u8>,
}

#[derive(Clone, Copy)]
enum Source {
    Data(usize),
    Partition(usize),
}

fn bad_data(file: &Path, message: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("HIVE_BAD_DATA: {message} (file {})", file.display()))
}

fn first_byte(text: Option<&String>, default: u8) -> u8 {
    text.and_then(|s| s.chars().next()).map(|c| if c.is_ascii() { c as u8 } else { default }).unwrap_or(default)
}

impl<'a> Reader<'a> {
    fn new(def: &'a TableDef, projection: &[usize], schema: SchemaRef, budget: &'a ScanBudget) -> Reader<'a> {
        let data = def.columns.len();
        let sources =
            projection.iter().map(|&i| if i < data { Source::Data(i) } else { Source::Partition(i - data) }).collect();
        let params = &def.serde_parameters;
        let delimiter = match def.format {
            Format::OpenCsv => first_byte(params.get("separatorChar"), b','),
            _ => first_byte(params.get("field.delim").or_else(|| params.get("serialization.format")), 1),
        };
        let escape = match def.format {
            Format::OpenCsv => Some(first_byte(params.get("escapeChar"), b'\\')),
            _ => params.get("escape.delim").map(|s| first_byte(Some(s), b'\\')),
        };
        Reader {
            def,
            budget,
            schema,
            sources,
            skip_lines: def.parameters.get("skip.header.line.count").and_then(|n| n.trim().parse().ok()).unwrap_or(0),
            null_format: params.get("serialization.null.format").cloned().unwrap_or_else(|| "\\N".to_owned()),
            delimiter,
            escape,
        }
    }

    /// Reads one file: its batches and its size on disk.
    fn read_file(&self, file: &DataFile) -> DfResult<(Vec<RecordBatch>, u64)> {
        self.budget.check_time()?;
        let length = fs::metadata(&file.path).map(|m| m.len()).unwrap_or(0);
        if length > self.budget.room() {
            return Err(self.budget.exhausted(&format!("the file {} ({length} bytes)", file.path.display())));
        }
        let raw = fs::read(&file.path).map_err(|e| bad_data(&file.path, format!("cannot read: {e}")))?;
        let size = raw.len() as u64;
        Ok((self.decode(file, raw)?, size))
    }

    /// A data file's bytes (as read from disk) as record batches: gunzipped when its name
    /// ends in `.gz`, then parsed as the table's format says.
    fn decode(&self, file: &DataFile, raw: Vec<u8>) -> DfResult<Vec<RecordBatch>> {
        if self.def.format == Format::Parquet {
            return self.read_parquet(file, raw);
        }
        let name = file.path.to_string_lossy();
        let bytes = if name.ends_with(".gz") {
            // Gunzipped only as far as the budget goes (a small file can hold a huge text).
            let room = self.budget.room();
            let mut out = Vec::with_capacity((raw.len() * 8).min(usize::try_from(room).unwrap_or(usize::MAX)));
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .take(room.saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|e| bad_data(&file.path, format!("not a gzip file: {e}")))?;
            if out.len() as u64 > room {
                return Err(self.budget.exhausted(&format!("the file {} gunzipped", file.path.display())));
            }
            out
        } else if [".bz2", ".zst", ".snappy", ".lz4", ".deflate"].iter().any(|ext| name.ends_with(ext)) {
            return Err(bad_data(&file.path, "sfnlite reads only uncompressed and gzip (.gz) text files"));
        } else {
            raw
        };
        match self.def.format {
            Format::Delimited => self.read_delimited(file, &bytes),
            Format::OpenCsv => self.read_csv(file, &bytes),
            Format::Json => self.read_json(file, &bytes),
            Format::Parquet => unreachable!("handled above"),
        }
    }

    fn lines<'b>(&self, bytes: &'b [u8]) -> impl Iterator<Item = &'b [u8]> {
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let empty = bytes.is_empty();
        bytes
            .split(|b| *b == b'\n')
            .filter(move |_| !empty)
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .skip(self.skip_lines)
    }

    fn builders(&self) -> Vec<Option<CellBuilder>> {
        self.sources
            .iter()
            .map(|s| match s {
                Source::Data(i) => Some(CellBuilder::new(&self.def.columns[*i].ty)),
                Source::Partition(_) => None,
            })
            .collect()
    }

    /// Finishes the builders into a batch, filling partition columns.
    fn finish(&self, file: &DataFile, builders: &mut [Option<CellBuilder>], rows: usize) -> DfResult<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(builders.len());
        for (i, (builder, source)) in builders.iter_mut().zip(&self.sources).enumerate() {
            columns.push(match (builder, source) {
                (Some(b), _) => b.finish(),
                (None, Source::Partition(k)) => {
                    let ty = &self.def.partition_keys[*k].ty;
                    let mut b = CellBuilder::new(ty);
                    for _ in 0..rows {
                        b.push_text(file.partition_values.get(*k).map(String::as_bytes), &self.null_format)?;
                    }
                    b.finish()
                }
                (None, Source::Data(_)) => new_null_array(self.schema.field(i).data_type(), rows),
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?)
    }

    fn read_delimited(&self, file: &DataFile, bytes: &[u8]) -> DfResult<Vec<RecordBatch>> {
        let mut wanted: Vec<Option<usize>> = vec![None; self.def.columns.len()];
        for (slot, source) in self.sources.iter().enumerate() {
            if let Source::Data(i) = source {
                wanted[*i] = Some(slot);
            }
        }
        let last_wanted = wanted.iter().rposition(Option::is_some);
        let mut out = Batcher::new(self, file);
        let mut unescaped = Vec::new();
        for line in self.lines(bytes) {
            let mut filled = 0;
            if let Some(last) = last_wanted {
                for (index, field) in split_fields(line, self.delimiter, self.escape).enumerate() {
                    if index > last {
                        break;
                    }
                    if let Some(slot) = wanted[index] {
                        let field = match self.escape {
                            Some(escape) if field.contains(&escape) => {
                                unescape(field, escape, &mut unescaped);
                                unescaped.as_slice()
                            }
                            _ => field,
                        };
                        if let Some(b) = out.builders[slot].as_mut() {
                            b.push_text(Some(field), &self.null_format)?;
                        }
                        filled = index + 1;
                    }
                }
                // Missing trailing fields are NULL.
                for slot in wanted[filled.min(wanted.len())..].iter().flatten() {
                    if let Some(b) = out.builders[*slot].as_mut() {
                        b.push_text(None, &self.null_format)?;
                    }
                }
            }
            out.end_row()?;
        }
        out.finish()
    }

    fn read_csv(&self, file: &DataFile, bytes: &[u8]) -> DfResult<Vec<RecordBatch>> {
        let params = &self.def.serde_parameters;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .quote(first_byte(params.get("quoteChar"), b'"'))
            .escape(self.escape)
            .double_quote(true)
            .from_reader(bytes);
        let mut out = Batcher::new(self, file);
        let mut record = csv::ByteRecord::new();
        let mut skipped = 0;
        while reader.read_byte_record(&mut record).map_err(|e| bad_data(&file.path, e))? {
            if skipped < self.skip_lines {
                skipped += 1;
                continue;
            }
            for (slot, source) in self.sources.iter().enumerate() {
                if let (Source::Data(i), Some(b)) = (source, out.builders[slot].as_mut()) {
                    b.push_text(record.get(*i), &self.null_format)?;
                }
            }
            out.end_row()?;
        }
        out.finish()
    }

    fn read_json(&self, file: &DataFile, bytes: &[u8]) -> DfResult<Vec<RecordBatch>> {
        let mut out = Batcher::new(self, file);
        let ignore_malformed = self.def.serde_parameters.get("ignore.malformed.json").is_some_and(|v| v == "true");
        for (number, line) in self.lines(bytes).enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let object = match serde_json::from_slice::<Value>(line) {
                Ok(Value::Object(map)) => map,
                Ok(_) | Err(_) if ignore_malformed => continue,
                Ok(_) => return Err(bad_data(&file.path, format!("line {}: not a JSON object", number + 1))),
                Err(e) => return Err(bad_data(&file.path, format!("line {}: {e}", number + 1))),
            };
            for (slot, source) in self.sources.iter().enumerate() {
                if let (Source::Data(i), Some(b)) = (source, out.builders[slot].as_mut()) {
                    let name = &self.def.columns[*i].name;
                    let value = object
                        .get(name)
                        .or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v));
                    b.push_json(value, &self.null_format)?;
                }
            }
            out.end_row()?;
        }
        out.finish()
    }

    fn read_parquet(&self, file: &DataFile, raw: Vec<u8>) -> DfResult<Vec<RecordBatch>> {
        use datafusion::parquet::arrow::ProjectionMask;
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        // The footer's metadata is read on a thread of its own: a malformed footer can claim
        // lists so long that reading it takes seconds, and nothing inside can be stopped. Past
        // the deadline the query goes on without it (the thread ends when the read does).
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("parquet-footer".into())
            .spawn(move || {
                let _ = sender.send(ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(raw)));
            })
            .map_err(|e| bad_data(&file.path, format!("cannot start a reader: {e}")))?;
        let wait = self.budget.deadline.saturating_duration_since(Instant::now());
        let builder = receiver
            .recv_timeout(wait)
            .map_err(|_| DataFusionError::Execution(SCAN_DEADLINE.into()))?
            .map_err(|e| bad_data(&file.path, format!("not a Parquet file: {e}")))?;
        let file_schema = builder.schema().clone();
        // Columns are matched by name, case-insensitively, as Athena does for Parquet.
        let mut roots = Vec::new();
        let positions: Vec<Option<usize>> = self
            .sources
            .iter()
            .map(|s| match s {
                Source::Data(i) => {
                    let name = &self.def.columns[*i].name;
                    let found = file_schema.fields().iter().position(|f| f.name().eq_ignore_ascii_case(name));
                    if let Some(p) = found {
                        roots.push(p);
                    }
                    found
                }
                Source::Partition(_) => None,
            })
            .collect();
        roots.sort_unstable();
        roots.dedup();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
        let reader =
            builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| bad_data(&file.path, e))?;
        let mut batches = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| bad_data(&file.path, e))?;
            let rows = batch.num_rows();
            let mut columns: Vec<ArrayRef> = Vec::new();
            for (slot, source) in self.sources.iter().enumerate() {
                let target = self.schema.field(slot).data_type();
                let column = match (source, positions[slot]) {
                    (Source::Data(_), Some(p)) => {
                        let name = file_schema.field(p).name();
                        let array = batch.column_by_name(name).cloned().unwrap_or_else(|| new_null_array(target, rows));
                        cast(&array, target).map_err(|e| {
                            DataFusionError::Execution(format!(
                                "HIVE_BAD_DATA: column '{}' cannot be read as {target}: {e} (file {})",
                                self.schema.field(slot).name(),
                                file.path.display()
                            ))
                        })?
                    }
                    (Source::Data(_), None) => new_null_array(target, rows),
                    (Source::Partition(k), _) => {
                        let mut b = CellBuilder::new(&self.def.partition_keys[*k].ty);
                        for _ in 0..rows {
                            b.push_text(file.partition_values.get(*k).map(String::as_bytes), &self.null_format)?;
                        }
                        b.finish()
                    }
                };
                columns.push(column);
            }
            let options = RecordBatchOptions::new().with_row_count(Some(rows));
            let batch = RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?;
            self.budget.charge(&batch)?;
            batches.push(batch);
        }
        Ok(batches)
    }
}

/// Collects a file's rows into batches of [`BATCH_ROWS`].
struct Batcher<'r, 'a> {
    reader: &'r Reader<'a>,
    file: &'r DataFile,
    /// One builder per projected data column (`None` for partition columns).
    builders: Vec<Option<CellBuilder>>,
    rows: usize,
    batches: Vec<RecordBatch>,
}

impl<'r, 'a> Batcher<'r, 'a> {
    fn new(reader: &'r Reader<'a>, file: &'r DataFile) -> Batcher<'r, 'a> {
        Batcher { reader, file, builders: reader.builders(), rows: 0, batches: Vec::new() }
    }

    /// Counts a row whose cells have been pushed; a full batch is finished.
    fn end_row(&mut self) -> DfResult<()> {
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            let batch = self.reader.finish(self.file, &mut self.builders, self.rows)?;
            self.reader.budget.charge(&batch)?;
            self.batches.push(batch);
            self.rows = 0;
        }
        Ok(())
    }

    fn finish(mut self) -> DfResult<Vec<RecordBatch>> {
        if self.rows > 0 {
            let batch = self.reader.finish(self.file, &mut self.builders, self.rows)?;
            self.reader.budget.charge(&batch)?;
            self.batches.push(batch);
        }
        Ok(self.batches)
    }
}

/// Splits a line on `delimiter`, not splitting at an escaped delimiter.
fn split_fields(line: &[u8], delimiter: u8, escape: Option<u8>) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let mut i = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while i < line.len() {
            let b = line[i];
            if Some(b) == escape {
                i += 2;
                continue;
            }
            if b == delimiter {
                let field = &line[start..i];
                i += 1;
                start = i;
                return Some(field);
            }
            i += 1;
        }
        done = true;
        Some(&line[start.min(line.len())..])
    })
}

fn unescape(field: &[u8], escape: u8, out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < field.len() {
        if field[i] == escape && i + 1 < field.len() {
            out.push(match field[i + 1] {
                b't' => b'\t',
                b'n' => b'\n',
                b'r' => b'\r',
                other => other,
            });
            i += 2;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
}

fn parse_date(text: &str) -> Option<i32> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    if year.abs() > 5_879_610 {
        return None; // outside Date32
    }
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month {
        return None;
    }
    i32::try_from(days_from_civil(year, i64::from(month), i64::from(day))).ok()
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.fff…]` as epoch milliseconds.
fn parse_timestamp(text: &str) -> Option<i64> {
    let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00:00"));
    let days = i64::from(parse_date(date)?);
    let time = time.strip_suffix('Z').unwrap_or(time);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = hms.splitn(3, ':');
    // Unsigned: a sign is no time of day (fuzzing found `03:-5777…` overflowing).
    let h: u8 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let s: u8 = parts.next().unwrap_or("0").parse().ok()?;
    if h > 23 || m > 59 || s > 59 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    let seconds = (i64::from(h) * 60 + i64::from(m)) * 60 + i64::from(s);
    days.checked_mul(86_400_000)?.checked_add(seconds * 1000 + millis)
}

/// A decimal literal as an integer scaled by `scale`, if it fits in `precision` digits.
pub(crate) fn parse_decimal(text: &str, precision: u8, scale: i8) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = usize::try_from(scale).ok()?;
    let mut value: i128 = 0;
    for b in whole.bytes() {
        value = value.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    let mut fraction_digits = fraction.bytes();
    for _ in 0..scale {
        let digit = fraction_digits.next().map(|b| b - b'0').unwrap_or(0);
        value = value.checked_mul(10)?.checked_add(i128::from(digit))?;
    }
    // Round half up on the first dropped digit.
    if fraction_digits.next().is_some_and(|b| b >= b'5') {
        value += 1;
    }
    if value >= 10i128.pow(u32::from(precision)) {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// Builds one column from text cells (or JSON values), with Hive's NULL rules.
enum CellBuilder {
    Boolean(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMillisecondBuilder),
    /// Complex types: JSON values, decoded at the end by Arrow's JSON reader.
    Complex(DataType, Vec<Value>),
}

impl CellBuilder {
    fn new(ty: &HiveType) -> CellBuilder {
        match ty {
            HiveType::Boolean => CellBuilder::Boolean(BooleanBuilder::new()),
            HiveType::TinyInt => CellBuilder::Int8(Int8Builder::new()),
            HiveType::SmallInt => CellBuilder::Int16(Int16Builder::new()),
            HiveType::Int => CellBuilder::Int32(Int32Builder::new()),
            HiveType::BigInt => CellBuilder::Int64(Int64Builder::new()),
            HiveType::Float => CellBuilder::Float32(Float32Builder::new()),
            HiveType::Double => CellBuilder::Float64(Float64Builder::new()),
            HiveType::Decimal { precision, scale } => CellBuilder::Decimal(
                Decimal128Builder::new().with_precision_and_scale(*precision, *scale).unwrap_or_default(),
                *precision,
                *scale,
            ),
            HiveType::String { .. } => CellBuilder::Utf8(StringBuilder::new()),
            HiveType::Binary => CellBuilder::Binary(BinaryBuilder::new()),
            HiveType::Date => CellBuilder::Date(Date32Builder::new()),
            HiveType::Timestamp => CellBuilder::Timestamp(TimestampMillisecondBuilder::new()),
            complex => CellBuilder::Complex(arrow_type(complex), Vec::new()),
        }
    }

    /// Appends a text cell; `None` (a missing field) and the NULL format are NULL.
    fn push_text(&mut self, cell: Option<&[u8]>, null_format: &str) -> DfResult<()> {
        let cell = cell.filter(|c| *c != null_format.as_bytes());
        let text = cell.map(String::from_utf8_lossy);
        let trimmed = text.as_deref().map(str::trim);
        fn num<T: std::str::FromStr>(t: Option<&str>) -> Option<T> {
            t.and_then(|t| t.parse().ok())
        }
        match self {
            CellBuilder::Boolean(b) => b.append_option(trimmed.and_then(|t| {
                if t.eq_ignore_ascii_case("true") {
                    Some(true)
                } else if t.eq_ignore_ascii_case("false") {
                    Some(false)
                } else {
                    None
                }
            })),
            CellBuilder::Int8(b) => b.append_option(num(trimmed)),
            CellBuilder::Int16(b) => b.append_option(num(trimmed)),
            CellBuilder::Int32(b) => b.append_option(num(trimmed)),
            CellBuilder::Int64(b) => b.append_option(num(trimmed)),
            CellBuilder::Float32(b) => {
                b.append_option(num::<f32>(trimmed).filter(|_| trimmed.is_some_and(is_float_text)))
            }
            CellBuilder::Float64(b) => {
                b.append_option(num::<f64>(trimmed).filter(|_| trimmed.is_some_and(is_float_text)))
            }
            CellBuilder::Decimal(b, p, s) => b.append_option(trimmed.and_then(|t| parse_decimal(t, *p, *s))),
            CellBuilder::Utf8(b) => b.append_option(text.as_deref()),
            CellBuilder::Binary(b) => b.append_option(cell),
            CellBuilder::Date(b) => b.append_option(trimmed.and_then(parse_date)),
            CellBuilder::Timestamp(b) => b.append_option(trimmed.and_then(parse_timestamp)),
            CellBuilder::Complex(_, values) => {
                values.push(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null))
            }
        }
        Ok(())
    }

    /// Appends a JSON value: scalars convert as text does, strings in string columns stay as
    /// they are, and objects or arrays in string columns become their JSON text.
    fn push_json(&mut self, value: Option<&Value>, null_format: &str) -> DfResult<()> {
        match (self, value) {
            (CellBuilder::Complex(_, values), v) => {
                values.push(v.cloned().unwrap_or(Value::Null));
                Ok(())
            }
            (b, None | Some(Value::Null)) => b.push_text(None, null_format),
            (CellBuilder::Utf8(b), Some(Value::String(s))) => {
                b.append_value(s);
                Ok(())
            }
            (b, Some(Value::String(s))) => b.push_text(Some(s.as_bytes()), null_format),
            (b, Some(other)) => b.push_text(Some(other.to_string().as_bytes()), null_format),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            CellBuilder::Boolean(b) => Arc::new(b.finish()),
            CellBuilder::Int8(b) => Arc::new(b.finish()),
            CellBuilder::Int16(b) => Arc::new(b.finish()),
            CellBuilder::Int32(b) => Arc::new(b.finish()),
            CellBuilder::Int64(b) => Arc::new(b.finish()),
            CellBuilder::Float32(b) => Arc::new(b.finish()),
            CellBuilder::Float64(b) => Arc::new(b.finish()),
            CellBuilder::Decimal(b, p, s) => {
                let array = b.finish();
                Arc::new(array.with_precision_and_scale(*p, *s).unwrap_or_else(|_| b.finish()))
            }
            CellBuilder::Utf8(b) => Arc::new(b.finish()),
            CellBuilder::Binary(b) => Arc::new(b.finish()),
            CellBuilder::Date(b) => Arc::new(b.finish()),
            CellBuilder::Timestamp(b) => Arc::new(b.finish()),
            CellBuilder::Complex(ty, values) => complex_array(ty, std::mem::take(values)),
        }
    }
}

fn is_float_text(text: &str) -> bool {
    // Rust also parses "inf" and "nan" spellings Hive does not; Hive reads NaN and Infinity.
    let lower = text.to_ascii_lowercase();
    (text == "NaN" || lower != "nan") && (lower.contains("infinity") || !lower.contains("inf"))
}

/// Decodes JSON values into an array of a complex type; values that do not fit are NULL.
fn complex_array(ty: &DataType, values: Vec<Value>) -> ArrayRef {
    use datafusion::arrow::json::ReaderBuilder;
    let field = Arc::new(Field::new("v", ty.clone(), true));
    let schema = Arc::new(Schema::new(vec![field]));
    let decode = |rows: &[Value]| -> Option<ArrayRef> {
        let mut decoder = ReaderBuilder::new(schema.clone()).with_coerce_primitive(true).build_decoder().ok()?;
        decoder.serialize(rows).ok()?;
        decoder.flush().ok()?.map(|batch| batch.column(0).clone())
    };
    let rows: Vec<Value> = values.iter().map(|v| serde_json::json!({ "v": v })).collect();
    if rows.is_empty() {
        return new_null_array(ty, 0);
    }
    if let Some(array) = decode(&rows) {
        return array;
    }
    // Some value does not fit: decode one at a time and NULL the misfits.
    let arrays: Vec<ArrayRef> =
        rows.iter().map(|row| decode(std::slice::from_ref(row)).unwrap_or_else(|| new_null_array(ty, 1))).collect();
    let refs: Vec<&dyn datafusion::arrow::array::Array> = arrays.iter().map(|a| a.as_ref()).collect();
    datafusion::arrow::compute::concat(&refs).unwrap_or_else(|_| new_null_array(ty, rows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_follow_hive_rules() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5"), Some(1500));
        assert_eq!(parse_timestamp("2026-01-02T03:04:05Z"), Some(1_767_323_045_000));
        // Signs are no time of day (fuzzing found one that overflowed).
        assert_eq!(parse_timestamp("2026-01-02 03:-577777777777777777:00"), None);
        assert_eq!(parse_timestamp("2026-01-02 -1:00:00"), None);
        assert_eq!(parse_decimal("12.345", 10, 2), Some(1235));
        assert_eq!(parse_decimal("-0.1", 10, 1), Some(-1));
        assert_eq!(parse_decimal("123456", 5, 0), None);
        let fields: Vec<&[u8]> = split_fields(b"a\\,b,c,", b',', Some(b'\\')).collect();
        assert_eq!(fields, [b"a\\,b".as_slice(), b"c", b""]);
        let mut b = CellBuilder::new(&HiveType::Int);
        for cell in ["7", "", "-", "\\N", "x"] {
            b.push_text(Some(cell.as_bytes()), "\\N").unwrap();
        }
        let array = b.finish();
        assert_eq!(array.null_count(), 4);
    }
}
